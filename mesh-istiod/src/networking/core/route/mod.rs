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

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
use envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier;
use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_action::{
    ClusterSpecifier, HostRewriteSpecifier, RequestMirrorPolicy,
};
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::weighted_cluster::{ClusterWeight, cluster_weight};
use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, Route, RouteAction, RouteMatch, WeightedCluster,
};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::matcher::v3::{RegexMatcher, StringMatcher};
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
use envoy_types::pb::google::protobuf::{BoolValue, Duration, UInt32Value};
use envoy_types::util::pack_any;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttp, VirtualServiceHttpMatch, VirtualServiceHttpRoute,
    VirtualServiceHttpRouteDestination,
};

use crate::model::registry::{MESH_PORT, NAMESPACE};
use crate::model::release::IstioRelease;
use crate::model::sidecar::Labels;
use crate::networking::core::route::cors::{CORS_FILTER, cors_policy};
use crate::networking::core::route::duration::duration;
use crate::networking::core::route::fault::{FAULT_FILTER, fault_config};
use crate::networking::core::route::redirect::redirect_action;
use crate::networking::core::route::retry::{default_retry_policy, retry_policy};

/// `translatePercentToFractionalPercent`: a percentage as millionths.
pub fn percent(value: f64) -> FractionalPercent {
    FractionalPercent {
        numerator: (value * 10_000.0) as u32,
        denominator: DenominatorType::Million.into(),
    }
}

/// `translateIntegerToFractionalPercent`: an integer percentage.
fn integer_percent(value: i64) -> FractionalPercent {
    FractionalPercent {
        numerator: value.clamp(0, i64::from(u32::MAX)) as u32,
        denominator: DenominatorType::Hundred.into(),
    }
}

/// A `BoolValue` wrapper.
pub fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// An RE2 regular expression (`safe_regex`).
pub fn safe_regex(regex: &str) -> RegexMatcher {
    RegexMatcher {
        regex: regex.to_owned(),
        ..RegexMatcher::default()
    }
}

/// util.go `ConvertToEnvoyMatch`: an Istio string match (exact, else prefix, else regex) as Envoy's.
pub fn string_match(
    exact: Option<&String>,
    prefix: Option<&String>,
    regex: Option<&String>,
) -> Option<StringMatcher> {
    let pattern = if let Some(v) = exact {
        MatchPattern::Exact(v.clone())
    } else if let Some(v) = prefix {
        MatchPattern::Prefix(v.clone())
    } else {
        MatchPattern::SafeRegex(safe_regex(regex?))
    };
    Some(StringMatcher {
        match_pattern: Some(pattern),
        ..StringMatcher::default()
    })
}

/// `translateHeaderMatch`: header `name` held to exact, prefix or regex; none of them, or regex `*`
/// (not RE2: istiod's `canBeConvertedToPresentMatch`), only asks for the header to be present.
fn header_match(
    name: &str,
    exact: Option<&String>,
    prefix: Option<&String>,
    regex: Option<&String>,
) -> HeaderMatcher {
    let specifier = match string_match(exact, prefix, regex.filter(|v| *v != "*")) {
        Some(m) => HeaderMatchSpecifier::StringMatch(m),
        None => HeaderMatchSpecifier::PresentMatch(true),
    };
    HeaderMatcher {
        name: name.to_owned(),
        header_match_specifier: Some(specifier),
        ..HeaderMatcher::default()
    }
}

/// The match of every path (`prefix: /`).
pub fn prefix_all() -> RouteMatch {
    RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".into())),
        ..RouteMatch::default()
    }
}

/// `TranslateRouteMatch` for the fields the lab takes: headers and withoutHeaders (exact, prefix,
/// regex; a withoutHeaders matcher is inverted and, unless a presence match, treats a missing header
/// as empty), sorted by name, and uri (exact, prefix, regex).
pub fn route_match(m: Option<&VirtualServiceHttpMatch>) -> RouteMatch {
    let mut out = prefix_all();
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
        matcher.invert_match = true;
        matcher.treat_missing_header_as_empty = !matches!(
            matcher.header_match_specifier,
            Some(HeaderMatchSpecifier::PresentMatch(_))
        );
        headers.push(matcher);
    }
    // istiod sorts the matchers by name; with a name in both maps the headers one comes first here.
    headers.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(u) = &m.uri {
        let path = if let Some(v) = &u.exact {
            Some(PathSpecifier::Path(v.clone()))
        } else if let Some(v) = &u.prefix {
            Some(PathSpecifier::Prefix(v.clone()))
        } else {
            u.regex
                .as_deref()
                .map(|v| PathSpecifier::SafeRegex(safe_regex(v)))
        };
        if path.is_some() {
            out.path_specifier = path;
        }
    }
    out.case_sensitive = bool_value(!m.ignore_uri_case.unwrap_or(false));
    out.headers = headers;
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

/// A destination's cluster.
fn cluster_of(
    dests: &dyn Destinations,
    d: &VirtualServiceHttpRouteDestination,
) -> Result<String, String> {
    Ok(dests.cluster(
        &d.host,
        d.subset.as_deref(),
        port_of(d.port.as_ref().and_then(|p| p.number))?,
    ))
}

/// A destination's own header operations.
fn destination_ops(t: &VirtualServiceHttpRoute) -> Option<headers::HeaderOps> {
    t.headers
        .as_ref()
        .map(|h| headers::header_ops(&headers::of_destination(h)))
}

/// A route action to `cluster` with the timeout disabled (`0s`), as istiod's default routes have it.
pub fn to_cluster(cluster: &str) -> RouteAction {
    RouteAction {
        cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_owned())),
        timeout: Some(Duration::default()),
        ..RouteAction::default()
    }
}

/// `applyHTTPRouteDestination` (with `processDestination` / `processWeightedDestination`): the route
/// action towards the rule's destinations; a single destination's header operations go on `route`,
/// weighted ones on their cluster; `authority` is the one the rule's `headers` set.
fn route_action(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    authority: Option<&str>,
    route: &mut Route,
    istio: IstioRelease,
) -> Result<RouteAction, String> {
    let targets = http.route.as_deref().unwrap_or_default();
    if targets.is_empty() {
        return Err("http[].route must name at least one destination".into());
    }
    let timeout = match http.timeout.as_deref() {
        Some(t) => duration("timeout", t)?,
        None => Duration::default(),
    };
    let rewrite = http.rewrite.as_ref();
    let mut action = RouteAction {
        timeout: Some(timeout),
        prefix_rewrite: rewrite.and_then(|r| r.uri.clone()).unwrap_or_default(),
        host_rewrite_specifier: rewrite
            .and_then(|r| r.authority.clone())
            .or(authority.map(str::to_owned))
            .map(HostRewriteSpecifier::HostRewriteLiteral),
        ..RouteAction::default()
    };
    let specifier = if let [only] = targets {
        if let Some(ops) = destination_ops(only) {
            ops.apply(route);
            if action.host_rewrite_specifier.is_none() {
                action.host_rewrite_specifier =
                    ops.authority.map(HostRewriteSpecifier::HostRewriteLiteral);
            }
        }
        ClusterSpecifier::Cluster(cluster_of(dests, &only.destination)?)
    } else {
        ClusterSpecifier::WeightedClusters(weighted_clusters(targets, dests)?)
    };
    action.cluster_specifier = Some(specifier);
    action.request_mirror_policies = mirror_policy(http, dests, istio)?.into_iter().collect();
    action.retry_policy = retry_policy(http.retries.as_ref(), istio)?;
    Ok(action)
}

/// `processWeightedDestination`: the destinations of positive weight, each with its own header
/// operations and authority.
fn weighted_clusters(
    targets: &[VirtualServiceHttpRoute],
    dests: &dyn Destinations,
) -> Result<WeightedCluster, String> {
    let mut clusters = Vec::new();
    for t in targets.iter().filter(|t| t.weight.unwrap_or(0) != 0) {
        let weight = t.weight.unwrap_or(0);
        let value = u32::try_from(weight).map_err(|_| format!("weight {weight} out of range"))?;
        let mut c = ClusterWeight {
            name: cluster_of(dests, &t.destination)?,
            weight: Some(UInt32Value { value }),
            ..ClusterWeight::default()
        };
        if let Some(ops) = destination_ops(t) {
            ops.apply(&mut c);
            c.host_rewrite_specifier = ops
                .authority
                .map(cluster_weight::HostRewriteSpecifier::HostRewriteLiteral);
        }
        clusters.push(c);
    }
    if clusters.is_empty() {
        return Err("weighted destinations with no positive weight".into());
    }
    Ok(WeightedCluster {
        clusters,
        ..WeightedCluster::default()
    })
}

/// `MirrorPercent` and `TranslateRequestMirrorPolicy`: the rule's mirror, unless its percentage is 0.
fn mirror_policy(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    istio: IstioRelease,
) -> Result<Option<RequestMirrorPolicy>, String> {
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
    let cluster = dests.cluster(
        &m.host,
        m.subset.as_deref(),
        port_of(m.port.as_ref().and_then(|p| p.number))?,
    );
    Ok(Some(RequestMirrorPolicy {
        cluster,
        runtime_fraction: Some(RuntimeFractionalPercent {
            default_value: Some(pct),
            ..RuntimeFractionalPercent::default()
        }),
        trace_sampled: bool_value(false),
        disable_shadow_host_suffix_append: istio.shadow_host_suffix_disabled(),
        ..RequestMirrorPolicy::default()
    }))
}

/// One `http` rule → its Envoy routes (one per `match` entry) as every proxy sees it: for rules none of
/// whose matches names a source (the egress rules, which take no `match`).
pub fn http_routes(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    istio: IstioRelease,
) -> Result<Vec<Route>, String> {
    http_routes_for(http, dests, None, istio)
}

/// What every route of one rule shares: route-level header operations, then the redirect or the route
/// action, then the fault and CORS filters' per-route configurations.
fn rule_route(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    source: Option<&Source>,
    istio: IstioRelease,
) -> Result<Route, String> {
    let mut base = Route::default();
    let ops = http
        .headers
        .as_ref()
        .map(headers::header_ops)
        .unwrap_or_default();
    ops.apply(&mut base);
    let action = if let Some(r) = &http.redirect {
        let port = source.map_or(MESH_PORT, |s| s.listen_port);
        Action::Redirect(redirect_action(r, port)?)
    } else {
        Action::Route(route_action(
            http,
            dests,
            ops.authority.as_deref(),
            &mut base,
            istio,
        )?)
    };
    base.action = Some(action);
    if let Some(f) = &http.fault {
        let config = pack_any(fault_config(f)?);
        base.typed_per_filter_config
            .insert(FAULT_FILTER.into(), config);
    }
    if let Some(c) = &http.cors_policy {
        let config = pack_any(cors_policy(c)?);
        base.typed_per_filter_config
            .insert(CORS_FILTER.into(), config);
    }
    Ok(base)
}

/// `TranslateRoute` for each `match` entry of one rule, for the proxy `source` (a match whose
/// `sourceLabels` or `gateways` leave it out gives no route there), named after the rule and the match.
pub fn http_routes_for(
    http: &VirtualServiceHttp,
    dests: &dyn Destinations,
    source: Option<&Source>,
    istio: IstioRelease,
) -> Result<Vec<Route>, String> {
    let base = rule_route(http, dests, source, istio)?;
    let matches: Vec<Option<&VirtualServiceHttpMatch>> = match http.r#match.as_deref() {
        Some(ms) if !ms.is_empty() => ms.iter().map(Some).collect(),
        _ => vec![None],
    };
    Ok(matches
        .into_iter()
        .filter(|m| source.is_none_or(|s| source_match(*m, s)))
        .map(|m| {
            let name = match (http.name.as_deref(), m.and_then(|m| m.name.as_deref())) {
                (Some(n), Some(mn)) => format!("{n}.{mn}"),
                (Some(n), None) => n.to_owned(),
                (None, Some(mn)) => format!(".{mn}"),
                (None, None) => String::new(),
            };
            Route {
                name,
                r#match: Some(route_match(m)),
                ..base.clone()
            }
        })
        .collect())
}

/// istiod's default route towards a service port without a VirtualService (`BuildDefaultHTTPOutboundRoute`).
pub fn default_route(cluster: &str, istio: IstioRelease) -> Route {
    Route {
        name: "default".into(),
        r#match: Some(prefix_all()),
        action: Some(Action::Route(RouteAction {
            retry_policy: Some(default_retry_policy(istio)),
            ..to_cluster(cluster)
        })),
        ..Route::default()
    }
}

#[cfg(test)]
mod tests;
