//! End-user authentication: RequestAuthentication → the configuration of Envoy's
//! `envoy.filters.http.jwt_authn`, as Envoy's `JwtAuthentication` type (the lab's own token issuer, whose key set every `jwksUri` resolves to, is the runtime's: mesh-lab's `issuer`).
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

use envoy_types::pb::envoy::config::core::v3::DataSource;
use envoy_types::pb::envoy::config::core::v3::data_source::Specifier;
use envoy_types::pb::envoy::config::route::v3::RouteMatch;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::jwt_provider::{
    JwksSourceSpecifier, NormalizePayload,
};
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::jwt_requirement::RequiresType;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::requirement_rule::RequirementType;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::{
    JwtAuthentication, JwtClaimToHeader, JwtHeader, JwtProvider, JwtRequirement,
    JwtRequirementAndList, JwtRequirementOrList, RequirementRule,
};
use envoy_types::pb::google::protobuf::Empty;
use kcr_security_istio_io::v1::requestauthentications::{
    RequestAuthentication, RequestAuthenticationJwtRules,
};
use mesh_manifests::kcr_security_istio_io;
use serde_json::Value;

use crate::model::policy::{self, refuse};

/// The filter's name (pilot/pkg/security/model/authentication.go `EnvoyJwtFilterName`).
pub const JWT_FILTER: &str = "envoy.filters.http.jwt_authn";
/// Its configuration's type.
pub const JWT_AUTHN_TYPE_URL: &str =
    "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
/// Where the verified payload is kept in dynamic metadata (`EnvoyJwtFilterPayload`).
pub const PAYLOAD_KEY: &str = "payload";

/// Checks a RequestAuthentication against what [`jwt_authentication`] translates; the error names the field.
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
fn provider(
    rule: &RequestAuthenticationJwtRules,
    jwks: &dyn Fn(&str, &str) -> String,
) -> JwtProvider {
    let issuer = rule.issuer.clone().unwrap_or_default();
    // BuildLocalJwks: an inline key set as given, else the (lab's) answer for jwksUri.
    let key_set = match rule.jwks.as_deref().filter(|j| !j.is_empty()) {
        Some(inline) => inline.to_owned(),
        None => jwks(&issuer, rule.jwks_uri.as_deref().unwrap_or_default()),
    };
    let claim_to_headers = rule
        .output_claim_to_headers
        .iter()
        .flatten()
        .map(|c| JwtClaimToHeader {
            header_name: c.header.clone(),
            claim_name: c.claim.clone(),
            ..Default::default()
        })
        .collect();
    let from_headers = rule
        .from_headers
        .iter()
        .flatten()
        .map(|h| JwtHeader {
            name: h.name.clone(),
            value_prefix: h.prefix.clone().unwrap_or_default(),
        })
        .collect();
    JwtProvider {
        issuer,
        audiences: rule.audiences.clone().unwrap_or_default(),
        forward: rule.forward_original_token == Some(true),
        forward_payload_header: rule.output_payload_to_header.clone().unwrap_or_default(),
        payload_in_metadata: PAYLOAD_KEY.to_owned(),
        normalize_payload_in_metadata: Some(NormalizePayload {
            space_delimited_claims: space_delimited_claims(rule.space_delimited_claims.as_deref()),
        }),
        claim_to_headers,
        from_headers,
        from_params: rule.from_params.clone().unwrap_or_default(),
        from_cookies: rule.from_cookies.clone().unwrap_or_default(),
        jwks_source_specifier: Some(JwksSourceSpecifier::LocalJwks(DataSource {
            specifier: Some(Specifier::InlineString(key_set)),
            ..Default::default()
        })),
        ..Default::default()
    }
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

fn requirement(t: RequiresType) -> JwtRequirement {
    JwtRequirement {
        requires_type: Some(t),
    }
}

fn provider_name(name: &str) -> JwtRequirement {
    requirement(RequiresType::ProviderName(name.to_owned()))
}

fn requires_any(requirements: Vec<JwtRequirement>) -> JwtRequirement {
    requirement(RequiresType::RequiresAny(JwtRequirementOrList {
        requirements,
    }))
}

fn requires_all(requirements: Vec<JwtRequirement>) -> JwtRequirement {
    requirement(RequiresType::RequiresAll(JwtRequirementAndList {
        requirements,
    }))
}

/// The requirement of `n` providers `origins-0…`: one `{origins-0 OR allow_missing}`; several
/// `OR{origins-0, …, AND{OR{origins-0, allow_missing}, …}}`.
fn requires(n: usize) -> JwtRequirement {
    let names: Vec<String> = (0..n).map(|i| format!("origins-{i}")).collect();
    let mut inner_and: Vec<JwtRequirement> = names
        .iter()
        .map(|name| {
            requires_any(vec![
                provider_name(name),
                requirement(RequiresType::AllowMissing(Empty {})),
            ])
        })
        .collect();
    if inner_and.len() == 1 {
        return inner_and.remove(0);
    }
    let mut outer_or: Vec<JwtRequirement> = names.iter().map(|n| provider_name(n)).collect();
    outer_or.push(requires_all(inner_and));
    requires_any(outer_or)
}

/// The jwt_authn filter's configuration for the RequestAuthentications that select a pod (`None` without
/// JWT rules), as istiod's `convertToEnvoyJwtConfig`: one provider `origins-i` per rule, the rules
/// sorted by issuer, required as [`requires`] says for every path; `bypass_cors_preflight`.
pub fn jwt_authentication(
    policies: &[&RequestAuthentication],
    jwks: &dyn Fn(&str, &str) -> String,
) -> Option<JwtAuthentication> {
    let mut rules: Vec<&RequestAuthenticationJwtRules> = policies
        .iter()
        .flat_map(|p| p.spec.jwt_rules.iter().flatten())
        .collect();
    if rules.is_empty() {
        return None;
    }
    rules.sort_by(|a, b| a.issuer.cmp(&b.issuer));
    let providers = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| (format!("origins-{i}"), provider(rule, jwks)))
        .collect();
    let every_path = RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".to_owned())),
        ..Default::default()
    };
    Some(JwtAuthentication {
        providers,
        rules: vec![RequirementRule {
            r#match: Some(every_path),
            requirement_type: Some(RequirementType::Requires(requires(rules.len()))),
        }],
        bypass_cors_preflight: true,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use envoy_types::util::pack_any;
    use mesh_manifests::Resource;
    use serde_json::json;

    use super::*;
    use crate::fixtures;
    use crate::util::protomarshal::{any_to_json, to_json};

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
        let f = jwt_authentication(&ra, &lab_jwks).unwrap();
        assert_eq!(
            any_to_json(&pack_any(f)).unwrap(),
            json!({
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
        let c = &to_json(&jwt_authentication(&ra, &lab_jwks).unwrap());
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
        assert_eq!(jwt_authentication(&ras(&resources), &lab_jwks), None);
    }
}
