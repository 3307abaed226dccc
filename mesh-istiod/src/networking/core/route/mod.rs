//! A VirtualService `http` rule → Envoy routes, the way istiod's pilot/pkg/networking/core/route/route.go
//! does it for sidecars and gateways alike (`BuildHTTPRoutesForVirtualService`, `sourceMatchHTTP`,
//! `TranslateRoute`, `TranslateRouteMatch`, `translateHeaderMatch`, `applyHTTPRouteDestination`,
//! `processDestination`, `processWeightedDestination`, `setTimeout`, `MirrorPercent`,
//! `TranslateRequestMirrorPolicy`); the retry policy is [`retry`]'s (route/retry/retry.go), the fault filter
//! config [`fault`]'s (`TranslateFault`), header operations [`headers`]' (`TranslateHeadersOperations`), the
//! redirect action [`redirect`]'s (`ApplyRedirect`), the CORS policy [`cors`]'s (`TranslateCORSPolicy`), and
//! the duration fields go through [`duration`].
//!
//! One route per `match` entry kept for the proxy (a match naming `gateways` is kept in the proxies serving
//! one of them, else one with `sourceLabels` in the proxies whose labels hold them; no match: one catch-all
//! `prefix: /`; `headers` and `withoutHeaders` become header matchers sorted by name, the `withoutHeaders`
//! ones with `invert_match`); the rule's header operations on the route, then a `redirect` action or the
//! route action: timeout `0s` (disabled) unless given, the default retry policy unless `retries` says
//! otherwise (`attempts: 0` = none), one destination as `cluster` (its header operations on the route) or
//! weighted clusters skipping weight 0 (each with its own header operations), mirror policies with the
//! shadow-host suffix disabled (istiod's `DISABLE_SHADOW_HOST_SUFFIX` default from 1.28: [`IstioRelease`]);
//! the fault and CORS filter configs per route.

pub mod cors;
pub mod duration;
pub mod fault;
pub mod headers;
pub mod redirect;
pub mod retry;

use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttp, VirtualServiceHttpMatch, VirtualServiceHttpRoute,
    VirtualServiceHttpRouteDestination,
};
use serde_json::{Value, json};

use crate::model::registry::{MESH_PORT, NAMESPACE};
use crate::model::release::IstioRelease;
use crate::model::sidecar::Labels;
use crate::networking::core::route::cors::{CORS_FILTER, cors_policy};
use crate::networking::core::route::duration::duration_field;
use crate::networking::core::route::fault::{FAULT_FILTER, fault_config};
use crate::networking::core::route::redirect::redirect_action;
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

/// The proxy a rule is translated for, as route.go `sourceMatchHTTP` reads it: its workload's labels, the
/// gateways whose routes it serves (`mesh` for a sidecar, `tutorial/<name>` for the ingress gateway's
/// Gateway) and the port of the listener the routes serve (a redirect's `derivePort: FROM_REQUEST_PORT`).
pub struct Source<'a> {
    pub labels: &'a Labels,
    pub gateways: &'a [String],
    pub listen_port: u16,
}

/// A `match.gateways` entry as istiod resolves it: `mesh`, else `<namespace>/<name>` (the lab's
/// namespace when none is written).
pub fn gateway_name(g: &str) -> String {
    if g == "mesh" || g.contains('/') {
        g.to_owned()
    } else {
        format!("{NAMESPACE}/{g}")
    }
}

/// `sourceMatchHTTP`: a match naming gateways applies to the proxies serving one of them; else one with
/// `sourceLabels` applies to the proxies whose labels include them.
fn source_match(m: Option<&VirtualServiceHttpMatch>, source: &Source) -> bool {
    let Some(m) = m else { return true };
    match m.gateways.as_deref() {
        Some(gs) if !gs.is_empty() => gs
            .iter()
            .any(|g| source.gateways.contains(&gateway_name(g))),
        _ => m
            .source_labels
            .iter()
            .flatten()
            .all(|(k, v)| source.labels.get(k) == Some(v)),
    }
}

/// `applyHTTPRouteDestination` (with `processDestination` / `processWeightedDestination`): the route
/// action towards the rule's destinations; a single destination's header operations go on `route`,
/// weighted ones on their cluster; `authority` is the one the rule's `headers` set.
fn route_action(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    authority: Option<&str>,
    route: &mut Value,
    istio: IstioRelease,
) -> Result<Value, String> {
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
    let rewrite = http.rewrite.as_ref().and_then(|r| r.authority.as_deref());
    if let Some(a) = rewrite.or(authority) {
        action["host_rewrite_literal"] = json!(a);
    }
    let cluster = |d: &VirtualServiceHttpRouteDestination| {
        Ok::<_, String>(dests.cluster(
            &d.host,
            d.subset.as_deref(),
            port_of(d.port.as_ref().and_then(|p| p.number))?,
        ))
    };
    let ops_of = |t: &VirtualServiceHttpRoute| {
        t.headers
            .as_ref()
            .map(|h| headers::header_ops(&headers::of_destination(h)))
    };
    if targets.len() == 1 {
        action["cluster"] = json!(cluster(&targets[0].destination)?);
        if let Some(ops) = ops_of(&targets[0]) {
            ops.apply(route);
            if let Some(a) = ops
                .authority
                .filter(|_| action.get("host_rewrite_literal").is_none())
            {
                action["host_rewrite_literal"] = json!(a);
            }
        }
    } else {
        let mut clusters = Vec::new();
        for t in targets.iter().filter(|t| t.weight.unwrap_or(0) != 0) {
            let mut c = json!({"name": cluster(&t.destination)?, "weight": t.weight});
            if let Some(ops) = ops_of(t) {
                ops.apply(&mut c);
                if let Some(a) = ops.authority {
                    c["host_rewrite_literal"] = json!(a);
                }
            }
            clusters.push(c);
        }
        if clusters.is_empty() {
            return Err("weighted destinations with no positive weight".into());
        }
        action["weighted_clusters"] = json!({"clusters": clusters});
    }
    if let Some(m) = mirror_policy(http, dests, istio)? {
        action["request_mirror_policies"] = json!([m]);
    }
    if let Some(policy) = retry_policy(http.retries.as_ref(), istio)? {
        action["retry_policy"] = policy;
    }
    Ok(action)
}

/// `MirrorPercent` and `TranslateRequestMirrorPolicy`: the rule's mirror, unless its percentage is 0.
fn mirror_policy(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    istio: IstioRelease,
) -> Result<Option<Value>, String> {
    let Some(m) = &http.mirror else {
        return Ok(None);
    };
    let pct = match (&http.mirror_percentage, http.mirror_percent) {
        (Some(p), _) => Some(p.value.unwrap_or(0.0))
            .filter(|v| *v > 0.0)
            .map(percent),
        (None, Some(p)) => Some(p).filter(|v| *v > 0).map(integer_percent),
        (None, None) => Some(integer_percent(100)),
    };
    let Some(pct) = pct else { return Ok(None) };
    let c = dests.cluster(
        &m.host,
        m.subset.as_deref(),
        port_of(m.port.as_ref().and_then(|p| p.number))?,
    );
    let mut policy = json!({
        "cluster": c,
        "runtime_fraction": {"default_value": pct},
        "trace_sampled": false,
    });
    if istio.shadow_host_suffix_disabled() {
        policy["disable_shadow_host_suffix_append"] = json!(true);
    }
    Ok(Some(policy))
}

/// One `http` rule → its Envoy routes (one per `match` entry) as every proxy sees it: for rules none of
/// whose matches names a source (the egress rules, which take no `match`).
pub fn http_routes(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    istio: IstioRelease,
) -> Result<Vec<Value>, String> {
    http_routes_for(http, dests, None, istio)
}

/// `TranslateRoute` for each `match` entry of one rule, for the proxy `source` (a match whose
/// `sourceLabels` or `gateways` leave it out gives no route there): route-level header operations, then
/// the redirect or the route action, then the fault and CORS filters' per-route configurations.
pub fn http_routes_for(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    source: Option<&Source>,
    istio: IstioRelease,
) -> Result<Vec<Value>, String> {
    let mut base = json!({});
    let ops = http
        .headers
        .as_ref()
        .map(headers::header_ops)
        .unwrap_or_default();
    ops.apply(&mut base);
    if let Some(r) = &http.redirect {
        let port = source.map_or(MESH_PORT, |s| s.listen_port);
        base["redirect"] = redirect_action(r, port)?;
    } else {
        base["route"] = route_action(http, dests, ops.authority.as_deref(), &mut base, istio)?;
    }
    let mut per_filter = serde_json::Map::new();
    if let Some(f) = &http.fault {
        per_filter.insert(FAULT_FILTER.into(), fault_config(f)?);
    }
    if let Some(c) = &http.cors_policy {
        per_filter.insert(CORS_FILTER.into(), cors_policy(c)?);
    }
    if !per_filter.is_empty() {
        base["typed_per_filter_config"] = Value::Object(per_filter);
    }
    let matches: Vec<Option<&VirtualServiceHttpMatch>> = match http.r#match.as_deref() {
        Some(ms) if !ms.is_empty() => ms.iter().map(Some).collect(),
        _ => vec![None],
    };
    Ok(matches
        .into_iter()
        .filter(|m| source.is_none_or(|s| source_match(*m, s)))
        .map(|m| {
            let mut route = base.clone();
            route["match"] = route_match(m);
            let name = match (http.name.as_deref(), m.and_then(|m| m.name.as_deref())) {
                (Some(n), Some(mn)) => Some(format!("{n}.{mn}")),
                (Some(n), None) => Some(n.to_owned()),
                (None, Some(mn)) => Some(format!(".{mn}")),
                (None, None) => None,
            };
            if let Some(n) = name {
                route["name"] = json!(n);
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
