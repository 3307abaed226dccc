//! What the local mesh translates, and the clear refusal of everything else.
//!
//! Every document is checked against an allow-list of field paths of its kind (on the typed object,
//! serialised back, so only fields the file really sets are seen). A field outside the list is an
//! error naming the file and the field (`spec.http.0.match`): the lab never ignores configuration
//! silently. Values the lab cannot honour (a port protocol other than HTTP, a subset other than v3,
//! …) are refused the same way.

use std::path::Path;

use mesh_manifests::{Document, Resource};
use serde_json::Value;

use crate::model::sidecar::Mode;
use crate::networking::core::egress::{self};

/// How an accepted document affects the lab.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// An object the lab keeps and translates (networking objects, Deployments).
    Keep,
    /// Sets the mesh-wide outbound mode.
    MeshMode(Mode),
    /// Accepted and kept, without effect on the local mesh; the text says why.
    Noted(String),
}

/// A document the lab refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {kind} {name}: {message}")]
pub struct Unsupported {
    pub file: String,
    pub kind: String,
    pub name: String,
    pub message: String,
}

/// The kinds the local mesh runs: kept and translated into the proxies' configuration ([`Effect::Keep`]).
/// `show` lists them, `delete` removes them, and every text naming what the lab runs names these (tests hold
/// each to this list, and this list to `mesh_manifests::KINDS`).
pub const RUNS: &[&str] = &[
    "Deployment",
    "ServiceEntry",
    "VirtualService",
    "DestinationRule",
    "Gateway",
    "Sidecar",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "RequestAuthentication",
];

/// The mesh-config kinds (merge patches of istio/) whose outbound traffic policy is the mesh mode
/// ([`Effect::MeshMode`]).
pub const MESH_CONFIG: &[&str] = &["ServiceMeshControlPlane", "Istio"];

/// Kinds kept without effect on the local mesh ([`Effect::Noted`], which says why).
pub const NOTED: &[&str] = &["Service", "ServiceAccount"];

const SCOPE: &str = "the local mesh translates ServiceEntry hosts/ports (protocol HTTP), VirtualServices \
(match on headers and uri, weighted routes, mirror, retries, timeout, fault, rewrite), DestinationRule subsets and \
trafficPolicy (loadBalancer, connectionPool, outlierDetection), Gateways, Sidecar outboundTrafficPolicy, \
PeerAuthentication mtls.mode and selector.matchLabels, AuthorizationPolicy ALLOW/DENY rules, RequestAuthentication \
jwtRules, Deployments and the mesh-config files of istio/";

const SERVICE_ENTRY_FIELDS: &[&str] = &[
    "spec.hosts.*",
    "spec.ports.*.name",
    "spec.ports.*.number",
    "spec.ports.*.protocol",
    "spec.resolution",
    "spec.location",
    "spec.exportTo.*",
];

const EGRESS_VS_FIELDS: &[&str] = &[
    "spec.hosts.*",
    "spec.gateways.*",
    "spec.exportTo.*",
    "spec.http.*.name",
    "spec.http.*.timeout",
    "spec.http.*.retries.attempts",
    "spec.http.*.retries.perTryTimeout",
    "spec.http.*.retries.retryOn",
    "spec.http.*.fault.delay.fixedDelay",
    "spec.http.*.fault.delay.percentage.value",
    "spec.http.*.fault.delay.percent",
    "spec.http.*.fault.abort.httpStatus",
    "spec.http.*.fault.abort.percentage.value",
    "spec.http.*.route.*.destination.host",
    "spec.http.*.route.*.destination.port.number",
    "spec.http.*.route.*.weight",
];

/// In-mesh routing (sidecars and the ingress gateway).
const MESH_VS_FIELDS: &[&str] = &[
    "spec.hosts.*",
    "spec.gateways.*",
    "spec.exportTo.*",
    "spec.http.*.name",
    "spec.http.*.match.*.name",
    "spec.http.*.match.*.headers.*.exact",
    "spec.http.*.match.*.headers.*.prefix",
    "spec.http.*.match.*.headers.*.regex",
    "spec.http.*.match.*.uri.exact",
    "spec.http.*.match.*.uri.prefix",
    "spec.http.*.match.*.uri.regex",
    "spec.http.*.match.*.ignoreUriCase",
    "spec.http.*.rewrite.uri",
    "spec.http.*.rewrite.authority",
    "spec.http.*.route.*.destination.host",
    "spec.http.*.route.*.destination.port.number",
    "spec.http.*.route.*.destination.subset",
    "spec.http.*.route.*.weight",
    "spec.http.*.mirror.host",
    "spec.http.*.mirror.subset",
    "spec.http.*.mirror.port.number",
    "spec.http.*.mirrorPercentage.value",
    "spec.http.*.mirrorPercent",
    "spec.http.*.timeout",
    "spec.http.*.retries.attempts",
    "spec.http.*.retries.perTryTimeout",
    "spec.http.*.retries.retryOn",
    "spec.http.*.fault.delay.fixedDelay",
    "spec.http.*.fault.delay.percentage.value",
    "spec.http.*.fault.delay.percent",
    "spec.http.*.fault.abort.httpStatus",
    "spec.http.*.fault.abort.percentage.value",
];

const MESH_DR_FIELDS: &[&str] = &[
    "spec.host",
    "spec.exportTo.*",
    "spec.subsets.*.name",
    "spec.subsets.*.labels.**",
    "spec.trafficPolicy.loadBalancer.simple",
    "spec.trafficPolicy.connectionPool.tcp.maxConnections",
    "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
    "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests",
    "spec.trafficPolicy.connectionPool.http.http2MaxRequests",
    "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
    "spec.trafficPolicy.connectionPool.http.maxRetries",
    "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
    "spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors",
    "spec.trafficPolicy.outlierDetection.interval",
    "spec.trafficPolicy.outlierDetection.baseEjectionTime",
    "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
    "spec.trafficPolicy.outlierDetection.minHealthPercent",
];

const GATEWAY_FIELDS: &[&str] = &[
    "spec.selector.**",
    "spec.servers.*.port.number",
    "spec.servers.*.port.name",
    "spec.servers.*.port.protocol",
    "spec.servers.*.hosts.*",
];

/// PeerAuthentication (policy_applier.go `ComposePeerAuthentication`; `portLevelMtls` is not translated).
const PEER_AUTHENTICATION_FIELDS: &[&str] = &["spec.selector.matchLabels.**", "spec.mtls.mode"];

const SIDECAR_FIELDS: &[&str] = &[
    "spec.workloadSelector.labels.**",
    "spec.outboundTrafficPolicy.mode",
    "spec.egress.*.hosts.*",
];

/// `egress[].hosts` entries that keep the lab's own namespace fully visible.
const VISIBLE_ALL: &[&str] = &["./*", "*/*", "tutorial/*"];

fn norm(path: &[String]) -> String {
    path.join(".")
}

fn pattern_matches(pattern: &str, path: &[String]) -> bool {
    let parts: Vec<&str> = pattern.split('.').collect();
    let mut i = 0;
    for (n, p) in parts.iter().enumerate() {
        if *p == "**" {
            return path.len() > n;
        }
        let Some(seg) = path.get(i) else { return false };
        if *p != "*" && p != seg {
            return false;
        }
        i += 1;
    }
    i == path.len()
}

/// Is `path` (a leaf or an inner node) allowed: a pattern equals it or extends it?
fn allowed(patterns: &[&str], path: &[String], leaf: bool) -> bool {
    patterns.iter().any(|pat| {
        if leaf {
            return pattern_matches(pat, path);
        }
        // an inner node: some pattern must go through it
        let parts: Vec<&str> = pat.split('.').collect();
        if parts.len() <= path.len() {
            return parts.last() == Some(&"**") && pattern_matches(pat, path);
        }
        path.iter()
            .zip(&parts)
            .all(|(seg, p)| *p == "**" || *p == "*" || p == seg)
    })
}

/// The first field under `value` (at `path`) no pattern allows.
fn first_unsupported(value: &Value, path: &mut Vec<String>, patterns: &[&str]) -> Option<String> {
    match value {
        Value::Object(map) => {
            if !path.is_empty() && !allowed(patterns, path, false) {
                return Some(norm(path));
            }
            for (k, v) in map {
                path.push(k.clone());
                let found = first_unsupported(v, path, patterns);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        Value::Array(items) => {
            if !allowed(patterns, path, false) && !items.is_empty() {
                return Some(norm(path));
            }
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                let found = first_unsupported(v, path, patterns);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        Value::Null => None,
        _ => (!allowed(patterns, path, true)).then(|| norm(path)),
    }
}

/// Checks `spec` (and the namespace) of a serialised object against `patterns`.
fn check_fields(object: &Value, patterns: &[&str]) -> Result<(), String> {
    if let Some(ns) = object["metadata"]["namespace"].as_str()
        && ns != crate::model::registry::NAMESPACE
    {
        return Err(format!(
            "metadata.namespace {ns:?}: the lab plays namespace {:?} only",
            crate::model::registry::NAMESPACE
        ));
    }
    let mut path = vec!["spec".to_owned()];
    match first_unsupported(&object["spec"], &mut path, patterns) {
        Some(field) => Err(format!(
            "field {field} is not supported by the local mesh ({SCOPE}); remove it or run this step on a cluster"
        )),
        None => Ok(()),
    }
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Checks one document; `Ok` says how it affects the lab.
pub fn check(doc: &Document) -> Result<Effect, Unsupported> {
    let file = doc.location();
    check_resource(&doc.file, &doc.resource).map_err(|message| Unsupported {
        file,
        kind: doc.resource.kind().to_owned(),
        name: doc.resource.name().unwrap_or("<unnamed>").to_owned(),
        message,
    })
}

fn check_resource(_file: &Path, resource: &Resource) -> Result<Effect, String> {
    match resource {
        Resource::ServiceEntry(se) => {
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
            Ok(Effect::Keep)
        }
        Resource::VirtualService(vs) => {
            let hosts: Vec<&String> = vs.spec.hosts.iter().flatten().collect();
            if !egress::bound_to_mesh(vs) {
                check_fields(&to_value(vs), MESH_VS_FIELDS)?;
                return Ok(Effect::Keep);
            }
            let external = hosts.iter().filter(|h| !egress::is_mesh_host(h)).count();
            if external > 0 && external < hosts.len() {
                return Err("spec.hosts mixes mesh services and external hosts; split them".into());
            }
            if external > 0 {
                check_fields(&to_value(vs), EGRESS_VS_FIELDS)?;
                if let Some((i, h)) = hosts.iter().enumerate().find(|(_, h)| h.contains('*')) {
                    return Err(format!(
                        "spec.hosts.{i} {h:?}: wildcard hosts are not in the lab's scope"
                    ));
                }
                for (i, http) in vs.spec.http.iter().flatten().enumerate() {
                    if http.route.as_deref().unwrap_or_default().is_empty() {
                        return Err(format!("spec.http.{i}.route: a destination is required"));
                    }
                    if let Some(t) = &http.timeout {
                        crate::networking::core::route::parse_duration(t)
                            .map_err(|e| format!("spec.http.{i}.timeout: {e}"))?;
                    }
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
                return Ok(Effect::Keep);
            }
            check_fields(&to_value(vs), MESH_VS_FIELDS)?;
            for (i, http) in vs.spec.http.iter().flatten().enumerate() {
                if http.route.as_deref().unwrap_or_default().is_empty() {
                    return Err(format!("spec.http.{i}.route: a destination is required"));
                }
                for (field, value) in [("timeout", &http.timeout)] {
                    if let Some(t) = value {
                        crate::networking::core::route::parse_duration(t)
                            .map_err(|e| format!("spec.http.{i}.{field}: {e}"))?;
                    }
                }
            }
            Ok(Effect::Keep)
        }
        Resource::DestinationRule(dr) => {
            let v = to_value(dr);
            let host = v["spec"]["host"].as_str().unwrap_or_default().to_owned();
            if !egress::is_mesh_host(&host) {
                return Err(format!(
                    "spec.host {host:?}: DestinationRules for external hosts (TLS origination, pools) are not in the lab's scope"
                ));
            }
            check_fields(&v, MESH_DR_FIELDS)?;
            Ok(Effect::Keep)
        }
        Resource::Gateway(g) => {
            check_fields(&to_value(g), GATEWAY_FIELDS)?;
            for (i, s) in g.spec.servers.iter().flatten().enumerate() {
                let proto = s.port.protocol.as_str();
                if !proto.eq_ignore_ascii_case("http") {
                    return Err(format!(
                        "spec.servers.{i}.port.protocol {proto:?}: the local gateway serves plain HTTP only"
                    ));
                }
            }
            Ok(Effect::Keep)
        }
        Resource::Deployment(d) => {
            crate::model::registry::from_deployment(d, &_file.display().to_string(), 0)?;
            Ok(Effect::Keep)
        }
        Resource::Service(_) => Ok(Effect::Noted(
            "kept; the local mesh reads its registry from */kubernetes/Service.yml when it starts"
                .into(),
        )),
        Resource::ServiceAccount(_) => Ok(Effect::Noted(
            "kept; a workload's identity comes from its pod template's serviceAccountName \
             (spiffe://cluster.local/ns/tutorial/sa/NAME), which needs no ServiceAccount object in the lab"
                .into(),
        )),
        Resource::AuthorizationPolicy(ap) => {
            crate::security::authz::check_authorization_policy(ap)?;
            Ok(Effect::Keep)
        }
        Resource::RequestAuthentication(ra) => {
            crate::security::authn::jwt::check_request_authentication(ra)?;
            Ok(Effect::Keep)
        }
        Resource::PeerAuthentication(pa) => {
            check_fields(&to_value(pa), PEER_AUTHENTICATION_FIELDS)?;
            Ok(Effect::Keep)
        }
        Resource::Sidecar(sc) => {
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
            Ok(Effect::Keep)
        }
        Resource::ServiceMeshControlPlane(smcp) => Ok(Effect::MeshMode(
            smcp.spec
                .proxy
                .networking
                .traffic_control
                .outbound
                .policy
                .into(),
        )),
        Resource::Istio(istio) => match istio
            .spec
            .values
            .as_ref()
            .and_then(|v| v.mesh_config.as_ref())
            .and_then(|m| m.outbound_traffic_policy.as_ref())
        {
            Some(p) => Ok(Effect::MeshMode(p.mode.into())),
            None => Ok(Effect::Noted(
                "no spec.values.meshConfig.outboundTrafficPolicy: the mesh mode is unchanged"
                    .into(),
            )),
        },
        other => Err(format!(
            "kind {} is not part of the local mesh: it runs {} and takes the mesh mode from the mesh-config files \
             of istio/ ({}); apply it on a cluster",
            other.kind(),
            RUNS.join(", "),
            MESH_CONFIG.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests;
