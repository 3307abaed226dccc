//! End-user authentication: RequestAuthentication → Envoy's `envoy.filters.http.jwt_authn` (the lab's own
//! token issuer, whose key set every `jwksUri` resolves to, is the runtime's: mesh-lab's `issuer`).
//!
//! The filter follows istiod's `convertToEnvoyJwtConfig` (pilot/pkg/security/authn/policy_applier.go):
//! one provider per JWT rule named `origins-<i>` after the rules of every selected RequestAuthentication
//! are sorted by issuer (`newPolicyApplier`); the payload goes to dynamic metadata under `payload`
//! (pilot/pkg/xds/filters/filters.go `EnvoyJwtFilterPayload`), which the RBAC filter's
//! `requestPrincipals` read; the requirement is `{provider OR allow_missing}` so a request without a
//! token reaches the authorization decision while a bad token is rejected with 401.
//!
//! Key sets: istiod fetches `jwksUri` itself and inlines the answer (`PILOT_JWT_ENABLE_REMOTE_JWKS`
//! defaults to `false`, i.e. istiod fetches; pilot/pkg/model/jwks_resolver.go `BuildLocalJwks`). The
//! lab has no network: every `jwksUri` is resolved by the caller's `jwks` function — the lab answers
//! with the key set the trainer gave for that URI (`mesh-lab jwks set`, what istiod would have fetched),
//! else with its own key set (configgen.rs `SidecarOf`: `fetched`, then `jwks`) — and an inline `jwks:`
//! is used as written.

use kcr_security_istio_io::v1::requestauthentications::{
    RequestAuthentication, RequestAuthenticationJwtRules,
};
use mesh_manifests::kcr_security_istio_io;
use serde_json::{Map, Value, json};

use crate::model::policy::{self, refuse};

/// The filter's name (pilot/pkg/security/model/authentication.go `EnvoyJwtFilterName`).
pub const JWT_FILTER: &str = "envoy.filters.http.jwt_authn";
/// Its configuration's type.
pub const JWT_AUTHN_TYPE_URL: &str =
    "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
/// Where the verified payload is kept in dynamic metadata (`EnvoyJwtFilterPayload`).
pub const PAYLOAD_KEY: &str = "payload";

/// Checks a RequestAuthentication against what [`jwt_authn_filter`] translates; the error names the field.
pub fn check_request_authentication(ra: &RequestAuthentication) -> Result<(), String> {
    policy::check_namespace(ra.metadata.namespace.as_deref())?;
    let spec = &ra.spec;
    policy::check_no_targets(&spec.target_ref, &spec.target_refs)?;
    for (i, r) in spec.jwt_rules.iter().flatten().enumerate() {
        let at = |f: &str| format!("spec.jwtRules.{i}.{f}");
        if r.issuer.as_deref().unwrap_or_default().is_empty() {
            return Err(format!("{}: an issuer is required", at("issuer")));
        }
        if r.jwks_uri_x.is_some() {
            return Err(refuse(&at("jwks_uri"), "use jwksUri"));
        }
        if r.timeout.is_some() {
            return Err(refuse(
                &at("timeout"),
                "it bounds istiod's fetch of jwksUri; the lab fetches nothing, it uses its own key set",
            ));
        }
        for (j, h) in r.from_headers.iter().flatten().enumerate() {
            if h.name.is_empty() {
                return Err(format!(
                    "{}: a header name is required",
                    at(&format!("fromHeaders.{j}.name"))
                ));
            }
        }
        if let Some(jwks) = &r.jwks
            && serde_json::from_str::<Value>(jwks).is_err()
        {
            return Err(format!("{}: not a JSON key set", at("jwks")));
        }
    }
    Ok(())
}

/// One provider, as `convertToEnvoyJwtConfig` fills `JwtProvider` (sidecars: `clear_route_cache` false).
fn provider(rule: &RequestAuthenticationJwtRules, jwks: &dyn Fn(&str, &str) -> String) -> Value {
    let issuer = rule.issuer.clone().unwrap_or_default();
    let mut p = Map::new();
    p.insert("issuer".into(), json!(issuer));
    if let Some(a) = rule.audiences.as_ref().filter(|a| !a.is_empty()) {
        p.insert("audiences".into(), json!(a));
    }
    if rule.forward_original_token == Some(true) {
        p.insert("forward".into(), json!(true));
    }
    if let Some(h) = rule
        .output_payload_to_header
        .as_ref()
        .filter(|h| !h.is_empty())
    {
        p.insert("forward_payload_header".into(), json!(h));
    }
    p.insert("payload_in_metadata".into(), json!(PAYLOAD_KEY));
    p.insert(
        "normalize_payload_in_metadata".into(),
        json!({"space_delimited_claims": space_delimited_claims(rule.space_delimited_claims.as_deref())}),
    );
    let claims: Vec<Value> = rule
        .output_claim_to_headers
        .iter()
        .flatten()
        .map(|c| json!({"header_name": c.header, "claim_name": c.claim}))
        .collect();
    if !claims.is_empty() {
        p.insert("claim_to_headers".into(), json!(claims));
    }
    let headers: Vec<Value> = rule
        .from_headers
        .iter()
        .flatten()
        .map(|h| match h.prefix.as_deref().filter(|p| !p.is_empty()) {
            Some(prefix) => json!({"name": h.name, "value_prefix": prefix}),
            None => json!({"name": h.name}),
        })
        .collect();
    if !headers.is_empty() {
        p.insert("from_headers".into(), json!(headers));
    }
    if let Some(params) = rule.from_params.as_ref().filter(|v| !v.is_empty()) {
        p.insert("from_params".into(), json!(params));
    }
    if let Some(cookies) = rule.from_cookies.as_ref().filter(|v| !v.is_empty()) {
        p.insert("from_cookies".into(), json!(cookies));
    }
    // BuildLocalJwks: an inline key set as given, else the (lab's) answer for jwksUri.
    let key_set = match rule.jwks.as_deref().filter(|j| !j.is_empty()) {
        Some(inline) => inline.to_owned(),
        None => jwks(&issuer, rule.jwks_uri.as_deref().unwrap_or_default()),
    };
    p.insert("local_jwks".into(), json!({"inline_string": key_set}));
    Value::Object(p)
}

/// `buildSpaceDelimitedClaims`: `permission` and `scope` always; with a list, the sorted union.
fn space_delimited_claims(extra: Option<&[String]>) -> Vec<String> {
    let mut claims = vec!["permission".to_owned(), "scope".to_owned()];
    if let Some(extra) = extra {
        claims.extend(extra.iter().cloned());
        claims.sort();
        claims.dedup();
    }
    claims
}

/// The jwt_authn filter for the RequestAuthentications that select a pod (`None` without JWT rules),
/// as istiod's `convertToEnvoyJwtConfig`: one provider `{origins-i OR allow_missing}`; several
/// providers `OR{origins-0, …, AND{OR{origins-0, allow_missing}, …}}`; `bypass_cors_preflight`.
pub fn jwt_authn_filter(
    policies: &[&RequestAuthentication],
    jwks: &dyn Fn(&str, &str) -> String,
) -> Option<Value> {
    let mut rules: Vec<&RequestAuthenticationJwtRules> = policies
        .iter()
        .flat_map(|p| p.spec.jwt_rules.iter().flatten())
        .collect();
    if rules.is_empty() {
        return None;
    }
    rules.sort_by(|a, b| a.issuer.cmp(&b.issuer));
    let mut providers = Map::new();
    let mut inner_and = Vec::new();
    let mut outer_or = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let name = format!("origins-{i}");
        providers.insert(name.clone(), provider(rule, jwks));
        inner_and.push(json!({"requires_any": {"requirements": [
            {"provider_name": name},
            {"allow_missing": {}}
        ]}}));
        outer_or.push(json!({"provider_name": name}));
    }
    let requires = if inner_and.len() == 1 {
        inner_and.remove(0)
    } else {
        outer_or.push(json!({"requires_all": {"requirements": inner_and}}));
        json!({"requires_any": {"requirements": outer_or}})
    };
    Some(json!({
        "name": JWT_FILTER,
        "typed_config": {
            "@type": JWT_AUTHN_TYPE_URL,
            "providers": providers,
            "rules": [{"match": {"prefix": "/"}, "requires": requires}],
            "bypass_cors_preflight": true
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use mesh_manifests::Resource;

    fn ras(resources: &[Resource]) -> Vec<&RequestAuthentication> {
        resources
            .iter()
            .filter_map(|r| match r {
                Resource::RequestAuthentication(ra) => Some(&**ra),
                _ => None,
            })
            .collect()
    }

    fn lab_jwks(iss: &str, uri: &str) -> String {
        format!("{{\"keys\":[],\"for\":\"{iss} {uri}\"}}")
    }

    #[test]
    fn the_tutorial_file_becomes_one_provider_with_allow_missing() {
        let resources = fixtures::istio("request-authentication-customer-jwt.yml");
        let ra = ras(&resources);
        check_request_authentication(ra[0]).unwrap();
        let f = jwt_authn_filter(&ra, &lab_jwks).unwrap();
        assert_eq!(
            f,
            json!({
                "name": "envoy.filters.http.jwt_authn",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                    "providers": {"origins-0": {
                        "issuer": "testing@secure.istio.io",
                        "payload_in_metadata": "payload",
                        "normalize_payload_in_metadata": {"space_delimited_claims": ["permission", "scope"]},
                        "local_jwks": {"inline_string": lab_jwks("testing@secure.istio.io",
                            "https://raw.githubusercontent.com/istio/istio/release-1.20/security/tools/jwt/samples/jwks.json")}
                    }},
                    "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                        {"provider_name": "origins-0"}, {"allow_missing": {}}
                    ]}}}],
                    "bypass_cors_preflight": true
                }
            })
        );
    }

    #[test]
    fn several_rules_are_sorted_by_issuer_and_combined_as_istiod_does() {
        let resources = fixtures::parse(
            r#"
apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: {name: two}
spec:
  jwtRules:
  - issuer: zeta
    jwks: '{"keys":[]}'
    audiences: [a1, a2]
    forwardOriginalToken: true
    fromHeaders: [{name: x-jwt, prefix: "Token "}, {name: x-raw}]
    fromParams: [token]
    outputPayloadToHeader: x-payload
    outputClaimToHeaders: [{header: x-sub, claim: sub}]
    spaceDelimitedClaims: [roles, scope]
  - issuer: alpha
    jwksUri: http://keys.example/jwks
"#,
        );
        let ra = ras(&resources);
        check_request_authentication(ra[0]).unwrap();
        let f = jwt_authn_filter(&ra, &lab_jwks).unwrap();
        let c = &f["typed_config"];
        assert_eq!(c["providers"]["origins-0"]["issuer"], "alpha");
        assert_eq!(
            c["providers"]["origins-0"]["local_jwks"]["inline_string"],
            lab_jwks("alpha", "http://keys.example/jwks")
        );
        let z = &c["providers"]["origins-1"];
        assert_eq!(z["issuer"], "zeta");
        assert_eq!(z["local_jwks"]["inline_string"], r#"{"keys":[]}"#);
        assert_eq!(z["audiences"], json!(["a1", "a2"]));
        assert_eq!(z["forward"], true);
        assert_eq!(z["forward_payload_header"], "x-payload");
        assert_eq!(
            z["claim_to_headers"],
            json!([{"header_name": "x-sub", "claim_name": "sub"}])
        );
        assert_eq!(
            z["from_headers"],
            json!([{"name": "x-jwt", "value_prefix": "Token "}, {"name": "x-raw"}])
        );
        assert_eq!(z["from_params"], json!(["token"]));
        assert_eq!(
            z["normalize_payload_in_metadata"]["space_delimited_claims"],
            json!(["permission", "roles", "scope"])
        );
        assert_eq!(
            c["rules"][0]["requires"],
            json!({"requires_any": {"requirements": [
                {"provider_name": "origins-0"},
                {"provider_name": "origins-1"},
                {"requires_all": {"requirements": [
                    {"requires_any": {"requirements": [{"provider_name": "origins-0"}, {"allow_missing": {}}]}},
                    {"requires_any": {"requirements": [{"provider_name": "origins-1"}, {"allow_missing": {}}]}}
                ]}}
            ]}})
        );
    }

    #[test]
    fn untranslated_fields_are_refused_by_name() {
        for (yaml, field) in [
            (
                "jwtRules: [{issuer: a, timeout: 3s}]",
                "spec.jwtRules.0.timeout",
            ),
            ("jwtRules: [{jwksUri: http://x}]", "spec.jwtRules.0.issuer"),
            (
                "jwtRules: [{issuer: a, jwks: 'not json'}]",
                "spec.jwtRules.0.jwks",
            ),
            ("targetRefs: [{kind: Gateway, name: g}]", "spec.targetRefs"),
        ] {
            let resources = fixtures::parse(&format!(
                "apiVersion: security.istio.io/v1beta1\nkind: RequestAuthentication\nmetadata: {{name: r}}\nspec:\n  {yaml}\n"
            ));
            let err = check_request_authentication(ras(&resources)[0]).unwrap_err();
            assert!(err.contains(field), "{yaml}: {err}");
        }
    }

    #[test]
    fn no_rules_no_filter() {
        let resources = fixtures::parse(
            "apiVersion: security.istio.io/v1beta1\nkind: RequestAuthentication\nmetadata: {name: r}\nspec: {}\n",
        );
        assert_eq!(jwt_authn_filter(&ras(&resources), &lab_jwks), None);
    }
}
