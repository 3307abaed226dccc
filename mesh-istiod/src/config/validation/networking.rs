//! The networking kinds' admission: ServiceEntry, VirtualService, DestinationRule, Gateway and Sidecar, after
//! pkg/config/validation/validation.go (`ValidateServiceEntry`, `ValidateVirtualService`,
//! `ValidateDestinationRule`, `ValidateGateway`, `ValidateSidecar`), narrowed to what the local mesh
//! translates: each object's fields are held to an allow-list of field paths, and values the lab cannot honour
//! are refused naming the field.

use mesh_manifests::kcr_networking_istio_io::v1::{
    destinationrules::DestinationRule, gateways::Gateway, serviceentries::ServiceEntry,
    sidecars::Sidecar, virtualservices::VirtualService, virtualservices::VirtualServiceHttp,
};

use super::{check_fields, to_value};
use crate::config::host::{is_wildcarded, subset_of};
use crate::model::registry::{NAMESPACE, fqdn};
use crate::networking::core::cluster::TLS_ORIGINATION;
use crate::networking::core::egress::{self};
use crate::networking::core::httproute;
use crate::networking::core::route::{cors, headers, redirect};

pub(super) const SERVICE_ENTRY_FIELDS: &[&str] = &[
    "spec.hosts.*",
    "spec.ports.*.name",
    "spec.ports.*.number",
    "spec.ports.*.protocol",
    "spec.resolution",
    "spec.location",
    "spec.exportTo.*",
];

/// What an egress VirtualService may set: the fields the egress translation reads.
pub(super) const EGRESS_VS_FIELDS: &[&str] = &[
    "spec.hosts.*",
    "spec.gateways.*",
    "spec.exportTo.*",
    "spec.http.*.name",
    "spec.http.*.timeout",
    "spec.http.*.retries.attempts",
    "spec.http.*.retries.perTryTimeout",
    "spec.http.*.retries.retryOn",
    "spec.http.*.retries.retryRemoteLocalities",
    "spec.http.*.fault.delay.fixedDelay",
    "spec.http.*.fault.delay.percentage.value",
    "spec.http.*.fault.delay.percent",
    "spec.http.*.fault.abort.httpStatus",
    "spec.http.*.fault.abort.percentage.value",
    "spec.http.*.route.*.destination.host",
    "spec.http.*.route.*.destination.port.number",
    "spec.http.*.route.*.weight",
];

/// What in-mesh routing (sidecars and the ingress gateway) reads besides the egress fields.
pub(super) const MESH_ONLY_VS_FIELDS: &[&str] = &[
    "spec.http.*.match.*.name",
    "spec.http.*.match.*.headers.*.exact",
    "spec.http.*.match.*.headers.*.prefix",
    "spec.http.*.match.*.headers.*.regex",
    "spec.http.*.match.*.withoutHeaders.*.exact",
    "spec.http.*.match.*.withoutHeaders.*.prefix",
    "spec.http.*.match.*.withoutHeaders.*.regex",
    "spec.http.*.match.*.uri.exact",
    "spec.http.*.match.*.uri.prefix",
    "spec.http.*.match.*.uri.regex",
    "spec.http.*.match.*.ignoreUriCase",
    "spec.http.*.rewrite.uri",
    "spec.http.*.rewrite.authority",
    "spec.http.*.route.*.destination.subset",
    "spec.http.*.mirror.host",
    "spec.http.*.mirror.subset",
    "spec.http.*.mirror.port.number",
    "spec.http.*.mirrorPercentage.value",
    "spec.http.*.mirrorPercent",
    "spec.http.*.match.*.sourceLabels.**",
    "spec.http.*.match.*.gateways.*",
    "spec.http.*.headers.request.set.**",
    "spec.http.*.headers.request.add.**",
    "spec.http.*.headers.request.remove.*",
    "spec.http.*.headers.response.set.**",
    "spec.http.*.headers.response.add.**",
    "spec.http.*.headers.response.remove.*",
    "spec.http.*.route.*.headers.request.set.**",
    "spec.http.*.route.*.headers.request.add.**",
    "spec.http.*.route.*.headers.request.remove.*",
    "spec.http.*.route.*.headers.response.set.**",
    "spec.http.*.route.*.headers.response.add.**",
    "spec.http.*.route.*.headers.response.remove.*",
    "spec.http.*.redirect.uri",
    "spec.http.*.redirect.prefixRewrite",
    "spec.http.*.redirect.authority",
    "spec.http.*.redirect.scheme",
    "spec.http.*.redirect.port",
    "spec.http.*.redirect.derivePort",
    "spec.http.*.redirect.redirectCode",
    "spec.http.*.corsPolicy.allowOrigins.*.exact",
    "spec.http.*.corsPolicy.allowOrigins.*.prefix",
    "spec.http.*.corsPolicy.allowOrigins.*.regex",
    "spec.http.*.corsPolicy.allowMethods.*",
    "spec.http.*.corsPolicy.allowHeaders.*",
    "spec.http.*.corsPolicy.exposeHeaders.*",
    "spec.http.*.corsPolicy.maxAge",
    "spec.http.*.corsPolicy.allowCredentials",
    "spec.http.*.corsPolicy.unmatchedPreflights",
];

/// In-mesh routing's fields: the egress fields and its own.
fn check_mesh_vs_fields(vs: &VirtualService) -> Result<(), String> {
    check_fields(
        &to_value(vs),
        &[EGRESS_VS_FIELDS, MESH_ONLY_VS_FIELDS].concat(),
    )
}

/// A DestinationRule's own fields; its `trafficPolicy` fields ([`POLICY_FIELDS`]) are taken at the top level
/// and per subset (`spec.subsets.*.trafficPolicy`, merged over the top level's block by block).
const MESH_DR_FIELDS: &[&str] = &[
    "spec.host",
    "spec.exportTo.*",
    "spec.subsets.*.name",
    "spec.subsets.*.labels.**",
];

/// The `trafficPolicy` fields networking/core/cluster.rs translates.
const POLICY_FIELDS: &[&str] = &[
    "loadBalancer.simple",
    "connectionPool.tcp.maxConnections",
    "connectionPool.tcp.connectTimeout",
    "connectionPool.http.http1MaxPendingRequests",
    "connectionPool.http.http2MaxRequests",
    "connectionPool.http.maxRequestsPerConnection",
    "connectionPool.http.maxRetries",
    "outlierDetection.consecutive5xxErrors",
    "outlierDetection.consecutiveGatewayErrors",
    "outlierDetection.interval",
    "outlierDetection.baseEjectionTime",
    "outlierDetection.maxEjectionPercent",
    "outlierDetection.minHealthPercent",
    // Deprecated, and read by no istiod translation (cluster_traffic_policy.go `applyOutlierDetection`):
    // taken as on a cluster, where Envoy's default of 5 consecutive 5xx then ejects.
    "outlierDetection.consecutiveErrors",
    "tls.mode",
];

pub(super) fn dr_fields() -> Vec<String> {
    let policy = ["spec.trafficPolicy", "spec.subsets.*.trafficPolicy"]
        .into_iter()
        .flat_map(|base| POLICY_FIELDS.iter().map(move |f| format!("{base}.{f}")));
    MESH_DR_FIELDS
        .iter()
        .map(|f| (*f).to_owned())
        .chain(policy)
        .collect()
}

pub(super) const GATEWAY_FIELDS: &[&str] = &[
    "spec.selector.**",
    "spec.servers.*.port.number",
    "spec.servers.*.port.name",
    "spec.servers.*.port.protocol",
    "spec.servers.*.hosts.*",
];

pub(super) const SIDECAR_FIELDS: &[&str] = &[
    "spec.workloadSelector.labels.**",
    "spec.outboundTrafficPolicy.mode",
    "spec.egress.*.hosts.*",
];

/// `egress[].hosts` entries that keep the lab's own namespace fully visible.
const VISIBLE_ALL: &[&str] = &["./*", "*/*", "tutorial/*"];

/// The protocols Istio knows, in any case (pkg/config/protocol/instance.go `Parse`; HBONE is internal).
const PROTOCOLS: &[&str] = &[
    "GRPC",
    "GRPC-Web",
    "HTTP",
    "HTTP_PROXY",
    "HTTP2",
    "HTTPS",
    "TCP",
    "TLS",
    "UDP",
    "Mongo",
    "Redis",
    "MySQL",
];

/// `Err` when `proto` is no protocol Istio knows (a typo such as `htp`), which istiod's validation
/// refuses as unsupported (validation.go `ValidateProtocol`); an empty one is left to the caller.
fn known_protocol(field: &str, proto: &str) -> Result<(), String> {
    if proto.is_empty() || PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(proto)) {
        return Ok(());
    }
    Err(format!(
        "{field} {proto:?} is not a protocol Istio knows (it takes {}, in any case)",
        PROTOCOLS.join(", ")
    ))
}

pub(super) fn check_service_entry(se: &ServiceEntry) -> Result<(), String> {
    check_fields(&to_value(se), SERVICE_ENTRY_FIELDS)?;
    if let Some(r) = &se.spec.resolution {
        let r = to_value(r);
        if r != "DNS" && r != "NONE" && r != "DNS_ROUND_ROBIN" {
            return Err(format!(
                "spec.resolution {r}: the lab resolves external hosts itself (DNS or NONE)"
            ));
        }
    }
    for (i, p) in se.spec.ports.iter().flatten().enumerate() {
        let proto = p.protocol.as_deref().unwrap_or("");
        known_protocol(&format!("spec.ports.{i}.protocol"), proto)?;
        if !proto.eq_ignore_ascii_case("http") {
            return Err(format!(
                "spec.ports.{i}.protocol {proto:?}: only plain HTTP egress is in the lab's scope"
            ));
        }
        if !(1..=65535).contains(&p.number) {
            return Err(format!("spec.ports.{i}.number {} is not a port", p.number));
        }
    }
    for (i, h) in se.spec.hosts.iter().enumerate() {
        if egress::is_mesh_host(h) || h.contains('*') {
            return Err(format!(
                "spec.hosts.{i} {h:?}: the lab's ServiceEntries name external hosts, without wildcards"
            ));
        }
    }
    Ok(())
}

/// Istio's longest regex (pkg/config/validation/validation.go `validateStringRegexp`: length stands in for
/// RE2's program size, which istio-agent lets Envoy take up to 32768).
const MAX_REGEX_LENGTH: usize = 1024;

/// Every `regex` of a StringMatch in `v` (at `path`) as Istio's validation checks it
/// (`validateStringRegexp`): not empty, at most 1024 long, and RE2 syntax (no look-around, no
/// back-reference), or the object is refused with Istio's words.
fn check_regexes(v: &serde_json::Value, path: &str) -> Result<(), String> {
    match v {
        serde_json::Value::Object(o) => {
            for (k, child) in o {
                let here = format!("{path}.{k}");
                match (k.as_str(), child) {
                    ("regex", serde_json::Value::String(re)) => check_regex(re, &here)?,
                    _ => check_regexes(child, &here)?,
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                check_regexes(child, &format!("{path}.{i}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn check_regex(re: &str, at: &str) -> Result<(), String> {
    if re.is_empty() {
        return Err(format!("{at:?}: regex string match should not be empty"));
    }
    if re.len() > MAX_REGEX_LENGTH {
        return Err(format!(
            "{at:?}: regex is too large, max length allowed is {MAX_REGEX_LENGTH}"
        ));
    }
    regex_syntax::ast::parse::Parser::new()
        .parse(re)
        .map(drop)
        .map_err(|e| {
            format!(
                "{at:?}: error parsing regexp: {}: `{re}`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)",
                e.kind()
            )
        })
}

pub(super) fn check_virtual_service(vs: &VirtualService) -> Result<(), String> {
    check_regexes(&to_value(vs)["spec"]["http"], "spec.http")?;
    let hosts: Vec<&String> = vs.spec.hosts.iter().flatten().collect();
    if !httproute::bound_to_mesh(vs) {
        check_mesh_vs_fields(vs)?;
        for (i, http) in vs.spec.http.iter().flatten().enumerate() {
            check_rule_values(i, http)?;
        }
        return Ok(());
    }
    let external = hosts.iter().filter(|h| !egress::is_mesh_host(h)).count();
    if external > 0 && external < hosts.len() {
        return Err("spec.hosts mixes mesh services and external hosts; split them".into());
    }
    if external > 0 {
        return check_egress_virtual_service(vs, &hosts);
    }
    check_mesh_vs_fields(vs)?;
    for (i, http) in vs.spec.http.iter().flatten().enumerate() {
        check_route_and_timeout(i, http)?;
    }
    Ok(())
}

/// A VirtualService bound to the sidecars whose hosts are all external: the egress translation's rules.
fn check_egress_virtual_service(vs: &VirtualService, hosts: &[&String]) -> Result<(), String> {
    check_fields(&to_value(vs), EGRESS_VS_FIELDS)?;
    if let Some((i, h)) = hosts.iter().enumerate().find(|(_, h)| h.contains('*')) {
        return Err(format!(
            "spec.hosts.{i} {h:?}: wildcard hosts are not in the lab's scope"
        ));
    }
    for (i, http) in vs.spec.http.iter().flatten().enumerate() {
        check_route_and_timeout(i, http)?;
        for (j, r) in http.route.iter().flatten().enumerate() {
            if egress::is_mesh_host(&r.destination.host) {
                return Err(format!(
                    "spec.http.{i}.route.{j}.destination.host {:?}: routing egress back into the mesh is not in the lab's scope",
                    r.destination.host
                ));
            }
        }
    }
    if vs.spec.http.as_deref().unwrap_or_default().is_empty() {
        return Err("spec.http: the lab translates HTTP routes only; none given".into());
    }
    Ok(())
}

/// `spec.http.{i}` of a VirtualService bound to the sidecars: a destination (or a redirect), and a timeout
/// Envoy can take.
fn check_route_and_timeout(i: usize, http: &VirtualServiceHttp) -> Result<(), String> {
    check_rule_values(i, http)?;
    if http.route.as_deref().unwrap_or_default().is_empty() && http.redirect.is_none() {
        return Err(format!(
            "spec.http.{i}.route: a destination is required (or a redirect)"
        ));
    }
    if let Some(t) = &http.timeout {
        crate::networking::core::route::duration::parse_duration(t)
            .map_err(|e| format!("spec.http.{i}.timeout: {e}"))?;
    }
    Ok(())
}

/// The values of `spec.http.{i}`'s header operations, redirect and CORS policy (route/headers.rs,
/// route/redirect.rs, route/cors.rs hold istiod's rules for each).
fn check_rule_values(i: usize, http: &VirtualServiceHttp) -> Result<(), String> {
    let field = format!("spec.http.{i}");
    let rewrite_authority = http.rewrite.as_ref().and_then(|r| r.authority.as_deref());
    if let Some(h) = &http.headers {
        headers::check_headers(&format!("{field}.headers"), h, rewrite_authority)?;
    }
    for (j, r) in http.route.iter().flatten().enumerate() {
        if let Some(h) = &r.headers {
            let h = headers::of_destination(h);
            headers::check_headers(&format!("{field}.route.{j}.headers"), &h, None)?;
        }
    }
    redirect::check_redirect(&field, http)?;
    if let Some(c) = &http.cors_policy {
        cors::check_cors(&format!("{field}.corsPolicy"), c)?;
    }
    Ok(())
}

pub(super) fn check_destination_rule(dr: &DestinationRule) -> Result<(), String> {
    let v = to_value(dr);
    if dr.spec.host == "*" {
        check_every_host(&v)?;
    } else {
        check_dr_host(&dr.spec.host)?;
    }
    let fields = dr_fields();
    check_fields(&v, &fields.iter().map(String::as_str).collect::<Vec<_>>())?;
    let policies = std::iter::once(("spec.trafficPolicy".to_owned(), &v["spec"]["trafficPolicy"]))
        .chain(
            v["spec"]["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, s)| {
                    (
                        format!("spec.subsets.{i}.trafficPolicy"),
                        &s["trafficPolicy"],
                    )
                }),
        );
    for (base, tp) in policies {
        if let Some(mode) = tp["tls"]["mode"].as_str()
            && (mode == "SIMPLE" || mode == "MUTUAL")
        {
            return Err(format!("{base}.tls.mode {mode}: {TLS_ORIGINATION}"));
        }
        if tp["loadBalancer"]["simple"] == "PASSTHROUGH" {
            return Err(format!(
                "{base}.loadBalancer.simple PASSTHROUGH: the lab's clusters have their endpoints inline, there \
                 is no original destination to pass through to; write ROUND_ROBIN, LEAST_REQUEST or RANDOM"
            ));
        }
    }
    Ok(())
}

/// Host `*` governs the ServiceEntries' external hosts too, whose clusters the lab's DestinationRules do not
/// reach: taken when that makes no difference, i.e. with no subsets and no policy but `tls.mode: DISABLE`
/// (the upstream tutorial's way back from mTLS; the lab's egress is plain text already).
fn check_every_host(v: &serde_json::Value) -> Result<(), String> {
    let spec = &v["spec"];
    let tp = &spec["trafficPolicy"];
    let plain = tp.is_null() || *tp == serde_json::json!({"tls": {"mode": "DISABLE"}});
    if plain && spec["subsets"].as_array().is_none_or(Vec::is_empty) {
        return Ok(());
    }
    Err(
        "spec.host \"*\": a DestinationRule for every host also governs the external hosts of ServiceEntries, \
         which the lab's DestinationRules do not reach (it takes \"*\" with tls.mode DISABLE alone); write \
         \"*.tutorial.svc.cluster.local\" (or \"*.local\") for the mesh's Services"
            .into(),
    )
}

/// A DestinationRule's host: one of the mesh's Services (by any of its names), or a wildcard that covers
/// some of them (`*.tutorial.svc.cluster.local`, `*.svc.cluster.local`, `*.local`), which applies to every
/// Service it covers unless a more specific host names it (cluster.rs `destination_rule`).
fn check_dr_host(host: &str) -> Result<(), String> {
    if egress::is_mesh_host(host) {
        return Ok(());
    }
    let services: Vec<String> = egress::MESH_SERVICES.iter().map(|s| fqdn(s)).collect();
    if is_wildcarded(host) && services.iter().any(|s| subset_of(s, host)) {
        return Ok(());
    }
    Err(format!(
        "spec.host {host:?}: names none of the mesh's Services ({}, namespace {NAMESPACE}); DestinationRules \
         for hosts outside the mesh (TLS origination, pools for external hosts) are not in the lab's scope",
        egress::MESH_SERVICES.join(", ")
    ))
}

/// A Gateway's `selector` is not checked: like the API server, the lab takes one that selects another
/// workload, and like istiod it then configures nothing (httproute.rs `selects_ingress_gateway`).
pub(super) fn check_gateway(g: &Gateway) -> Result<(), String> {
    check_fields(&to_value(g), GATEWAY_FIELDS)?;
    let servers: Vec<_> = g.spec.servers.iter().flatten().collect();
    for (i, s) in servers.iter().enumerate() {
        let proto = s.port.protocol.as_str();
        known_protocol(&format!("spec.servers.{i}.port.protocol"), proto)?;
        if !proto.eq_ignore_ascii_case("http") {
            return Err(format!(
                "spec.servers.{i}.port.protocol {proto:?}: the local gateway serves plain HTTP only"
            ));
        }
        let (first, n) = (servers[0].port.number, s.port.number);
        if n != first {
            return Err(format!(
                "spec.servers.{i}.port.number {n}: the local gateway serves one port (spec.servers.0 has {first})"
            ));
        }
    }
    Ok(())
}

pub(super) fn check_sidecar(sc: &Sidecar) -> Result<(), String> {
    check_fields(&to_value(sc), SIDECAR_FIELDS)?;
    if let Some(egress) = &sc.spec.egress {
        let hosts: Vec<&String> = egress.iter().flat_map(|e| e.hosts.iter()).collect();
        if !hosts.iter().any(|h| VISIBLE_ALL.contains(&h.as_str())) {
            return Err(format!(
                "spec.egress.*.hosts {hosts:?}: the lab supports egress host lists that keep the namespace \
                 visible (one of {VISIBLE_ALL:?}); narrower lists are not in its scope"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
