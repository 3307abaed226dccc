//! `istioctl x describe pod`'s text from what describe.go reads: the pod, the Services selecting it, the
//! Istio objects, and the sidecar's own config dump, which names the DestinationRule and VirtualService
//! that shaped its clusters and routes (`filter_metadata.istio.config`). The functions keep describe.go's
//! names (`printPod`, `printService`, `printDestinationRule`, `printVirtualService`,
//! `describePeerAuthentication`, `printIngressInfo`) and its words, indentation and order.

use std::collections::BTreeMap;
use std::fmt::Write;

use mesh_istiod::model::registry::{NAMESPACE, ServiceDef, fqdn};
use mesh_istiod::networking::core::httproute::selects_ingress_gateway;
use mesh_istiod::security::authn::mtls;
use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::core::v1::Container;
use mesh_manifests::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::dump;

/// describe.go's indentation: `printLevel1`, `printLevel2`.
const L1: &str = "   ";
const L2: &str = "      ";
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

/// `findProtocolForPort` (pkg/config/kube `ConvertProtocol`): `appProtocol`, else the port name's prefix.
fn port_protocol(svc: &ServiceDef) -> String {
    let name = match (&svc.app_protocol, &svc.port_name) {
        (Some(p), _) => p.as_str(),
        (None, Some(n)) if !n.is_empty() => n.as_str(),
        _ => return "auto-detect".into(),
    };
    match name {
        "kubernetes.io/h2c" => return "HTTP2".into(),
        "kubernetes.io/ws" => return "HTTP".into(),
        "kubernetes.io/wss" => return "HTTPS".into(),
        _ => {}
    }
    if name.len() >= 8 && name[..8].eq_ignore_ascii_case("grpc-web") {
        return "GRPC-Web".into();
    }
    let prefix = name
        .split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let known = [
        ("tcp", "TCP"),
        ("udp", "UDP"),
        ("grpc", "GRPC"),
        ("http", "HTTP"),
        ("http_proxy", "HTTP_PROXY"),
        ("http2", "HTTP2"),
        ("https", "HTTPS"),
        ("tls", "TLS"),
        ("mongo", "Mongo"),
        ("redis", "Redis"),
        ("mysql", "MySQL"),
    ];
    match known.iter().find(|(k, _)| *k == prefix) {
        Some((_, p)) => (*p).into(),
        None if [25, 53, 3306, 27017].contains(&svc.port) => "TCP".into(),
        None => "UnsupportedProtocol".into(),
    }
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

/// `getDestRuleSubsets`: the DestinationRule's subsets whose labels the pod has, and the others.
pub struct Subsets {
    pub matching: Vec<String>,
    pub nonmatching: Vec<String>,
}

fn subsets_of(dr: Option<&Value>, labels: &BTreeMap<String, String>) -> Subsets {
    let mut out = Subsets {
        matching: Vec::new(),
        nonmatching: Vec::new(),
    };
    for s in dr
        .and_then(|d| d["spec"]["subsets"].as_array())
        .into_iter()
        .flatten()
    {
        let selected = s["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
        let name = s["name"].as_str().unwrap_or_default().to_owned();
        if selected {
            out.matching.push(name);
        } else {
            out.nonmatching.push(name);
        }
    }
    out
}

/// `printDestinationRule`: host, subsets, TLS mode and which policies it sets (at level 0).
fn print_destination_rule(dr: &Value, labels: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "DestinationRule: {} for {:?}\n",
        s(&dr["metadata"]["name"]),
        s(&dr["spec"]["host"])
    );
    let subsets = subsets_of(Some(dr), labels);
    if !subsets.matching.is_empty() || !subsets.nonmatching.is_empty() {
        if subsets.matching.is_empty() {
            let _ = writeln!(
                out,
                "{L1}WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets {})",
                subsets.nonmatching.join(",")
            );
        }
        let _ = writeln!(out, "{L1}Matching subsets: {}", subsets.matching.join(","));
        if !subsets.nonmatching.is_empty() {
            let _ = writeln!(
                out,
                "{L2}(Non-matching subsets {})",
                subsets.nonmatching.join(",")
            );
        }
    }
    let tp = &dr["spec"]["trafficPolicy"];
    if tp.is_null() {
        let _ = writeln!(out, "{L1}No Traffic Policy");
        return out;
    }
    if tp["tls"].is_object() {
        let _ = writeln!(out, "{L1}Traffic Policy TLS Mode: {}", tls_mode(&tp["tls"]));
    }
    out.push_str(&short_policies(tp, L1));
    if let Some(levels) = tp["portLevelSettings"].as_array() {
        let _ = writeln!(out, "{L1}Port Level Settings:");
        for ps in levels {
            let _ = writeln!(out, "    {}:", ps["port"]["number"].as_u64().unwrap_or(0));
            if ps["tls"].is_object() {
                let _ = writeln!(out, "{L2}TLS Mode: {}", tls_mode(&ps["tls"]));
            }
            out.push_str(&short_policies(ps, L2));
        }
    }
    out
}

/// The TLS mode's enum name (DISABLE when left out, proto3's zero).
fn tls_mode(tls: &Value) -> &str {
    tls["mode"].as_str().unwrap_or("DISABLE")
}

/// `recordShortPolicies`: `Policies: load balancer/connection pool/outlier detection`, those set.
fn short_policies(p: &Value, indent: &str) -> String {
    let set: Vec<&str> = [
        ("loadBalancer", "load balancer"),
        ("connectionPool", "connection pool"),
        ("outlierDetection", "outlier detection"),
    ]
    .into_iter()
    .filter(|(k, _)| !p[*k].is_null())
    .map(|(_, words)| words)
    .collect();
    if set.is_empty() {
        return String::new();
    }
    format!("{indent}Policies: {}\n", set.join("/"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `ResolveShortnameToFQDN` in the VirtualService's namespace, then `extendFQDN`.
fn extend_fqdn(host: &str) -> String {
    if host.starts_with('*') || host.ends_with(".svc.cluster.local") {
        return host.to_owned();
    }
    match host.contains('.') {
        true => format!("{host}.svc.cluster.local"),
        false => fqdn(host),
    }
}

/// Why a destination to the Service's `subset` cannot reach the pod: a subset of other pods, or one the
/// DestinationRule does not define (`None`: no subset, or the pod's).
fn subset_mismatch(
    subset: &str,
    route: &Value,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> Option<String> {
    if subset.is_empty() || subsets.matching.iter().any(|n| n == subset) {
        return None;
    }
    if subsets.nonmatching.iter().any(|n| n == subset) {
        return Some(format!(
            "Route to non-matching subset {subset} for ({})",
            render_matches(&route["match"])
        ));
    }
    Some(match dr {
        None => {
            format!("Warning: Route to subset {subset} but NO DESTINATION RULE defining subsets!")
        }
        Some(dr) => format!(
            "Warning: Route to UNKNOWN subset {subset}; check DestinationRule {}",
            s(&dr["metadata"]["name"])
        ),
    })
}

/// What a route that reaches the pod does to requests: its fault, then its matches, on one line.
fn request_facts(route: &Value) -> Option<String> {
    let mut req = Vec::new();
    if !route["fault"].is_null() {
        req.push(format!(
            "Fault injection {}",
            super::prototext::fault(&route["fault"])
        ));
    }
    for m in route["match"].as_array().into_iter().flatten() {
        req.push(render_match(m));
    }
    (!req.is_empty()).then(|| req.join(", "))
}

/// One HTTP route's verdict for the Service's pods (`httpRouteMatchSvc`): whether it can reach them, and
/// the facts to print (or, when it cannot, why).
fn http_route_match_svc(
    route: &Value,
    svc: &ServiceDef,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> (bool, Vec<String>) {
    let mut facts = Vec::new();
    let mut mismatch = Vec::new();
    let mut matched = false;
    for dest in route["route"].as_array().into_iter().flatten() {
        let host = s(&dest["destination"]["host"]);
        let subset = s(&dest["destination"]["subset"]);
        let weight = dest["weight"].as_i64().unwrap_or(0);
        if extend_fqdn(host) != svc.fqdn() {
            facts.push(match subset {
                "" => format!("Route to host \"{host}\" with weight {weight}%"),
                _ => format!("Route to {host} with invalid config"),
            });
            continue;
        }
        if let Some(why) = subset_mismatch(subset, route, subsets, dr) {
            mismatch.push(why);
            continue;
        }
        matched = true;
        if weight > 0 {
            let mut fact = format!("Route to host \"{host}\"");
            if !subset.is_empty() {
                let _ = write!(fact, " subset \"{subset}\"");
            }
            let _ = write!(fact, " with weight {weight}%");
            facts.push(fact);
        }
    }
    if !matched {
        facts.extend(mismatch);
    } else if let Some(req) = request_facts(route) {
        facts.push(req);
    }
    (matched, facts)
}

/// `tcpRouteMatchSvc`: a TCP route reaches the Service when a destination is its host (no facts printed
/// for the lab's objects, which have no TCP matches).
fn tcp_route_match_svc(route: &Value, svc: &ServiceDef) -> bool {
    route["route"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| extend_fqdn(s(&d["destination"]["host"])) == svc.fqdn())
}

/// `renderStringMatch`: exact as is, prefix with `*`, any other as its proto text.
fn render_string_match(m: &Value) -> String {
    if let Some(e) = m["exact"].as_str() {
        return e.to_owned();
    }
    if let Some(p) = m["prefix"].as_str() {
        return format!("{p}*");
    }
    super::prototext::string_match(m)
}

fn render_matches(matches: &Value) -> String {
    match matches.as_array() {
        Some(ms) if !ms.is_empty() => ms.iter().map(render_match).collect::<Vec<_>>().join(", "),
        _ => "everything".into(),
    }
}

/// `renderMatch`: the URI (` uncased`), then the headers (in name order: Go walks a map).
fn render_match(m: &Value) -> String {
    let mut out = "Match: ".to_owned();
    if m["uri"].is_object() {
        out.push_str(&render_string_match(&m["uri"]));
        if m["ignoreUriCase"].as_bool() == Some(true) {
            out.push_str(" uncased");
        }
    }
    if let Some(headers) = m["headers"].as_object().filter(|h| !h.is_empty()) {
        let mut conds: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}={}", render_string_match(v)))
            .collect();
        conds.sort();
        let _ = write!(out, " when headers are {}", conds.join("; "));
    }
    out.trim().to_owned()
}

/// `printVirtualService`: the facts of the routes that reach the pod, or why none does.
fn print_virtual_service(
    vs: &Value,
    svc: &ServiceDef,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> String {
    let mut out = format!("VirtualService: {}\n", s(&vs["metadata"]["name"]));
    let count = |k: &str| vs["spec"][k].as_array().map_or(0, Vec::len);
    let (mut matches, mut facts, mut mismatch) = (0, 0, Vec::new());
    for route in vs["spec"]["http"].as_array().into_iter().flatten() {
        let (ok, new) = http_route_match_svc(route, svc, subsets, dr);
        if ok {
            matches += 1;
            for fact in new {
                let _ = writeln!(out, "{L1}{fact}");
                facts += 1;
            }
        } else {
            mismatch.extend(new);
        }
    }
    for route in vs["spec"]["tcp"].as_array().into_iter().flatten() {
        matches += usize::from(tcp_route_match_svc(route, svc));
    }
    let notes = |out: &mut String| {
        for m in &mismatch {
            let _ = writeln!(out, "{L2}{m}");
        }
    };
    if matches == 0 {
        out.push_str(&per_kind(vs, |n, kind| {
            format!("{L1}WARNING: No destinations match pod subsets (checked {n} {kind} routes)")
        }));
        notes(&mut out);
        return out;
    }
    let possible = count("http") + count("tls") + count("tcp");
    if matches < possible {
        let _ = writeln!(
            out,
            "{L1}{} additional destination(s) that will not reach this pod",
            possible - matches
        );
        if facts == 0 {
            notes(&mut out);
        }
        return out;
    }
    if facts == 0 {
        out.push_str(&per_kind(vs, |n, kind| format!("{L1}{n} {kind} route(s)")));
    }
    out
}

/// `line(count, kind)` for each kind of route the VirtualService has, HTTP then TCP.
fn per_kind(vs: &Value, line: impl Fn(usize, &str) -> String) -> String {
    [("HTTP", "http"), ("TCP", "tcp")]
        .into_iter()
        .map(|(kind, k)| (kind, vs["spec"][k].as_array().map_or(0, Vec::len)))
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| line(n, kind) + "\n")
        .collect()
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
