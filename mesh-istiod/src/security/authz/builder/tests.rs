//! One RBAC filter per action, its policies named as istiod names them.

use serde_json::{Value, json};

use crate::fixtures;
use crate::security::authz::tests::filters;

#[test]
fn deny_all_is_an_allow_filter_that_never_matches_on_every_pod() {
    let r = fixtures::istio("authorization-policy-deny-all.yml");
    for app in ["customer", "preference", "recommendation"] {
        assert_eq!(
            filters(&r, app),
            vec![json!({
                "name": "envoy.filters.http.rbac",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                    "rules": {"policies": {"ns[tutorial]-policy[deny-all]-rule[0]": {
                        "permissions": [{"not_rule": {"any": true}}],
                        "principals": [{"not_id": {"any": true}}]
                    }}},
                    "shadow_rules_stat_prefix": "istio_dry_run_allow_"
                }
            })]
        );
    }
}

#[test]
fn customer_allows_anything_and_only_customer() {
    let r = fixtures::istio("authorization-policy-customer.yml");
    let f = filters(&r, "customer");
    assert_eq!(
        f[0]["typed_config"]["rules"],
        json!({"policies": {"ns[tutorial]-policy[customer]-rule[0]": {
            "permissions": [{"and_rules": {"rules": [{"any": true}]}}],
            "principals": [{"and_ids": {"ids": [{"any": true}]}}]
        }}})
    );
    assert!(filters(&r, "preference").is_empty());
}

#[test]
fn preference_and_recommendation_allow_one_service_account_by_spiffe_id() {
    for (file, app, sa) in [
        (
            "authorization-policy-preference.yml",
            "preference",
            "customer",
        ),
        (
            "authorization-policy-recommendation.yml",
            "recommendation",
            "preference",
        ),
    ] {
        let r = fixtures::istio(file);
        let f = filters(&r, app);
        assert_eq!(
            f[0]["typed_config"]["rules"]["policies"]
                [format!("ns[tutorial]-policy[{app}]-rule[0]")],
            json!({
                "permissions": [{"and_rules": {"rules": [{"any": true}]}}],
                "principals": [{"and_ids": {"ids": [{"or_ids": {"ids": [{"authenticated": {
                    "principal_name": {"exact": format!("spiffe://cluster.local/ns/tutorial/sa/{sa}")}
                }}]}}]}}]
            }),
            "{file}"
        );
        assert!(filters(&r, "customer").is_empty(), "{file}");
    }
}

#[test]
fn deny_comes_before_allow_and_audit_before_both() {
    let r = fixtures::parse(
        "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow}
spec: {rules: [{}]}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/admin*]}}]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: audit}
spec: {action: AUDIT, rules: [{}]}
",
    );
    let f = filters(&r, "customer");
    let actions: Vec<&Value> = f
        .iter()
        .map(|f| &f["typed_config"]["rules"]["action"])
        .collect();
    assert_eq!(actions, [&json!("LOG"), &json!("DENY"), &Value::Null]);
    assert_eq!(
        f[1]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[deny]-rule[0]"]["permissions"],
        json!([{"and_rules": {"rules": [{"or_rules": {"rules": [{"url_path": {"path": {"prefix": "/admin"}}}]}}]}}])
    );
}

#[test]
fn several_rules_are_several_named_policies() {
    let r = fixtures::parse(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: two}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n  - from: [{source: {principals: [x]}}]\n",
    );
    let f = filters(&r, "customer");
    let names: Vec<&String> = f[0]["typed_config"]["rules"]["policies"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(
        names,
        [
            "ns[tutorial]-policy[two]-rule[0]",
            "ns[tutorial]-policy[two]-rule[1]"
        ]
    );
}
