//! `istioctl x describe pod`'s text from what describe.go reads: the pod, the Services selecting it, the
//! Istio objects, and the sidecar's own config dump, which names the DestinationRule and VirtualService
//! that shaped its clusters and routes (`filter_metadata.istio.config`). The functions keep describe.go's
//! names (`printPod`, `printService`, `describePodServices`, `describePeerAuthentication`,
//! `printIngressInfo`; `printDestinationRule` and `printVirtualService` are `networking.rs`'s) and
//! its words, indentation and order.

use std::collections::BTreeMap;
use std::fmt::Write;

use mesh_istiod::model::registry::{NAMESPACE, ServiceDef};
use mesh_istiod::networking::core::httproute::selects_ingress_gateway;
use mesh_istiod::security::authn::mtls;
use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::core::v1::Container;
use mesh_manifests::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::networking::{print_destination_rule, print_virtual_service, subsets_of};
use super::{L1, dump, s};

const SEPARATOR: &str = "--------------------\n";
/// The UID the sidecar runs as, which an application container must not take.
const PROXY_UID: i64 = 1337;

/// What describe.go reads of the cluster and of the proxies.
pub struct Facts {
    pub pod: PodFacts,
    /// Every Service of the namespace (those selecting the pod are described).
    pub services: Vec<ServiceDef>,
    /// The applied Istio objects.
    pub objects: Vec<Resource>,
    /// The pod's sidecar's `GET /config_dump`.
    pub dump: Value,
    /// The ingress gateway, when it runs.
    pub ingress: Option<Ingress>,
    /// istio.io's documentation version for the suggestions' link (`v1.30`).
    pub docs_version: String,
}

/// The pod as the API server would have it after injection.
pub struct PodFacts {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `istio.io/rev`, else the injected sidecar's revision (`default`).
    pub revision: String,
    /// The containers, the injected `istio-proxy` among them.
    pub containers: Vec<Container>,
    /// The pod's `securityContext.runAsUser`.
    pub run_as_user: Option<i64>,
}

/// The ingress gateway: where it is exposed and its Envoy's config dump.
pub struct Ingress {
    /// `http://HOST[:PORT]`, the port left out when 80.
    pub exposed: String,
    pub dump: Value,
}

/// The whole text of `istioctl x describe pod` (run with `-n tutorial`, so names carry no namespace).
pub fn describe(f: &Facts) -> String {
    let mut out = print_pod(f);
    let services: Vec<&ServiceDef> = f
        .services
        .iter()
        .filter(|s| s.selects(&f.pod.labels))
        .collect();
    if services.is_empty() {
        let _ = writeln!(
            out,
            "Warning: No Kubernetes Services select pod {} (see https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )",
            f.pod.name
        );
    }
    out.push_str(SEPARATOR);
    for (row, svc) in services.iter().enumerate() {
        if row != 0 {
            out.push_str(SEPARATOR);
        }
        out.push_str(&describe_service(f, svc));
    }
    out.push_str(SEPARATOR);
    out.push_str(&describe_peer_authentication(f));
    out.push_str(&print_ingress_info(f, &services));
    out
}

/// `printPod`: the ports of every container, the revision, the UID and label advice.
fn print_pod(f: &Facts) -> String {
    let mut out = String::new();
    let mut ports = Vec::new();
    for c in &f.pod.containers {
        for p in c.ports.iter().flatten() {
            let protocol = p.protocol.as_deref().unwrap_or("TCP");
            let suffix = if protocol == "TCP" {
                String::new()
            } else {
                format!("/{protocol}")
            };
            ports.push(format!("{}{suffix} ({})", p.container_port, c.name));
        }
        let uid = c.security_context.as_ref().and_then(|s| s.run_as_user);
        if !["istio-proxy", "istio-operator"].contains(&c.name.as_str()) && uid == Some(PROXY_UID) {
            out.push_str("WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.\n");
        }
    }
    let _ = writeln!(out, "Pod: {}", f.pod.name);
    let _ = writeln!(out, "{L1}Pod Revision: {}", f.pod.revision);
    if ports.is_empty() {
        let _ = writeln!(out, "{L1}Pod does not expose ports");
    } else {
        let _ = writeln!(out, "{L1}Pod Ports: {}", ports.join(", "));
    }
    if f.pod.run_as_user == Some(PROXY_UID) {
        let _ = writeln!(
            out,
            "{L1}WARNING: User ID (UID) 1337 is reserved for the sidecar proxy."
        );
    }
    out.push_str(&suggestions(f));
    out
}

/// printPod's advice for a pod without the canonical service's name or revision label (pkg/kube/labels:
/// each label in its order of preference).
fn suggestions(f: &Facts) -> String {
    let mut out = String::new();
    let url = format!(
        "https://istio.io/{}/docs/ops/deployment/requirements/",
        f.docs_version
    );
    let has = |keys: [&str; 3]| keys.iter().any(|k| f.pod.labels.contains_key(*k));
    if !has([
        "service.istio.io/canonical-name",
        "app.kubernetes.io/name",
        "app",
    ]) {
        let _ = writeln!(
            out,
            "Suggestion: add required service name label for Istio telemetry. See {url}."
        );
    }
    if !has([
        "service.istio.io/canonical-revision",
        "app.kubernetes.io/version",
        "version",
    ]) {
        let _ = writeln!(
            out,
            "Suggestion: add required service revision label for Istio telemetry. See {url}."
        );
    }
    out
}

/// `printService`: the Service's port, its protocol and the pod port it targets (`FindPort`).
fn print_service(f: &Facts, svc: &ServiceDef) -> String {
    let target = match &svc.target_port {
        None => Ok(i32::from(svc.port)),
        Some(IntOrString::Int(n)) => Ok(*n),
        Some(IntOrString::String(name)) => f
            .pod
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .ok_or_else(|| format!("no suitable port for manifest: {}", f.pod.name)),
    };
    let line = match target {
        Ok(n) => format!(
            "Port: {} {}/{} targets pod port {n}",
            svc.port_name.as_deref().unwrap_or_default(),
            svc.port,
            port_protocol(svc)
        ),
        Err(e) => e,
    };
    format!("Service: {}\n{L1}{line}\n", svc.name)
}

/// `findProtocolForPort`: `auto-detect` for a port with neither name nor `appProtocol`, else
/// `kube.ConvertProtocol`'s ([`ServiceDef::protocol`]).
fn port_protocol(svc: &ServiceDef) -> String {
    if svc.app_protocol.is_none() && svc.port_name.as_deref().unwrap_or_default().is_empty() {
        return "auto-detect".into();
    }
    svc.protocol().to_string()
}

/// One Service of `describePodServices`: its port, then the DestinationRule and VirtualService the
/// sidecar's clusters and routes name, then the RBAC policies of its inbound listener.
fn describe_service(f: &Facts, svc: &ServiceDef) -> String {
    let mut out = print_service(f, svc);
    let dr = match dump::destination_rule_of(&f.dump, svc) {
        Some(name) => match object(&f.objects, "DestinationRule", &name) {
            Some(dr) => {
                out.push_str(&print_destination_rule(&dr, &f.pod.labels));
                Some(dr)
            }
            None => {
                out.push_str(&stale("destination rule", &name));
                None
            }
        },
        None => None,
    };
    let subsets = subsets_of(dr.as_ref(), &f.pod.labels);
    if let Some(name) = dump::virtual_service_of(&f.dump, svc) {
        match object(&f.objects, "VirtualService", &name) {
            Some(vs) => out.push_str(&print_virtual_service(&vs, svc, &subsets, dr.as_ref())),
            None => out.push_str(&stale("virtual service", &name)),
        }
    }
    let policies = dump::rbac_policies(&f.dump);
    if !policies.is_empty() {
        let _ = writeln!(out, "RBAC policies: {}", policies.join(", "));
    }
    out
}

/// A proxy naming an object that is not there (`NAME.NAMESPACE`).
fn stale(what: &str, (name, ns): &(String, String)) -> String {
    format!("WARNING: Proxy is stale; it references to non-existent {what} {name}.{ns}\n")
}

/// The applied object of `kind` a proxy names (name, namespace), as JSON.
fn object(objects: &[Resource], kind: &str, (name, ns): &(String, String)) -> Option<Value> {
    if ns != NAMESPACE {
        return None;
    }
    let found = objects
        .iter()
        .find(|r| r.kind() == kind && r.metadata().and_then(|m| m.name.as_deref()) == Some(name))?;
    match found {
        Resource::DestinationRule(d) => serde_json::to_value(d).ok(),
        Resource::VirtualService(v) => serde_json::to_value(v).ok(),
        _ => None,
    }
}

/// `describePeerAuthentication`: the effective mTLS mode (composed as istiod composes it) and the
/// PeerAuthentications that apply to the pod (the namespace's and those selecting it, in name order as the
/// API server lists them).
fn describe_peer_authentication(f: &Facts) -> String {
    let mode = mtls::workload_mode(&f.objects, &f.pod.labels).mode;
    let mut out = format!("Effective PeerAuthentication:\n{L1}Workload mTLS mode: {mode}\n");
    let mut applied: Vec<String> = f
        .objects
        .iter()
        .filter_map(|r| match r {
            Resource::PeerAuthentication(pa) => Some(pa),
            _ => None,
        })
        .filter(|pa| {
            let sel = pa
                .spec
                .selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref());
            sel.into_iter()
                .flatten()
                .all(|(k, v)| f.pod.labels.get(k) == Some(v))
        })
        .map(|pa| {
            format!(
                "{}.{NAMESPACE}",
                pa.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    applied.sort();
    if !applied.is_empty() {
        let _ = write!(
            out,
            "Applied PeerAuthentication:\n{L1}{}\n",
            applied.join(", ")
        );
    }
    out
}

/// `printIngressInfo`: for each Service, the VirtualService the gateway's routes to it name, when one of
/// its gateways selects the ingress gateway: where the gateway is exposed, then that VirtualService.
fn print_ingress_info(f: &Facts, services: &[&ServiceDef]) -> String {
    let Some(ingress) = &f.ingress else {
        return "Skipping Gateway information (no ingress gateway pods)\n".into();
    };
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for svc in services {
        let dr = dump::destination_rule_of(&ingress.dump, svc)
            .and_then(|n| object(&f.objects, "DestinationRule", &n));
        let subsets = subsets_of(dr.as_ref(), &f.pod.labels);
        let Some(name) = dump::virtual_service_of(&ingress.dump, svc) else {
            continue;
        };
        let Some(vs) = object(&f.objects, "VirtualService", &name) else {
            out.push_str(&stale("virtual service", &name));
            continue;
        };
        for gw in vs["spec"]["gateways"].as_array().into_iter().flatten() {
            let gw = s(gw);
            if gw.is_empty() || gw == "mesh" || seen.iter().any(|g| g == gw) {
                continue;
            }
            let (ns, name) = gw.split_once('/').unwrap_or((NAMESPACE, gw));
            let found = f.objects.iter().find_map(|r| match r {
                Resource::Gateway(g)
                    if ns == NAMESPACE && g.metadata.name.as_deref() == Some(name) =>
                {
                    Some(g)
                }
                _ => None,
            });
            let Some(g) = found else {
                let _ = writeln!(
                    out,
                    "WARNING: Proxy is stale; it references to non-existent gateway {ns}/{name}"
                );
                continue;
            };
            seen.push(gw.to_owned());
            if g.spec.selector.is_none() {
                let _ = write!(out, "Ingress Gateway {ns}/{name} be applied all workloads");
            } else if selects_ingress_gateway(g) {
                let _ = writeln!(
                    out,
                    "{SEPARATOR}Exposed on Ingress Gateway {}",
                    ingress.exposed
                );
                out.push_str(&print_virtual_service(&vs, svc, &subsets, dr.as_ref()));
            }
        }
    }
    out
}
