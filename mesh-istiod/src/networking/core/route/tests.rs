//! The expectations follow istiod's pilot/pkg/networking/core/route/route.go (read for each rule; see
//! docs/LOCAL-MESH.md), not this module.

use crate::model::release::IstioRelease;
use mesh_manifests::Resource;
use serde_json::{Value, json};

use super::*;
use crate::fixtures;
use crate::util::protomarshal::{all_json, to_json};

const FQDN: &str = "recommendation.tutorial.svc.cluster.local";

/// istiod's cluster names (`outbound|<port>|<subset>|<fqdn>`) for the one Service on port 8080.
struct Tutorial;
impl Destinations for Tutorial {
    fn cluster(&self, host: &str, subset: Option<&str>, port: Option<u16>) -> String {
        format!(
            "outbound|{}|{}|{host}.tutorial.svc.cluster.local",
            port.unwrap_or(8080),
            subset.unwrap_or("")
        )
    }
}

fn cluster(subset: &str) -> String {
    format!("outbound|8080|{subset}|{FQDN}")
}

fn http_rules(resources: Vec<Resource>) -> Vec<VirtualServiceHttp> {
    match resources.into_iter().next() {
        Some(Resource::VirtualService(vs)) => vs.spec.http.unwrap_or_default(),
        other => panic!("not a VirtualService: {other:?}"),
    }
}

/// The `http` rules of a VirtualService on recommendation whose `http:` list is `rules` (YAML indented
/// by two spaces).
pub(super) fn rules(rules: &str) -> Vec<VirtualServiceHttp> {
    http_rules(fixtures::parse(&format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: recommendation}}\n\
         spec:\n  hosts: [recommendation]\n  http:\n{rules}"
    )))
}

/// The routes of one rule given as the fields of an `http` entry (one flow mapping's contents).
pub(super) fn routes_of(fields: &str) -> Result<Vec<Value>, String> {
    routes_in(fields, IstioRelease::CURRENT)
}

/// One rule's routes with `istio`'s defaults.
pub(super) fn routes_in(fields: &str, istio: IstioRelease) -> Result<Vec<Value>, String> {
    http_routes(&rules(&format!("  - {{{fields}}}\n"))[0], &Tutorial, istio).map(|r| all_json(&r))
}

pub(super) fn route_action(fields: &str) -> Value {
    let routes = routes_of(fields).unwrap_or_else(|e| panic!("{fields}: {e}"));
    assert_eq!(routes.len(), 1, "{fields}");
    routes[0]["route"].clone()
}

pub(super) const TO_SERVICE: &str = "route: [{destination: {host: recommendation}}]";

/// retry.go `DefaultPolicy` with `EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY` on (current istiod): no
/// `retriable_status_codes`, although `retriable-status-codes` stays in `retry_on`.
pub(super) fn istiod_default_retry() -> Value {
    json!({
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
        "host_selection_retry_max_attempts": 5,
        "retry_host_predicate": [{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}
        }]
    })
}

#[test]
fn the_default_route_is_istiods_build_default_http_outbound_route() {
    assert_eq!(
        to_json(&default_route("outbound|8080||x", IstioRelease::CURRENT)),
        json!({
            "name": "default",
            "match": {"prefix": "/"},
            "route": {"cluster": "outbound|8080||x", "timeout": "0s", "retry_policy": istiod_default_retry()},
        })
    );
}

fn mirror_policy(cluster: &str, default_value: Value) -> Value {
    json!([{
        "cluster": cluster,
        "runtime_fraction": {"default_value": default_value},
        "trace_sampled": false,
        "disable_shadow_host_suffix_append": true,
    }])
}

/// Each shipped VirtualService of the tutorial, loaded from istio/, gives exactly the routes istiod
/// builds for it: a catch-all `prefix: /` without `case_sensitive` when there is no `match`, a single
/// destination as `cluster` even with `weight: 100`, timeout 0s and the default retry policy unless set.
#[test]
fn each_shipped_virtual_service_gives_istiods_routes() {
    let plain = |cluster: String| json!({"match": {"prefix": "/"}, "route": {"cluster": cluster, "timeout": "0s", "retry_policy": istiod_default_retry()}});
    let split = |w1: u32, w2: u32| {
        json!({"match": {"prefix": "/"}, "route": {
            "weighted_clusters": {"clusters": [
                {"name": cluster("version-v1"), "weight": w1},
                {"name": cluster("version-v2"), "weight": w2},
            ]},
            "timeout": "0s", "retry_policy": istiod_default_retry()}})
    };
    let user_agent = |regex: &str| {
        let mut to_v2 = plain(cluster("version-v2"));
        to_v2["match"] = json!({"prefix": "/", "case_sensitive": true, "headers": [
            {"name": "baggage-user-agent", "string_match": {"safe_regex": {"regex": regex}}}
        ]});
        vec![vec![to_v2], vec![plain(cluster("version-v1"))]]
    };
    let with = |mut route: Value, path: &[&str], value: Value| {
        let mut at = &mut route;
        for p in path {
            at = &mut at[*p];
        }
        *at = value;
        route
    };
    let fault = |f: Value| {
        let mut f = f;
        f["@type"] = json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault");
        with(
            plain(cluster("")),
            &["typed_per_filter_config"],
            json!({"envoy.filters.http.fault": f}),
        )
    };
    let cases: Vec<(&str, Vec<Vec<Value>>)> = vec![
        (
            "virtual-service-recommendation-v1.yml",
            vec![vec![plain(cluster("version-v1"))]],
        ),
        (
            "virtual-service-recommendation-v2.yml",
            vec![vec![plain(cluster("version-v2"))]],
        ),
        (
            "virtual-service-recommendation-v3.yml",
            vec![vec![plain(cluster("version-v3"))]],
        ),
        (
            "virtual-service-recommendation-v1-v2-90-10.yml",
            vec![vec![split(90, 10)]],
        ),
        (
            "virtual-service-recommendation-v1-v2-75-25.yml",
            vec![vec![split(75, 25)]],
        ),
        (
            "virtual-service-recommendation-v1-v2-50-50.yml",
            vec![vec![split(50, 50)]],
        ),
        (
            "virtual-service-recommendation-safari.yml",
            user_agent(".*Safari.*"),
        ),
        (
            "virtual-service-recommendation-firefox.yml",
            user_agent(".*Firefox.*"),
        ),
        (
            "virtual-service-recommendation-mobile.yml",
            user_agent(".*Mobile.*"),
        ),
        (
            "virtual-service-recommendation-mirror-v2.yml",
            vec![vec![with(
                plain(cluster("version-v1")),
                &["route", "request_mirror_policies"],
                mirror_policy(
                    &cluster("version-v2"),
                    json!({"numerator": 1_000_000, "denominator": "MILLION"}),
                ),
            )]],
        ),
        (
            "virtual-service-recommendation-retry.yml",
            vec![vec![with(
                plain(cluster("")),
                &["route", "retry_policy"],
                with(
                    with(
                        with(
                            istiod_default_retry(),
                            &["retry_on"],
                            json!("5xx,connect-failure,refused-stream"),
                        ),
                        &["num_retries"],
                        json!(3),
                    ),
                    &["per_try_timeout"],
                    json!("2s"),
                ),
            )]],
        ),
        (
            "virtual-service-recommendation-timeout.yml",
            vec![vec![with(
                plain(cluster("")),
                &["route", "timeout"],
                json!("1s"),
            )]],
        ),
        (
            "virtual-service-recommendation-fault-abort.yml",
            vec![vec![fault(json!({"abort": {"http_status": 503,
                "percentage": {"numerator": 500_000, "denominator": "MILLION"}}}))]],
        ),
        (
            "virtual-service-recommendation-fault-delay.yml",
            vec![vec![fault(json!({"delay": {"fixed_delay": "7s",
                "percentage": {"numerator": 500_000, "denominator": "MILLION"}}}))]],
        ),
    ];
    for (file, want) in cases {
        let got: Vec<Vec<Value>> = http_rules(fixtures::istio(file))
            .iter()
            .map(|h| {
                all_json(
                    &http_routes(h, &Tutorial, IstioRelease::CURRENT)
                        .unwrap_or_else(|e| panic!("{file}: {e}")),
                )
            })
            .collect();
        assert_eq!(got, want, "{file}");
    }
}

/// `TranslateRouteMatch` / `translateHeaderMatch`, one `match` entry each.
#[test]
fn matches_translate_like_translate_route_match() {
    let cases = [
        (
            "uri exact is `path`; case_sensitive is always set on a match",
            "{uri: {exact: /health}}",
            json!({"path": "/health", "case_sensitive": true}),
        ),
        (
            "uri prefix stays `prefix` on a sidecar (path_separated_prefix is Gateway-API only)",
            "{uri: {prefix: /customer}}",
            json!({"prefix": "/customer", "case_sensitive": true}),
        ),
        (
            "uri regex is `safe_regex` without an engine",
            "{uri: {regex: '/v[0-9]+/.*'}}",
            json!({"safe_regex": {"regex": "/v[0-9]+/.*"}, "case_sensitive": true}),
        ),
        (
            "ignoreUriCase turns case_sensitive off",
            "{uri: {prefix: /Customer}, ignoreUriCase: true}",
            json!({"prefix": "/Customer", "case_sensitive": false}),
        ),
        (
            "a match without uri keeps the catch-all prefix",
            "{headers: {end-user: {exact: jason}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "end-user", "string_match": {"exact": "jason"}}]}),
        ),
        (
            "header prefix",
            "{headers: {user-agent: {prefix: Mozilla}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "user-agent", "string_match": {"prefix": "Mozilla"}}]}),
        ),
        (
            "a header with an empty StringMatch only has to be present",
            "{headers: {x-canary: {}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "x-canary", "present_match": true}]}),
        ),
        (
            "regex `*` is not RE2: istiod's canBeConvertedToPresentMatch makes it present_match",
            "{headers: {x-canary: {regex: '*'}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "x-canary", "present_match": true}]}),
        ),
        (
            "headers are sorted by name (istiod sorts them for a stable order)",
            "{headers: {zeta: {exact: z}, alpha: {exact: a}}, uri: {prefix: /p}}",
            json!({"prefix": "/p", "case_sensitive": true, "headers": [
                {"name": "alpha", "string_match": {"exact": "a"}},
                {"name": "zeta", "string_match": {"exact": "z"}}]}),
        ),
        (
            "withoutHeaders: inverted, and a missing header counts as empty",
            "{withoutHeaders: {end-user: {exact: jason}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "end-user", "string_match": {"exact": "jason"}, "invert_match": true,
                 "treat_missing_header_as_empty": true}]}),
        ),
        (
            "withoutHeaders as a presence match: inverted only (treat_missing conflicts with it)",
            "{withoutHeaders: {x-canary: {regex: '*'}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "x-canary", "present_match": true, "invert_match": true}]}),
        ),
        (
            "headers and withoutHeaders are sorted together by name",
            "{headers: {zeta: {prefix: z}}, withoutHeaders: {alpha: {regex: 'a.*'}, omega: {exact: o}}}",
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "alpha", "string_match": {"safe_regex": {"regex": "a.*"}}, "invert_match": true,
                 "treat_missing_header_as_empty": true},
                {"name": "omega", "string_match": {"exact": "o"}, "invert_match": true,
                 "treat_missing_header_as_empty": true},
                {"name": "zeta", "string_match": {"prefix": "z"}}]}),
        ),
    ];
    for (why, m, want) in cases {
        let rules = rules(&format!("  - match: [{m}]\n    {TO_SERVICE}\n"));
        let matches = rules[0].r#match.as_deref().unwrap();
        assert_eq!(to_json(&route_match(Some(&matches[0]))), want, "{why}");
    }
    assert_eq!(
        to_json(&route_match(None)),
        json!({"prefix": "/"}),
        "no match: prefix / and no case_sensitive"
    );
}

#[test]
fn one_route_per_match_entry_each_with_the_whole_action_and_fault() {
    let routes = routes_of(&format!(
        "name: r, match: [{{name: a, uri: {{prefix: /a}}}}, {{uri: {{prefix: /b}}}}], {TO_SERVICE}, \
         timeout: 2s, fault: {{abort: {{httpStatus: 418}}}}"
    ))
    .unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0]["match"]["prefix"], "/a");
    assert_eq!(routes[1]["match"]["prefix"], "/b");
    assert_eq!(routes[0]["route"], routes[1]["route"]);
    assert_eq!(routes[0]["route"]["timeout"], "2s");
    for r in &routes {
        assert_eq!(
            r["typed_per_filter_config"]["envoy.filters.http.fault"]["abort"],
            json!({"http_status": 418}),
            "an abort without percentage has none (TranslateFault sets it only when given)"
        );
    }
}

/// translateRoute: `routeName := in.Name`, then `+ "." + match.Name` when the match has one.
#[test]
fn route_names_join_the_rule_and_match_names_like_translate_route() {
    let cases = [
        ("name: r, match: [{name: m, uri: {prefix: /}}]", Some("r.m")),
        ("name: r, match: [{uri: {prefix: /}}]", Some("r")),
        ("name: r", Some("r")),
        ("match: [{name: m, uri: {prefix: /}}]", Some(".m")),
        ("match: [{uri: {prefix: /}}]", None),
    ];
    for (fields, want) in cases {
        let routes = routes_of(&format!("{fields}, {TO_SERVICE}")).unwrap();
        assert_eq!(
            routes[0].get("name").and_then(Value::as_str),
            want,
            "{fields}"
        );
    }
}

/// applyHTTPRouteDestination: one destination → `cluster` whatever its weight; several →
/// `weighted_clusters` without those of weight 0; the port from the destination.
#[test]
fn destinations_become_a_cluster_or_weighted_clusters_like_istiod() {
    let cases = [
        (
            "one destination without weight",
            "route: [{destination: {host: recommendation, subset: version-v1}}]",
            json!({"cluster": cluster("version-v1")}),
        ),
        (
            "one destination: its weight is not used",
            "route: [{destination: {host: recommendation}, weight: 30}]",
            json!({"cluster": cluster("")}),
        ),
        (
            "weight 0 is left out even if one destination remains",
            "route: [{destination: {host: recommendation, subset: version-v1}, weight: 100}, \
             {destination: {host: recommendation, subset: version-v2}, weight: 0}]",
            json!({"weighted_clusters": {"clusters": [{"name": cluster("version-v1"), "weight": 100}]}}),
        ),
        (
            "the destination's port names the cluster",
            "route: [{destination: {host: recommendation, port: {number: 9090}}}]",
            json!({"cluster": format!("outbound|9090||{FQDN}")}),
        ),
        (
            "order is kept",
            "route: [{destination: {host: recommendation, subset: b}, weight: 60}, \
             {destination: {host: recommendation, subset: a}, weight: 40}]",
            json!({"weighted_clusters": {"clusters": [
                {"name": cluster("b"), "weight": 60}, {"name": cluster("a"), "weight": 40}]}}),
        ),
    ];
    for (why, fields, want) in cases {
        let mut action = route_action(fields);
        let action = action.as_object_mut().unwrap();
        for key in ["timeout", "retry_policy"] {
            action.remove(key);
        }
        assert_eq!(Value::Object(action.clone()), want, "{why}");
    }
}

#[test]
fn rules_without_a_usable_destination_are_refused() {
    let cases = [
        ("no route at all", "name: r", "at least one destination"),
        (
            "every weight 0 (istiod would send Envoy an empty weighted_clusters, which it rejects)",
            "route: [{destination: {host: recommendation, subset: a}, weight: 0}, \
             {destination: {host: recommendation, subset: b}, weight: 0}]",
            "no positive weight",
        ),
        (
            "a port beyond 65535",
            "route: [{destination: {host: recommendation, port: {number: 70000}}}]",
            "out of range",
        ),
    ];
    for (why, fields, error) in cases {
        let err = routes_of(fields).expect_err(why);
        assert!(err.contains(error), "{why}: {err}");
    }
}

/// setTimeout: the rule's timeout, else 0s (istiod's `Notimeout`: Envoy's default 15 s is disabled).
#[test]
fn timeouts_default_to_zero_and_keep_the_rules_duration() {
    let cases = [
        ("", "0s"),
        ("timeout: 1s, ", "1s"),
        ("timeout: 0s, ", "0s"),
        ("timeout: 1500ms, ", "1.500s"),
        ("timeout: 0.25s, ", "0.250s"),
        ("timeout: 1m, ", "60s"),
    ];
    for (timeout, want) in cases {
        assert_eq!(
            route_action(&format!("{timeout}{TO_SERVICE}"))["timeout"],
            want,
            "{timeout}"
        );
    }
    let err = routes_of(&format!("timeout: soon, {TO_SERVICE}")).unwrap_err();
    assert!(err.starts_with("timeout: "), "{err}");
}

/// `MirrorPercent` and `TranslateRequestMirrorPolicy`.
#[test]
fn mirrors_translate_like_mirror_percent() {
    let to_v2 = cluster("version-v2");
    let cases = [
        (
            "mirrorPercentage in millionths",
            "mirrorPercentage: {value: 50}, ",
            Some(mirror_policy(
                &to_v2,
                json!({"numerator": 500_000, "denominator": "MILLION"}),
            )),
        ),
        (
            "mirrorPercentage 0: no mirror",
            "mirrorPercentage: {value: 0}, ",
            None,
        ),
        (
            "the deprecated integer mirrorPercent in hundredths",
            "mirrorPercent: 30, ",
            Some(mirror_policy(&to_v2, json!({"numerator": 30}))),
        ),
        ("mirrorPercent 0: no mirror", "mirrorPercent: 0, ", None),
        (
            "mirrorPercentage wins over mirrorPercent",
            "mirrorPercentage: {value: 1}, mirrorPercent: 30, ",
            Some(mirror_policy(
                &to_v2,
                json!({"numerator": 10_000, "denominator": "MILLION"}),
            )),
        ),
        (
            "no percentage: everything (100 of HUNDRED)",
            "",
            Some(mirror_policy(&to_v2, json!({"numerator": 100}))),
        ),
    ];
    for (why, pct, want) in cases {
        let action = route_action(&format!(
            "mirror: {{host: recommendation, subset: version-v2}}, {pct}{TO_SERVICE}"
        ));
        assert_eq!(
            action.get("request_mirror_policies").cloned(),
            want,
            "{why}"
        );
    }
    let action = route_action(&format!(
        "mirror: {{host: recommendation, port: {{number: 9090}}}}, {TO_SERVICE}"
    ));
    assert_eq!(
        action["request_mirror_policies"][0]["cluster"],
        format!("outbound|9090||{FQDN}"),
        "the mirror's port names its cluster"
    );
    assert!(
        route_action(TO_SERVICE)
            .get("request_mirror_policies")
            .is_none()
    );
}

/// applyHTTPRouteDestination: `rewrite.uri` → `prefix_rewrite`, `rewrite.authority` →
/// `host_rewrite_literal`.
#[test]
fn rewrites_set_prefix_and_host_like_istiod() {
    let action = route_action(&format!(
        "match: [{{uri: {{prefix: /customer}}}}], rewrite: {{uri: /}}, {TO_SERVICE}"
    ));
    assert_eq!(action["prefix_rewrite"], "/");
    assert!(action.get("host_rewrite_literal").is_none());
    let action = route_action(&format!(
        "rewrite: {{uri: /v2/, authority: recommendation-v2}}, {TO_SERVICE}"
    ));
    assert_eq!(action["prefix_rewrite"], "/v2/");
    assert_eq!(action["host_rewrite_literal"], "recommendation-v2");
    let plain = route_action(TO_SERVICE);
    assert!(plain.get("prefix_rewrite").is_none() && plain.get("host_rewrite_literal").is_none());
}

/// translatePercentToFractionalPercent: `uint32(p.Value * 10000)`, truncating like Go's conversion
/// (0.57 * 10000 is 5699.999… in binary floating point).
#[test]
fn percentages_are_millionths_truncated_like_istiod() {
    for (value, numerator) in [
        (100.0, 1_000_000),
        (50.0, 500_000),
        (12.5, 125_000),
        (0.1, 1_000),
        (0.0001, 1),
        (0.57, 5_699),
    ] {
        assert_eq!(
            to_json(&percent(value)),
            json!({"numerator": numerator, "denominator": "MILLION"}),
            "{value}"
        );
    }
}
