//! The expectations follow istiod's pilot/pkg/networking/core/route/route.go `TranslateHeadersOperations`
//! and `processDestination` / `processWeightedDestination`, and pkg/config/validation's header rules.

use serde_json::json;

use crate::networking::core::route::tests::{TO_SERVICE, route_action, routes_of, rules};

fn set(key: &str, value: &str) -> serde_json::Value {
    json!({"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"})
}

/// `APPEND_IF_EXISTS_OR_ADD`, the default action, which Envoy's JSON leaves out.
fn add(key: &str, value: &str) -> serde_json::Value {
    json!({"header": {"key": key, "value": value}})
}

/// Rule-level `headers`: set (overwrite) then add (append), each sorted by name, removes as listed, on
/// the route; `host` / `:authority` are dropped from the lists and become the route's authority.
#[test]
fn rule_headers_become_the_routes_header_lists() {
    let routes = routes_of(&format!(
        "headers: {{request: {{set: {{x-b: '2', x-a: '1', host: api.example.com}}, add: {{x-c: '3'}}, \
         remove: [x-gone, ':path']}}, response: {{set: {{x-served-by: mesh}}, add: {{x-extra: e}}, \
         remove: [server]}}}}, {TO_SERVICE}"
    ))
    .unwrap();
    let r = &routes[0];
    assert_eq!(
        r["request_headers_to_add"],
        json!([set("x-a", "1"), set("x-b", "2"), add("x-c", "3")])
    );
    assert_eq!(r["request_headers_to_remove"], json!(["x-gone"]));
    assert_eq!(
        r["response_headers_to_add"],
        json!([set("x-served-by", "mesh"), add("x-extra", "e")])
    );
    assert_eq!(r["response_headers_to_remove"], json!(["server"]));
    assert_eq!(r["route"]["host_rewrite_literal"], "api.example.com");
}

/// A rewrite's authority wins over one `headers` sets (the admission refuses both; the translation still
/// follows `applyHTTPRouteDestination`).
#[test]
fn the_rewrite_authority_wins_over_the_headers_one() {
    let a = route_action(&format!(
        "rewrite: {{authority: r.example.com}}, headers: {{request: {{set: {{':authority': h.example.com}}}}}}, \
         {TO_SERVICE}"
    ));
    assert_eq!(a["host_rewrite_literal"], "r.example.com");
}

/// One destination: its `headers` go on the route after the rule's; a weighted destination's on its cluster.
#[test]
fn destination_headers_go_on_the_route_or_the_weighted_cluster() {
    let one = routes_of(
        "headers: {response: {set: {x-rule: r}}}, \
         route: [{destination: {host: recommendation}, headers: {response: {set: {x-dest: d}}, \
         request: {remove: [x-r]}}}]",
    )
    .unwrap();
    assert_eq!(
        one[0]["response_headers_to_add"],
        json!([set("x-rule", "r"), set("x-dest", "d")])
    );
    assert_eq!(one[0]["request_headers_to_remove"], json!(["x-r"]));
    let split = route_action(
        "route: [{destination: {host: recommendation, subset: version-v1}, weight: 80, \
         headers: {response: {add: {x-version: v1}}, request: {set: {host: one.example.com}}}}, \
         {destination: {host: recommendation, subset: version-v2}, weight: 20}]",
    );
    assert_eq!(
        split["weighted_clusters"]["clusters"],
        json!([
            {"name": "outbound|8080|version-v1|recommendation.tutorial.svc.cluster.local", "weight": 80,
             "response_headers_to_add": [add("x-version", "v1")],
             "host_rewrite_literal": "one.example.com"},
            {"name": "outbound|8080|version-v2|recommendation.tutorial.svc.cluster.local", "weight": 20},
        ])
    );
}

/// The admission: names and values as pkg/config/validation takes them.
#[test]
fn header_operations_are_checked_like_istiods_validation() {
    use super::check_headers;
    let parse = |yaml: &str| {
        rules(&format!("  - {{headers: {yaml}, {TO_SERVICE}}}\n"))[0]
            .headers
            .clone()
            .unwrap()
    };
    let ok = [
        "{request: {set: {x-a: '1', host: a.example.com}}}",
        "{response: {set: {x-pct: '100%%', x-host: '%HOSTNAME%'}}}",
        "{request: {remove: [x-b]}, response: {remove: [x-c]}}",
    ];
    for h in ok {
        assert_eq!(check_headers("h", &parse(h), None), Ok(()), "{h}");
    }
    let refused = [
        (
            "{request: {set: {':path': /x}}}",
            "h.request.set: header \":path\": a header name cannot start with ':'",
        ),
        (
            "{response: {set: {host: x}}}",
            "h.response.set: header \"host\": the Host header cannot be changed here",
        ),
        (
            "{request: {remove: [host]}}",
            "h.request.remove: header \"host\": the Host header cannot be changed here",
        ),
        (
            "{response: {add: {x-a: '50%'}}}",
            "h.response.add.x-a: header value \"50%\" has an un-escaped %: write %% for a literal %",
        ),
        (
            "{request: {set: {host: a.example.com}, add: {':authority': b.example.com}}}",
            "h.request.add.:authority: the authority is already set to \"a.example.com\"; set it in one place only",
        ),
    ];
    for (h, want) in refused {
        assert_eq!(
            check_headers("h", &parse(h), None),
            Err(want.to_owned()),
            "{h}"
        );
    }
    assert_eq!(
        check_headers("h", &parse("{request: {set: {host: a}}}"), Some("r")),
        Err(
            "h.request.set.host: the authority is already set to \"r\"; set it in one place only"
                .to_owned()
        )
    );
}
