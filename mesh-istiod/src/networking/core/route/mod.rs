//! A VirtualService `http` rule → Envoy routes, the way istiod's pilot/pkg/networking/core/route/route.go
//! does it for sidecars and gateways alike (`TranslateRoute`, `TranslateRouteMatch`, `translateHeaderMatch`,
//! `applyHTTPRouteDestination`, `setTimeout`, `MirrorPercent`, `TranslateRequestMirrorPolicy`); the retry
//! policy is [`retry`]'s (route/retry/retry.go), the fault filter config [`fault`]'s (`TranslateFault`),
//! and the duration fields go through [`duration`].
//!
//! One route per `match` entry (no match: one catch-all `prefix: /`; `headers` and `withoutHeaders` become
//! header matchers sorted by name, the `withoutHeaders` ones with `invert_match`), timeout `0s` (disabled) unless
//! given, the default retry policy unless `retries` says otherwise (`attempts: 0` = none), weighted
//! clusters skipping weight 0, mirror policies with the shadow-host suffix disabled (istiod's
//! `DISABLE_SHADOW_HOST_SUFFIX` default from 1.28: [`IstioRelease`]), fault filter config per route.

pub mod duration;
pub mod fault;
pub mod retry;

use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttp, VirtualServiceHttpMatch,
};
use serde_json::{Value, json};

use crate::model::release::IstioRelease;
use crate::networking::core::route::duration::duration_field;
use crate::networking::core::route::fault::{FAULT_FILTER, fault_config};
use crate::networking::core::route::retry::{default_retry_policy, retry_policy};

/// `translatePercentToFractionalPercent`: a percentage as millionths.
pub fn percent(value: f64) -> Value {
    json!({"numerator": (value * 10_000.0) as u32, "denominator": "MILLION"})
}

/// `translateIntegerToFractionalPercent`: an integer percentage.
fn integer_percent(value: i64) -> Value {
    json!({"numerator": value, "denominator": "HUNDRED"})
}

/// `translateHeaderMatch`: header `name` held to exact, prefix or regex; none of them, or regex `*`
/// (not RE2: istiod's `canBeConvertedToPresentMatch`), only asks for the header to be present.
fn header_match(
    name: &str,
    exact: Option<&String>,
    prefix: Option<&String>,
    regex: Option<&String>,
) -> Value {
    let string_match = if let Some(v) = exact {
        json!({"exact": v})
    } else if let Some(v) = prefix {
        json!({"prefix": v})
    } else if let Some(v) = regex.filter(|v| *v != "*") {
        json!({"safe_regex": {"regex": v}})
    } else {
        return json!({"name": name, "present_match": true});
    };
    json!({"name": name, "string_match": string_match})
}

/// `TranslateRouteMatch` for the fields the lab takes: headers and withoutHeaders (exact, prefix,
/// regex; a withoutHeaders matcher is inverted and, unless a presence match, treats a missing header
/// as empty), sorted by name, and uri (exact, prefix, regex).
pub fn route_match(m: Option<&VirtualServiceHttpMatch>) -> Value {
    let mut out = json!({"prefix": "/"});
    let Some(m) = m else { return out };
    let mut headers = Vec::new();
    for (name, h) in m.headers.iter().flatten() {
        headers.push(header_match(
            name,
            h.exact.as_ref(),
            h.prefix.as_ref(),
            h.regex.as_ref(),
        ));
    }
    for (name, h) in m.without_headers.iter().flatten() {
        let mut matcher = header_match(name, h.exact.as_ref(), h.prefix.as_ref(), h.regex.as_ref());
        matcher["invert_match"] = json!(true);
        if matcher.get("present_match").is_none() {
            matcher["treat_missing_header_as_empty"] = json!(true);
        }
        headers.push(matcher);
    }
    // istiod sorts the matchers by name; with a name in both maps the headers one comes first here.
    headers.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
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
    istio: IstioRelease,
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
            }]);
            if istio.shadow_host_suffix_disabled() {
                action["request_mirror_policies"][0]["disable_shadow_host_suffix_append"] =
                    json!(true);
            }
        }
    }
    if let Some(policy) = retry_policy(http.retries.as_ref(), istio)? {
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
                route["typed_per_filter_config"] = json!({FAULT_FILTER: f});
            }
            route
        })
        .collect())
}

/// istiod's default route towards a service port without a VirtualService (`BuildDefaultHTTPOutboundRoute`).
pub fn default_route(cluster: &str, istio: IstioRelease) -> Value {
    json!({
        "name": "default",
        "match": {"prefix": "/"},
        "route": {"cluster": cluster, "timeout": "0s", "retry_policy": default_retry_policy(istio)},
    })
}

#[cfg(test)]
mod tests;
