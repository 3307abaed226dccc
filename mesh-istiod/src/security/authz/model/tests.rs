//! Each source, operation and `when` field → istiod's principals and permissions; what the lab refuses.

use serde_json::{Value, json};

use super::*;
use crate::fixtures;
use crate::security::authz::tests::only_policy;
use mesh_manifests::Resource;

fn refusal(spec: &str) -> String {
    let r = fixtures::parse(&format!(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: p}}\nspec:\n{spec}"
    ));
    let Resource::AuthorizationPolicy(ap) = &r[0] else {
        panic!("an AuthorizationPolicy")
    };
    check_authorization_policy(ap).unwrap_err()
}

#[test]
fn principals_follow_istiods_wildcard_forms() {
    let p = only_policy(
        "  - from:\n    - source:\n        principals: ['*', '*/sa/x', 'cluster.local/ns/a*', 'td/ns/a.b/sa/c']\n        notPrincipals: [cluster.local/ns/tutorial/sa/bad]\n",
    );
    let pn = |m: Value| json!({"authenticated": {"principal_name": m}});
    assert_eq!(
        p["principals"],
        json!([{"and_ids": {"ids": [
            {"or_ids": {"ids": [
                pn(json!({"safe_regex": {"regex": ".+"}})),
                pn(json!({"safe_regex": {"regex": "spiffe://.*/sa/x"}})),
                pn(json!({"prefix": "spiffe://cluster.local/ns/a"})),
                pn(json!({"exact": "spiffe://td/ns/a.b/sa/c"})),
            ]}},
            {"not_id": {"or_ids": {"ids": [pn(json!({"exact": "spiffe://cluster.local/ns/tutorial/sa/bad"}))]}}}
        ]}}])
    );
}

#[test]
fn namespaces_become_istiods_regex_and_sources_keep_istiods_order() {
    let p = only_policy(
        "  - from:\n    - source:\n        namespaces: [tutorial, 'istio-*']\n        notNamespaces: [a.b]\n        principals: [x]\n        serviceAccounts: [sa1, other/sa2]\n    - source: {}\n",
    );
    let pn = |r: &str| json!({"authenticated": {"principal_name": {"safe_regex": {"regex": r}}}});
    assert_eq!(
        p["principals"],
        json!([
            {"and_ids": {"ids": [
                {"or_ids": {"ids": [{"authenticated": {"principal_name": {"exact": "spiffe://x"}}}]}},
                {"or_ids": {"ids": [
                    pn(r"spiffe://.+/ns/tutorial/(.+/|)sa/sa1(/.+)?"),
                    pn(r"spiffe://.+/ns/other/(.+/|)sa/sa2(/.+)?")
                ]}},
                {"or_ids": {"ids": [pn(".*/ns/tutorial/.*"), pn(".*/ns/istio-.*/.*")]}},
                {"not_id": {"or_ids": {"ids": [pn(r".*/ns/a\.b/.*")]}}}
            ]}},
            {"and_ids": {"ids": [{"any": true}]}}
        ])
    );
}

#[test]
fn request_principals_follow_the_extended_generator() {
    let p = only_policy(
        "  - from:\n    - source:\n        requestPrincipals: ['*', 'iss/sub', '*/sub', '*suffix', 'https://a/b/*', 'iss/pre*', 'pre*']\n        notRequestPrincipals: [bad/user]\n",
    );
    let m = |iss: Value, sub: Value| {
        let c = |k: &str, v: Value| {
            json!({"metadata": {"filter": "envoy.filters.http.jwt_authn",
            "path": [{"key": "payload"}, {"key": k}], "value": {"string_match": v}}})
        };
        json!({"and_ids": {"ids": [c("iss", iss), c("sub", sub)]}})
    };
    let any = || json!({"safe_regex": {"regex": ".+"}});
    assert_eq!(
        p["principals"][0]["and_ids"]["ids"],
        json!([
            {"or_ids": {"ids": [
                m(any(), any()),
                m(json!({"exact": "iss"}), json!({"exact": "sub"})),
                m(any(), json!({"exact": "sub"})),
                m(any(), json!({"suffix": "suffix"})),
                m(json!({"exact": "https://a/b"}), any()),
                m(json!({"exact": "iss"}), json!({"prefix": "pre"})),
                m(json!({"prefix": "pre"}), any()),
            ]}},
            {"not_id": m(json!({"exact": "bad"}), json!({"exact": "user"}))}
        ])
    );
}

#[test]
fn paths_methods_and_hosts_become_istiods_permissions() {
    let p = only_policy(
        "  - to:\n    - operation:\n        hosts: ['*.example.com']\n        methods: [GET, 'P*']\n        notMethods: [DELETE]\n        paths: [/exact, '/prefix/*', '*/suffix', '*']\n        notPaths: [/private]\n",
    );
    let path = |m: Value| json!({"url_path": {"path": m}});
    let method = |m: Value| json!({"header": {"name": ":method", "string_match": m}});
    assert_eq!(
        p["permissions"],
        json!([{"and_rules": {"rules": [
            {"or_rules": {"rules": [{"header": {"name": ":authority",
                "string_match": {"suffix": ".example.com", "ignore_case": true}}}]}},
            {"or_rules": {"rules": [method(json!({"exact": "GET"})), method(json!({"prefix": "P"}))]}},
            {"not_rule": {"or_rules": {"rules": [method(json!({"exact": "DELETE"}))]}}},
            {"or_rules": {"rules": [
                path(json!({"exact": "/exact"})),
                path(json!({"prefix": "/prefix/"})),
                path(json!({"suffix": "/suffix"})),
                path(json!({"safe_regex": {"regex": ".+"}})),
            ]}},
            {"not_rule": {"or_rules": {"rules": [path(json!({"exact": "/private"}))]}}}
        ]}}])
    );
    assert_eq!(
        p["principals"],
        json!([{"and_ids": {"ids": [{"any": true}]}}])
    );
}

#[test]
fn when_headers_go_after_the_sources() {
    let p = only_policy(
        "  - from: [{source: {principals: [a]}}]\n    when:\n    - key: request.headers[x-user]\n      values: [alice, '*']\n      notValues: ['bob*']\n    - key: source.namespace\n      values: [tutorial]\n",
    );
    let h = |m: Value| {
        let mut h = json!({"name": "x-user"});
        h.as_object_mut()
            .unwrap()
            .extend(m.as_object().unwrap().clone());
        json!({"header": h})
    };
    assert_eq!(
        p["principals"][0]["and_ids"]["ids"],
        json!([
            {"or_ids": {"ids": [{"authenticated": {"principal_name": {"exact": "spiffe://a"}}}]}},
            {"or_ids": {"ids": [h(json!({"string_match": {"exact": "alice"}})), h(json!({"present_match": true}))]}},
            {"not_id": {"or_ids": {"ids": [h(json!({"string_match": {"prefix": "bob"}}))]}}},
            {"or_ids": {"ids": [{"authenticated": {"principal_name": {"safe_regex": {"regex": ".*/ns/tutorial/.*"}}}}]}}
        ])
    );
}

/// The payload metadata at `path` matching `value` as a string or any element of a list.
fn claim(path: &[&str], value: Value) -> Value {
    let mut keys = vec![json!({"key": "payload"})];
    keys.extend(path.iter().map(|k| json!({"key": k})));
    json!({"metadata": {"filter": "envoy.filters.http.jwt_authn", "path": keys,
        "value": {"or_match": {"value_matchers": [{"list_match": {"one_of": value}}, value]}}}})
}

#[test]
fn when_claims_match_the_payload_as_a_string_or_a_list_element() {
    let p = only_policy(
        "  - from: [{source: {requestPrincipals: ['*']}}]\n    when:\n    - key: request.auth.claims[role]\n      values: [customer]\n    - key: request.auth.claims[groups]\n      values: [group1, 'pre-*', '*-suf', '*']\n      notValues: [banned]\n",
    );
    let s = |m: Value| json!({"string_match": m});
    let ids = &p["principals"][0]["and_ids"]["ids"];
    assert_eq!(ids.as_array().unwrap().len(), 4, "{ids}");
    assert_eq!(
        ids[1],
        claim(&["role"], s(json!({"exact": "customer"}))),
        "one value: its string matcher, no or_match"
    );
    assert_eq!(
        ids[2],
        claim(
            &["groups"],
            json!({"or_match": {"value_matchers": [
                s(json!({"exact": "group1"})),
                s(json!({"prefix": "pre-"})),
                s(json!({"suffix": "-suf"})),
                s(json!({"safe_regex": {"regex": ".+"}})),
            ]}})
        )
    );
    assert_eq!(
        ids[3],
        json!({"not_id": claim(&["groups"], s(json!({"exact": "banned"})))})
    );
}

#[test]
fn nested_claims_follow_the_brackets() {
    let p = only_policy(
        "  - when:\n    - key: request.auth.claims[realm_access][roles]\n      notValues: [guest]\n    - key: request.auth.claims[a[b]\n      values: [x]\n",
    );
    let s = |v: &str| json!({"string_match": {"exact": v}});
    assert_eq!(
        p["principals"],
        json!([{"and_ids": {"ids": [
            {"not_id": claim(&["realm_access", "roles"], s("guest"))},
            claim(&["a[b"], s("x")),
        ]}}])
    );
}

#[test]
fn what_the_lab_cannot_translate_is_refused_by_field() {
    for (spec, field) in [
        (
            "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]\n",
            "spec.action CUSTOM",
        ),
        (
            "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]\n",
            "field spec.rules.0.from.0.source.ipBlocks is not supported by the local mesh",
        ),
        (
            "  rules: [{}, {from: [{source: {notRemoteIpBlocks: [1.2.3.4]}}]}]\n",
            "spec.rules.1.from.0.source.notRemoteIpBlocks",
        ),
        (
            "  rules: [{to: [{operation: {ports: ['8080']}}]}]\n",
            "spec.rules.0.to.0.operation.ports",
        ),
        (
            "  rules: [{to: [{operation: {paths: ['/a/{*}']}}]}]\n",
            "spec.rules.0.to.0.operation.paths",
        ),
        (
            "  rules: [{when: [{key: source.ip, values: [1.2.3.4]}]}]\n",
            "field spec.rules.0.when.0.key: key \"source.ip\"",
        ),
        (
            "  rules: [{when: [{key: 'request.auth.claims[groups', values: [a]}]}]\n",
            "field spec.rules.0.when.0.key: bad key (request.auth.claims[groups): should have format a[b]",
        ),
        (
            "  rules: [{when: [{key: 'request.auth.claims[]', values: [a]}]}]\n",
            "bad key (request.auth.claims[]): should have format a[b]",
        ),
        (
            "  rules: [{when: [{key: 'request.auth.claims', values: [a]}]}]\n",
            "bad key (request.auth.claims): should have format a[b]",
        ),
        (
            "  rules: [{when: [{key: 'request.headers[]', values: [a]}]}]\n",
            "spec.rules.0.when.0.key",
        ),
        (
            "  rules: [{when: [{key: 'request.headers[x]'}]}]\n",
            "spec.rules.0.when.0: at least one",
        ),
        (
            "  targetRefs: [{kind: Service, name: s}]\n",
            "spec.targetRefs",
        ),
    ] {
        let err = refusal(spec);
        assert!(err.contains(field), "{spec}: {err}");
    }
    let r = fixtures::parse(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: p, annotations: {istio.io/dry-run: 'true'}}\nspec: {}\n",
    );
    let Resource::AuthorizationPolicy(ap) = &r[0] else {
        panic!()
    };
    assert!(
        check_authorization_policy(ap)
            .unwrap_err()
            .contains("metadata.annotations.istio.io/dry-run")
    );
}
