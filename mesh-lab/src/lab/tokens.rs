//! `mesh-lab token`: a JWT the running lab's sidecars verify. istiod fetches a RequestAuthentication's
//! `jwksUri` and inlines the key set into the sidecar's jwt_authn filter (pilot/pkg/model/jwks_resolver.go);
//! the lab resolves every `jwksUri` to the key set of its own issuer ([`crate::dataplane::issuer::Issuer`],
//! kept in the lab's directory), so the tokens it mints verify for the applied file's issuer — and nothing
//! from the internet is needed.
//!
//! `mesh-lab jwks set URI FILE`: the key set istiod would have fetched from `URI`, which the lab cannot
//! reach (a token signed elsewhere, e.g. the upstream tutorial's demo token, needs it). Checked as a key set
//! ([`crate::dataplane::issuer::check_key_set`]), kept by the lab and inlined for that `URI` on every
//! sidecar; the lab's own key set still answers every other `jwksUri`. `unset` removes it, `list` lists them.

use mesh_manifests::Resource;
use serde_json::{Map, Value};

use crate::lab::Lab;

/// What to mint: unset fields come from the applied objects.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// `iss`: default the issuer of the applied RequestAuthentication.
    pub issuer: Option<String>,
    /// `sub`: default the subject an applied AuthorizationPolicy's `requestPrincipals` names for that
    /// issuer (`<iss>/<sub>`), else the issuer itself (as Istio's demo token has it).
    pub subject: Option<String>,
    /// Lifetime (default one hour); negative for an already expired token.
    pub expires_in: Option<chrono::Duration>,
    /// More claims, each `KEY=VALUE` as `--claim` takes it (see [`extra_claims`]).
    pub claims: Vec<String>,
}

/// The claims the issuer sets itself, each with the option that sets it.
const OWN_CLAIMS: &[(&str, &str)] = &[
    ("iss", "--iss"),
    ("sub", "--sub"),
    ("exp", "--exp"),
    ("iat", "--exp"),
];

/// `--claim KEY=VALUE`s → the token's other claims. VALUE is a string (`role=customer`, the claim the
/// tutorial's role token has; commas are kept); a KEY given again makes a list
/// (`groups=group1 --claim groups=group2` → `["group1","group2"]`, which a `request.auth.claims[groups]`
/// rule matches by any element); a VALUE starting with `[` or `{` is JSON (a one-element list, or an
/// object for nested claims: `realm_access={"roles":["admin"]}` for `request.auth.claims[realm_access][roles]`).
pub fn extra_claims(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for pair in pairs {
        let Some((key, text)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("--claim {pair}: expected KEY=VALUE"));
        };
        if let Some((_, option)) = OWN_CLAIMS.iter().find(|(k, _)| *k == key) {
            return Err(format!(
                "--claim {pair}: the token's {key} is set by {option}"
            ));
        }
        let value = if text.starts_with(['[', '{']) {
            serde_json::from_str(text).map_err(|e| format!("--claim {pair}: not JSON: {e}"))?
        } else {
            Value::String(text.to_owned())
        };
        match out.get_mut(key) {
            None => {
                out.insert(key.to_owned(), value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
        }
    }
    Ok(out)
}

/// The issuer and subject a token gets, from the request and the applied objects.
pub fn claims(resources: &[Resource], req: &TokenRequest) -> Result<(String, String), String> {
    let issuer = match &req.issuer {
        Some(i) => i.clone(),
        None => {
            let mut issuers: Vec<String> = resources
                .iter()
                .filter_map(|r| match r {
                    Resource::RequestAuthentication(ra) => Some(ra),
                    _ => None,
                })
                .flat_map(|ra| ra.spec.jwt_rules.iter().flatten())
                .filter_map(|rule| rule.issuer.clone())
                .collect();
            issuers.sort();
            issuers.dedup();
            match issuers.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(
                        "no RequestAuthentication with a jwtRules issuer is applied: apply one \
                         (istio/request-authentication-customer-jwt.yml) or pass --iss"
                            .into(),
                    );
                }
                many => {
                    return Err(format!(
                        "the applied RequestAuthentications name several issuers ({}): pass --iss",
                        many.join(", ")
                    ));
                }
            }
        }
    };
    let subject = match &req.subject {
        Some(s) => s.clone(),
        None => resources
            .iter()
            .filter_map(|r| match r {
                Resource::AuthorizationPolicy(ap) => Some(ap),
                _ => None,
            })
            .flat_map(|ap| ap.spec.rules.iter().flatten())
            .flat_map(|rule| rule.from.iter().flatten())
            .filter_map(|from| from.source.as_ref())
            .flat_map(|s| s.request_principals.iter().flatten())
            .filter_map(|p| {
                // istiod splits a request principal at its last '/' (the issuer may be a URL).
                let (iss, sub) = p.rsplit_once('/')?;
                (iss == issuer && !sub.contains('*')).then(|| sub.to_owned())
            })
            .next()
            .unwrap_or_else(|| issuer.clone()),
    };
    Ok((issuer, subject))
}

impl Lab {
    /// A token for the applied RequestAuthentication's issuer (see [`TokenRequest`]), signed with the
    /// lab's key.
    pub async fn token(&self, req: &TokenRequest) -> anyhow::Result<String> {
        let resources = self.inner.lock().await.state.resources();
        let (iss, sub) = claims(&resources, req).map_err(|e| anyhow::anyhow!("{e}"))?;
        let extra = extra_claims(&req.claims).map_err(|e| anyhow::anyhow!("{e}"))?;
        let expires_in = req.expires_in.unwrap_or(chrono::Duration::hours(1));
        self.issuer
            .mint(&iss, &sub, expires_in, extra)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// How the trainer gets the key set the lab cannot fetch.
fn download_hint(uri: &str) -> String {
    format!(
        "download what {uri} serves on a machine with internet (curl -o FILE {uri}) and give that file"
    )
}

impl Lab {
    /// `mesh-lab jwks set URI FILE`: `text` (FILE's) becomes the key set inlined for `uri` on every sidecar.
    pub async fn set_jwks(&self, uri: &str, file: &str, text: &str) -> anyhow::Result<String> {
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            anyhow::bail!("{uri}: a jwksUri is an http:// or https:// URL");
        }
        let kids = crate::dataplane::issuer::check_key_set(text).map_err(|e| {
            anyhow::anyhow!(
                "{file}: not a JSON Web Key Set: {e}; {}",
                download_hint(uri)
            )
        })?;
        let mut inner = self.inner.lock().await;
        let before = inner.jwks.insert(uri.to_owned(), text.to_owned());
        let state = inner.state.clone();
        if let Err(e) = self.reconcile(&mut inner, state).await {
            match before {
                Some(b) => inner.jwks.insert(uri.to_owned(), b),
                None => inner.jwks.remove(uri),
            };
            return Err(e);
        }
        Ok(format!(
            "jwksUri {uri}: the key set of {file} (kid {}), inlined on every sidecar as istiod would after fetching it",
            kids.join(", ")
        ))
    }

    /// `mesh-lab jwks unset URI`: the lab's own key set answers `uri` again.
    pub async fn unset_jwks(&self, uri: &str) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let Some(before) = inner.jwks.remove(uri) else {
            anyhow::bail!("jwksUri {uri}: no key set was given for it (mesh-lab jwks list)");
        };
        let state = inner.state.clone();
        if let Err(e) = self.reconcile(&mut inner, state).await {
            inner.jwks.insert(uri.to_owned(), before);
            return Err(e);
        }
        Ok(format!(
            "jwksUri {uri}: the lab's own key set answers it again"
        ))
    }

    /// `mesh-lab jwks list`: each `jwksUri` given a key set and its keys' ids.
    pub async fn list_jwks(&self) -> String {
        let inner = self.inner.lock().await;
        if inner.jwks.is_empty() {
            return "no key set given: the lab's own key set answers every jwksUri".into();
        }
        inner
            .jwks
            .iter()
            .map(|(uri, text)| {
                let kids = crate::dataplane::issuer::check_key_set(text).unwrap_or_default();
                format!("{uri}  kid {}", kids.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_istiod::fixtures::istio;

    #[test]
    fn the_jwt_files_issuer_and_subject_are_the_defaults() {
        let r = istio("request-authentication-customer-jwt.yml");
        let (iss, sub) = claims(&r, &TokenRequest::default()).unwrap();
        assert_eq!(iss, "testing@secure.istio.io");
        assert_eq!(sub, "testing@secure.istio.io");
        let (_, sub) = claims(
            &r,
            &TokenRequest {
                subject: Some("alice".into()),
                ..TokenRequest::default()
            },
        )
        .unwrap();
        assert_eq!(sub, "alice");
    }

    #[test]
    fn claims_are_strings_lists_when_repeated_and_json_when_bracketed() {
        let pairs: Vec<String> = [
            "role=customer",
            "note=a,b",
            "groups=group1",
            "groups=group2",
            "groups=group3",
            "scope=[\"one\"]",
            "realm_access={\"roles\":[\"admin\"]}",
            "empty=",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            Value::Object(extra_claims(&pairs).unwrap()),
            serde_json::json!({
                "role": "customer", "note": "a,b", "groups": ["group1", "group2", "group3"],
                "scope": ["one"], "realm_access": {"roles": ["admin"]}, "empty": ""
            })
        );
        for (pair, err) in [
            ("role", "expected KEY=VALUE"),
            ("=x", "expected KEY=VALUE"),
            ("sub=bob", "set by --sub"),
            ("iat=1", "set by --exp"),
            ("roles=[admin]", "not JSON"),
        ] {
            let got = extra_claims(&[pair.to_owned()]).unwrap_err();
            assert!(got.contains(pair) && got.contains(err), "{pair}: {got}");
        }
    }

    #[test]
    fn without_a_request_authentication_the_issuer_must_be_given() {
        let err = claims(&[], &TokenRequest::default()).unwrap_err();
        assert!(err.contains("--iss"), "{err}");
        let (iss, sub) = claims(
            &[],
            &TokenRequest {
                issuer: Some("me".into()),
                ..TokenRequest::default()
            },
        )
        .unwrap();
        assert_eq!((iss.as_str(), sub.as_str()), ("me", "me"));
    }
}
