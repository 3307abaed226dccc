//! Which policies apply to a pod and the inbound HTTP filters in istiod's order.

use serde_json::{Value, json};

use super::*;
use crate::fixtures;
use crate::util::protomarshal::{any_to_json, to_json};

#[test]
fn show_lists_the_policies_that_select_a_pod() {
    let mut r = fixtures::istio("authorization-policy-deny-all.yml");
    r.extend(fixtures::istio("request-authentication-customer-jwt.yml"));
    let customer = labels(&[("app", "customer"), ("version", "v1")]);
    assert_eq!(
        policies_for(&r, &customer),
        [
            "AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)",
            "RequestAuthentication customer-jwt: JWT from issuer testing@secure.istio.io",
            "AuthorizationPolicy customer: ALLOW, 1 rule",
        ]
    );
    let preference = labels(&[("app", "preference"), ("version", "v1")]);
    assert_eq!(
        policies_for(&r, &preference),
        ["AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)"]
    );
}

pub(super) use crate::fixtures::labels;

pub(super) fn no_jwks(_: &str, _: &str) -> String {
    r#"{"keys":[]}"#.into()
}

/// The app's inbound HTTP filters as JSON ([`to_json`]: `{"name", "typed_config": {"@type", …}}`).
pub(super) fn filters(resources: &[Resource], app: &str) -> Vec<Value> {
    inbound_http_filters(
        resources,
        &labels(&[("app", app), ("version", "v1")]),
        &no_jwks,
    )
    .unwrap()
    .iter()
    .map(to_json)
    .collect()
}

/// The single policy of the only (ALLOW) filter for a policy file with one rule.
pub(super) fn only_policy(yaml_rules: &str) -> Value {
    let r = fixtures::parse(&format!(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: p}}\nspec:\n  rules:\n{yaml_rules}"
    ));
    let f = filters(&r, "customer");
    assert_eq!(f.len(), 1);
    f[0]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[p]-rule[0]"].clone()
}

#[test]
fn the_jwt_file_puts_jwt_authn_before_rbac_with_a_request_principal_matcher() {
    let r = fixtures::istio("request-authentication-customer-jwt.yml");
    let f = filters(&r, "customer");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["name"], "envoy.filters.http.jwt_authn");
    assert_eq!(f[1]["name"], "envoy.filters.http.rbac");
    let claim = |c: &str| {
        json!({"metadata": {"filter": "envoy.filters.http.jwt_authn",
            "path": [{"key": "payload"}, {"key": c}],
            "value": {"string_match": {"exact": "testing@secure.istio.io"}}}})
    };
    assert_eq!(
        f[1]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[customer]-rule[0]"]["principals"],
        json!([{"and_ids": {"ids": [{"and_ids": {"ids": [claim("iss"), claim("sub")]}}]}}])
    );
    assert!(filters(&r, "preference").is_empty());
}

#[test]
fn the_peer_authentication_file_is_not_this_module() {
    let r = fixtures::istio("peer-authentication-tutorial-strict.yml");
    assert!(filters(&r, "customer").is_empty());
}

#[test]
fn selectors_match_labels_and_no_selector_matches_all() {
    let r = fixtures::parse(
        "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: v2-only}
spec:
  selector: {matchLabels: {app: recommendation, version: v2}}
  rules: [{}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: empty-selector}
spec:
  selector: {}
  action: DENY
  rules: [{}]
",
    );
    let v1 = inbound_http_filters(
        &r,
        &labels(&[("app", "recommendation"), ("version", "v1")]),
        &no_jwks,
    )
    .unwrap();
    let v2 = inbound_http_filters(
        &r,
        &labels(&[("app", "recommendation"), ("version", "v2")]),
        &no_jwks,
    )
    .unwrap();
    assert_eq!(v1.len(), 1, "the selector-less one only");
    assert_eq!(v2.len(), 2);
}

#[test]
fn each_slot_holds_the_pods_filter_or_one_that_enforces_nothing() {
    let r = fixtures::istio("authorization-policy-deny-all.yml");
    let customer = labels(&[("app", "customer"), ("version", "v1")]);
    let slots = inbound_filter_slots(&r, &customer, &no_jwks).unwrap();
    let names: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.rbac.audit",
            "envoy.filters.http.rbac.deny",
            "envoy.filters.http.rbac.allow"
        ]
    );
    let configs: Vec<Value> = slots
        .iter()
        .map(|s| any_to_json(s.typed_config.as_ref().unwrap()).unwrap())
        .collect();
    assert_eq!(configs[0], json!({"@type": jwt::JWT_AUTHN_TYPE_URL}));
    assert_eq!(configs[1], json!({"@type": RBAC_TYPE_URL}));
    assert_eq!(configs[2], json!({"@type": RBAC_TYPE_URL}));
    assert_eq!(configs[3], filters(&r, "customer")[0]["typed_config"]);
}

#[test]
fn the_slots_type_urls_are_their_configurations_types() {
    assert_eq!(RBAC_TYPE_URL, Rbac::type_url());
    assert_eq!(jwt::JWT_AUTHN_TYPE_URL, JwtAuthentication::type_url());
}
