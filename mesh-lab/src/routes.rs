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
        } else if let Some(v) = &h.regex {
            json!({"safe_regex": {"regex": v}})
        } else {
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
