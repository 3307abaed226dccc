//! A VirtualService `http` rule → Envoy routes, the way istiod's pilot/pkg/networking/core/route/route.go
//! does it for sidecars and gateways alike (`TranslateRoute`, `TranslateRouteMatch`, `translateHeaderMatch`,
//! `applyHTTPRouteDestination`, `setTimeout`, `MirrorPercent`, `TranslateRequestMirrorPolicy`,
//! `TranslateFault`) and route/retry/retry.go (`ConvertPolicy`, `parseRetryOn`).
//!
//! One route per `match` entry (no match: one catch-all `prefix: /`), timeout `0s` (disabled) unless
//! given, the default retry policy unless `retries` says otherwise (`attempts: 0` = none), weighted
//! clusters skipping weight 0, mirror policies with the shadow-host suffix disabled (istiod's
//! `DISABLE_SHADOW_HOST_SUFFIX` default), fault filter config per route.

use std::time::Duration;

use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttp, VirtualServiceHttpFault, VirtualServiceHttpMatch, VirtualServiceHttpRetries,
};
use serde_json::{Value, json};

/// Parses an Istio (protobuf) duration: `3s`, `0.5s`, `500ms`, `1m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 3s, 500ms, 1m)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let secs = match unit {
            "h" => value * 3600.0,
            "m" => value * 60.0,
            "s" => value,
            "ms" => value / 1e3,
            "us" | "µs" => value / 1e6,
            "ns" => value / 1e9,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Ok(total)
}

/// A duration in protobuf JSON form (`3s`, `0.500s`).
pub fn envoy_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
        format!("{}s", s.trim_end_matches('0'))
    }
}

/// An Istio duration field in Envoy form; the error names the field.
pub fn duration_field(field: &str, value: &str) -> Result<String, String> {
    parse_duration(value)
        .map(envoy_duration)
        .map_err(|e| format!("{field}: {e}"))
}

/// `translatePercentToFractionalPercent`: a percentage as millionths.
pub fn percent(value: f64) -> Value {
    json!({"numerator": (value * 10_000.0) as u32, "denominator": "MILLION"})
}

/// `translateIntegerToFractionalPercent`: an integer percentage.
fn integer_percent(value: i64) -> Value {
    json!({"numerator": value, "denominator": "HUNDRED"})
}

const PREVIOUS_HOSTS: &str = "envoy.retry_host_predicates.previous_hosts";

/// istiod's default retry policy for outbound routes (route/retry/retry.go `DefaultPolicy`).
pub fn default_retry_policy() -> Value {
    json!({
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
        "host_selection_retry_max_attempts": 5,
        "retry_host_predicate": [{
            "name": PREVIOUS_HOSTS,
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}
        }]
    })
}

/// istiod's `ConvertPolicy`: `None` means "no retry policy at all" (attempts 0).
pub fn retry_policy(r: Option<&VirtualServiceHttpRetries>) -> Result<Option<Value>, String> {
    let mut out = default_retry_policy();
    let Some(r) = r else { return Ok(Some(out)) };
    let attempts = r.attempts.unwrap_or(0);
    if attempts <= 0 {
        return Ok(None);
    }
    out["num_retries"] = json!(attempts);
    if let Some(on) = r.retry_on.as_deref().filter(|s| !s.is_empty()) {
        let (mut names, mut codes) = (Vec::new(), Vec::new());
        for part in on.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<u16>() {
                Ok(code) if (100..600).contains(&code) => codes.push(code),
                _ => names.push(part.to_owned()),
            }
        }
        let mut retry_on = names.join(",");
        if !codes.is_empty() && !retry_on.contains("retriable-status-codes") {
            retry_on.push_str(",retriable-status-codes");
        }
        out["retry_on"] = json!(retry_on);
        if !codes.is_empty() {
            out["retriable_status_codes"] = json!(codes);
        }
    }
    if let Some(t) = r.per_try_timeout.as_deref() {
        out["per_try_timeout"] = json!(duration_field("retries.perTryTimeout", t)?);
    }
    Ok(Some(out))
}

/// `TranslateFault`: the fault filter's per-route config.
pub fn fault_config(f: &VirtualServiceHttpFault) -> Result<Value, String> {
    let mut out =
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"});
    if let Some(d) = &f.delay {
        let fixed = d
            .fixed_delay
            .as_deref()
            .ok_or("fault.delay needs fixedDelay")?;
        let pct = match (&d.percentage, d.percent) {
            (Some(p), _) => percent(p.value.unwrap_or(0.0)),
            (None, p) => integer_percent(i64::from(p.unwrap_or(0))),
        };
        out["delay"] = json!({
            "fixed_delay": duration_field("fault.delay.fixedDelay", fixed)?,
            "percentage": pct,
        });
    }
    if let Some(a) = &f.abort {
        let status = a.http_status.ok_or("fault.abort needs httpStatus")?;
        let mut abort = json!({"http_status": status});
        if let Some(p) = &a.percentage {
            abort["percentage"] = percent(p.value.unwrap_or(0.0));
        }
        out["abort"] = abort;
    }
    Ok(out)
}

/// `TranslateRouteMatch` for the fields the lab takes: headers (exact, prefix, regex, sorted by
/// name) and uri (exact, prefix, regex).
pub fn route_match(m: Option<&VirtualServiceHttpMatch>) -> Value {
    let mut out = json!({"prefix": "/"});
    let Some(m) = m else { return out };
    let mut headers = Vec::new();
    for (name, h) in m.headers.iter().flatten() {
        let string_match = if let Some(v) = &h.exact {
            json!({"exact": v})
        } else if let Some(v) = &h.prefix {
            json!({"prefix": v})
        } else if let Some(v) = h.regex.as_ref().filter(|v| *v != "*") {
            json!({"safe_regex": {"regex": v}})
        } else {
            // No match type, or regex `*` (not RE2): istiod's `canBeConvertedToPresentMatch`.
            headers.push(json!({"name": name, "present_match": true}));
            continue;
        };
        headers.push(json!({"name": name, "string_match": string_match}));
    }
    if let Some(u) = &m.uri {
        out = if let Some(v) = &u.exact {
            json!({"path": v})
        } else if let Some(v) = &u.prefix {
            json!({"prefix": v})
        } else if let Some(v) = &u.regex {
            json!({"safe_regex": {"regex": v}})
        } else {
            out
        };
    }
    out["case_sensitive"] = json!(!m.ignore_uri_case.unwrap_or(false));
    if !headers.is_empty() {
        out["headers"] = json!(headers);
    }
    out
}

/// Where a destination (`host`, `subset`, `port`) goes: istiod's cluster name.
pub trait Destinations {
    fn cluster(&self, host: &str, subset: Option<&str>, port: Option<u16>) -> String;
}

fn port_of(n: Option<i64>) -> Result<Option<u16>, String> {
    n.map(|n| u16::try_from(n).map_err(|_| format!("destination port {n} out of range")))
        .transpose()
}

/// One `http` rule → its Envoy routes (one per `match` entry).
pub fn http_routes(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
) -> Result<Vec<Value>, String> {
    let targets = http.route.as_deref().unwrap_or_default();
    if targets.is_empty() {
        return Err("http[].route must name at least one destination".into());
    }
    let timeout = match http.timeout.as_deref() {
        Some(t) => duration_field("timeout", t)?,
        None => "0s".into(),
    };
    let mut action = json!({"timeout": timeout});
    if let Some(uri) = http.rewrite.as_ref().and_then(|r| r.uri.as_deref()) {
        action["prefix_rewrite"] = json!(uri);
    }
    if let Some(a) = http.rewrite.as_ref().and_then(|r| r.authority.as_deref()) {
        action["host_rewrite_literal"] = json!(a);
    }
    let cluster = |d: &mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualServiceHttpRouteDestination| {
        Ok::<_, String>(dests.cluster(
            &d.host,
            d.subset.as_deref(),
            port_of(d.port.as_ref().and_then(|p| p.number))?,
        ))
    };
    if targets.len() == 1 {
        action["cluster"] = json!(cluster(&targets[0].destination)?);
    } else {
        let mut clusters = Vec::new();
        for t in targets.iter().filter(|t| t.weight.unwrap_or(0) != 0) {
            clusters.push(json!({"name": cluster(&t.destination)?, "weight": t.weight}));
        }
        if clusters.is_empty() {
            return Err("weighted destinations with no positive weight".into());
        }
        action["weighted_clusters"] = json!({"clusters": clusters});
    }
    if let Some(m) = &http.mirror {
        let pct = match (&http.mirror_percentage, http.mirror_percent) {
            (Some(p), _) => Some(p.value.unwrap_or(0.0))
                .filter(|v| *v > 0.0)
                .map(percent),
            (None, Some(p)) => Some(p).filter(|v| *v > 0).map(integer_percent),
            (None, None) => Some(integer_percent(100)),
        };
        if let Some(pct) = pct {
            let c = dests.cluster(
                &m.host,
                m.subset.as_deref(),
                port_of(m.port.as_ref().and_then(|p| p.number))?,
            );
            action["request_mirror_policies"] = json!([{
                "cluster": c,
                "runtime_fraction": {"default_value": pct},
                "trace_sampled": false,
                "disable_shadow_host_suffix_append": true,
            }]);
        }
    }
    if let Some(policy) = retry_policy(http.retries.as_ref())? {
        action["retry_policy"] = policy;
    }
    let fault = http.fault.as_ref().map(fault_config).transpose()?;
    let matches: Vec<Option<&VirtualServiceHttpMatch>> = match http.r#match.as_deref() {
        Some(ms) if !ms.is_empty() => ms.iter().map(Some).collect(),
        _ => vec![None],
    };
    Ok(matches
        .into_iter()
        .map(|m| {
            let mut route = json!({"match": route_match(m), "route": action.clone()});
            let name = match (http.name.as_deref(), m.and_then(|m| m.name.as_deref())) {
                (Some(n), Some(mn)) => Some(format!("{n}.{mn}")),
                (Some(n), None) => Some(n.to_owned()),
                (None, Some(mn)) => Some(format!(".{mn}")),
                (None, None) => None,
            };
            if let Some(n) = name {
                route["name"] = json!(n);
            }
            if let Some(f) = &fault {
                route["typed_per_filter_config"] = json!({"envoy.filters.http.fault": f});
            }
            route
        })
        .collect())
}

/// istiod's default route towards a service port without a VirtualService (`BuildDefaultHTTPOutboundRoute`).
pub fn default_route(cluster: &str) -> Value {
    json!({
        "name": "default",
        "match": {"prefix": "/"},
        "route": {"cluster": cluster, "timeout": "0s", "retry_policy": default_retry_policy()},
    })
}

/// The expectations follow istiod's pilot/pkg/networking/core/route/route.go and route/retry/retry.go
/// (read for each rule; see docs/LOCAL-MESH.md), not this module.
#[cfg(test)]
mod tests {
    use mesh_manifests::Resource;
    use serde_json::{Value, json};

    use super::*;
    use crate::fixtures;

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
    fn rules(rules: &str) -> Vec<VirtualServiceHttp> {
        http_rules(fixtures::parse(&format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: recommendation}}\n\
             spec:\n  hosts: [recommendation]\n  http:\n{rules}"
        )))
    }

    /// The routes of one rule given as the fields of an `http` entry (one flow mapping's contents).
    fn routes_of(fields: &str) -> Result<Vec<Value>, String> {
        http_routes(&rules(&format!("  - {{{fields}}}\n"))[0], &Tutorial)
    }

    fn route_action(fields: &str) -> Value {
        let routes = routes_of(fields).unwrap_or_else(|e| panic!("{fields}: {e}"));
        assert_eq!(routes.len(), 1, "{fields}");
        routes[0]["route"].clone()
    }

    const TO_SERVICE: &str = "route: [{destination: {host: recommendation}}]";

    /// retry.go `DefaultPolicy` with `EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY` on (current istiod): no
    /// `retriable_status_codes`, although `retriable-status-codes` stays in `retry_on`.
    fn istiod_default_retry() -> Value {
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
    fn the_default_retry_policy_is_istiods_without_503() {
        assert_eq!(default_retry_policy(), istiod_default_retry());
        assert_eq!(retry_policy(None), Ok(Some(istiod_default_retry())));
    }

    #[test]
    fn the_default_route_is_istiods_build_default_http_outbound_route() {
        assert_eq!(
            default_route("outbound|8080||x"),
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
            f["@type"] =
                json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault");
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
                .map(|h| http_routes(h, &Tutorial).unwrap_or_else(|e| panic!("{file}: {e}")))
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
        ];
        for (why, m, want) in cases {
            let rules = rules(&format!("  - match: [{m}]\n    {TO_SERVICE}\n"));
            let matches = rules[0].r#match.as_deref().unwrap();
            assert_eq!(route_match(Some(&matches[0])), want, "{why}");
        }
        assert_eq!(
            route_match(None),
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
            ("timeout: 1500ms, ", "1.5s"),
            ("timeout: 0.25s, ", "0.25s"),
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

    /// retry.go `ConvertPolicy` and `parseRetryOn`.
    #[test]
    fn retries_convert_like_convert_policy() {
        let default = istiod_default_retry();
        let set = |pairs: &[(&str, Value)]| {
            let mut v = istiod_default_retry();
            for (k, x) in pairs {
                v[*k] = x.clone();
            }
            Some(v)
        };
        let cases: Vec<(&str, &str, Option<Value>)> = vec![
            ("no retries: the default policy", "", Some(default.clone())),
            (
                "attempts 0 disables retries",
                "retries: {attempts: 0}, ",
                None,
            ),
            (
                "negative attempts disable retries too",
                "retries: {attempts: -1}, ",
                None,
            ),
            (
                "attempts alone keeps the default retry_on",
                "retries: {attempts: 5}, ",
                set(&[("num_retries", json!(5))]),
            ),
            (
                "status codes move to retriable_status_codes and retriable-status-codes is appended",
                "retries: {attempts: 3, retryOn: 'gateway-error,503,504'}, ",
                set(&[
                    ("num_retries", json!(3)),
                    ("retry_on", json!("gateway-error,retriable-status-codes")),
                    ("retriable_status_codes", json!([503, 504])),
                ]),
            ),
            (
                "retriable-status-codes already named is not appended twice",
                "retries: {attempts: 3, retryOn: 'retriable-status-codes,503'}, ",
                set(&[
                    ("num_retries", json!(3)),
                    ("retry_on", json!("retriable-status-codes")),
                    ("retriable_status_codes", json!([503])),
                ]),
            ),
            (
                "codes only: istiod appends to an empty string, leaving a leading comma",
                "retries: {attempts: 2, retryOn: '503'}, ",
                set(&[
                    ("retry_on", json!(",retriable-status-codes")),
                    ("retriable_status_codes", json!([503])),
                ]),
            ),
            (
                "parts are trimmed and empty parts dropped",
                "retries: {attempts: 2, retryOn: ' 5xx , ,reset '}, ",
                set(&[("retry_on", json!("5xx,reset"))]),
            ),
            (
                "perTryTimeout in Envoy's duration form",
                "retries: {attempts: 2, perTryTimeout: 500ms}, ",
                set(&[("per_try_timeout", json!("0.5s"))]),
            ),
        ];
        for (why, retries, want) in cases {
            let action = route_action(&format!("{retries}{TO_SERVICE}"));
            assert_eq!(action.get("retry_policy").cloned(), want, "{why}");
        }
        let err = routes_of(&format!(
            "retries: {{attempts: 2, perTryTimeout: x}}, {TO_SERVICE}"
        ))
        .unwrap_err();
        assert!(err.starts_with("retries.perTryTimeout: "), "{err}");
    }

    /// `TranslateFault`: percentages as millionths (`percentage`) or hundredths (the deprecated integer
    /// `percent`, 0 when neither is given); an abort has a percentage only when one is given.
    #[test]
    fn faults_translate_like_translate_fault() {
        let million = |n: u32| json!({"numerator": n, "denominator": "MILLION"});
        let hundred = |n: u32| json!({"numerator": n, "denominator": "HUNDRED"});
        let cases = [
            (
                "delay with percentage",
                "{delay: {fixedDelay: 7s, percentage: {value: 50}}}",
                json!({"delay": {"fixed_delay": "7s", "percentage": million(500_000)}}),
            ),
            (
                "delay with the integer percent",
                "{delay: {fixedDelay: 500ms, percent: 30}}",
                json!({"delay": {"fixed_delay": "0.5s", "percentage": hundred(30)}}),
            ),
            (
                "delay with no percentage at all: translateIntegerToFractionalPercent(0)",
                "{delay: {fixedDelay: 1s}}",
                json!({"delay": {"fixed_delay": "1s", "percentage": hundred(0)}}),
            ),
            (
                "a fraction of a percent",
                "{abort: {httpStatus: 500, percentage: {value: 0.1}}}",
                json!({"abort": {"http_status": 500, "percentage": million(1_000)}}),
            ),
            (
                "delay and abort together",
                "{abort: {httpStatus: 503, percentage: {value: 10}}, delay: {fixedDelay: 2s, percentage: {value: 100}}}",
                json!({"abort": {"http_status": 503, "percentage": million(100_000)},
                       "delay": {"fixed_delay": "2s", "percentage": million(1_000_000)}}),
            ),
        ];
        for (why, fault, want) in cases {
            let routes = routes_of(&format!("fault: {fault}, {TO_SERVICE}")).unwrap();
            let mut want = want;
            want["@type"] =
                json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault");
            assert_eq!(
                routes[0]["typed_per_filter_config"],
                json!({"envoy.filters.http.fault": want}),
                "{why}"
            );
        }
        for (fault, error) in [
            (
                "{delay: {percentage: {value: 5}}}",
                "fault.delay needs fixedDelay",
            ),
            (
                "{abort: {percentage: {value: 5}}}",
                "fault.abort needs httpStatus",
            ),
            ("{delay: {fixedDelay: later}}", "fault.delay.fixedDelay: "),
        ] {
            let err = routes_of(&format!("fault: {fault}, {TO_SERVICE}")).unwrap_err();
            assert!(err.starts_with(error), "{fault}: {err}");
        }
        assert!(
            route_action(TO_SERVICE)
                .get("typed_per_filter_config")
                .is_none()
                && routes_of(TO_SERVICE).unwrap()[0]
                    .get("typed_per_filter_config")
                    .is_none(),
            "no fault: no per-route fault config"
        );
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
                Some(mirror_policy(
                    &to_v2,
                    json!({"numerator": 30, "denominator": "HUNDRED"}),
                )),
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
                Some(mirror_policy(
                    &to_v2,
                    json!({"numerator": 100, "denominator": "HUNDRED"}),
                )),
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
        assert!(
            plain.get("prefix_rewrite").is_none() && plain.get("host_rewrite_literal").is_none()
        );
    }

    #[test]
    fn durations_parse_istio_forms_and_print_protobuf_json() {
        let ok = [
            ("3s", "3s"),
            ("0.5s", "0.5s"),
            ("500ms", "0.5s"),
            ("1m30s", "90s"),
            ("1h", "3600s"),
            ("2m", "120s"),
            ("250us", "0.00025s"),
            ("10ns", "0.00000001s"),
            ("0s", "0s"),
        ];
        for (istio, envoy) in ok {
            assert_eq!(
                parse_duration(istio).map(envoy_duration).as_deref(),
                Ok(envoy),
                "{istio}"
            );
        }
        for bad in ["", "5", "5x", "-1s", "s", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(
            duration_field("timeout", "x").unwrap_err(),
            "timeout: \"x\" is not a duration (e.g. 3s, 500ms, 1m)"
        );
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
                percent(value),
                json!({"numerator": numerator, "denominator": "MILLION"}),
                "{value}"
            );
        }
    }
}
