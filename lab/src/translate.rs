//! Istio objects → Envoy configuration, the way istiod builds a sidecar's outbound HTTP port 80.
//!
//! Pure: no files, no processes. [`to_envoy`] takes the applied objects and the mesh-wide mode and
//! returns the route configuration `"80"` and the clusters, as serde_json values of Envoy's v3 API.
//! What istiod does and where it comes from (pilot/pkg/networking/core/httproute.go, route/route.go,
//! route/retry/retry.go) is summarised in docs/LOCAL-EGRESS-LAB.md; the rules reproduced here:
//!
//! - One route configuration named `"80"`, `validate_clusters: false`, `ignore_port_in_host_matching: true`.
//! - A ServiceEntry adds a cluster `outbound|<port>||<host>` per host and port; a virtual host
//!   `<host>:80` (domains `<host>`) only when it declares port 80, routing to `outbound|80||<host>`
//!   with istiod's default route (timeout 0s, default retry policy).
//! - A VirtualService on a host outside the mesh adds the virtual host `<host>:80` on port 80 even when
//!   no ServiceEntry declares port 80; a destination without a port goes to `outbound|80||<host>`.
//! - Last comes the catch-all virtual host: `allow_any` → `PassthroughCluster` (ALLOW_ANY) or `block_all`
//!   → direct response 502 (REGISTRY_ONLY). A namespace `Sidecar`'s `outboundTrafficPolicy` wins over
//!   the mesh-wide mode.
//!
//! The lab's "internet" ([`Internet`]) decides where clusters point: every external host's port 80
//! is the stand-in time API on loopback; any other port refuses connections.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1beta1::serviceentries::ServiceEntry;
use mesh_manifests::kcr_networking_istio_io::v1beta1::sidecars::{
    Sidecar, SidecarOutboundTrafficPolicyMode,
};
use mesh_manifests::kcr_networking_istio_io::v1beta1::virtualservices::{
    VirtualService, VirtualServiceHttp, VirtualServiceHttpFault, VirtualServiceHttpRetries,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Name of the outbound route configuration for port 80 (istiod names it after the port).
pub const ROUTE_CONFIG_NAME: &str = "80";
/// Catch-all virtual host and route in ALLOW_ANY mode.
pub const ALLOW_ANY: &str = "allow_any";
/// Catch-all virtual host and route in REGISTRY_ONLY mode.
pub const BLOCK_ALL: &str = "block_all";
/// The cluster ALLOW_ANY traffic leaves through.
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
/// The only port of egress traffic in the lab's scope (plain HTTP).
pub const HTTP_PORT: u16 = 80;

/// The labels of the one workload whose sidecar the lab runs: recommendation v3.
pub const LAB_WORKLOAD: &[(&str, &str)] = &[("app", "recommendation"), ("version", "v3")];
/// The namespace the lab plays (SPEC §2).
pub const NAMESPACE: &str = "tutorial";
/// The mesh's own services; VirtualServices on them are not egress.
pub const MESH_SERVICES: &[&str] = &["customer", "preference", "recommendation"];

/// Mesh outbound traffic policy mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[default]
    #[serde(rename = "ALLOW_ANY")]
    AllowAny,
    #[serde(rename = "REGISTRY_ONLY")]
    RegistryOnly,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::AllowAny => "ALLOW_ANY",
            Mode::RegistryOnly => "REGISTRY_ONLY",
        })
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ALLOW_ANY" => Ok(Mode::AllowAny),
            "REGISTRY_ONLY" => Ok(Mode::RegistryOnly),
            _ => Err(format!(
                "unknown outbound traffic policy mode {s:?} (ALLOW_ANY or REGISTRY_ONLY)"
            )),
        }
    }
}

impl From<mesh_manifests::openshift::OutboundMode> for Mode {
    fn from(m: mesh_manifests::openshift::OutboundMode) -> Self {
        match m {
            mesh_manifests::openshift::OutboundMode::AllowAny => Mode::AllowAny,
            mesh_manifests::openshift::OutboundMode::RegistryOnly => Mode::RegistryOnly,
        }
    }
}

/// Where the lab's "internet" is: the address every external host's port 80 resolves to (the stand-in
/// time API), and an address that refuses connections (every other port, and the whole internet while
/// the `down` fault is on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Internet {
    pub web: SocketAddr,
    pub closed: SocketAddr,
    pub down: bool,
}

impl Internet {
    /// The address `host:port` resolves to in the lab.
    pub fn resolve(&self, _host: &str, port: u16) -> SocketAddr {
        if port == HTTP_PORT && !self.down {
            self.web
        } else {
            self.closed
        }
    }
}

/// What Envoy gets: the route configuration `"80"` and every cluster, as Envoy v3 JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvoyConfig {
    pub route_config: Value,
    pub clusters: Vec<Value>,
    /// The mode in effect (mesh-wide, or a Sidecar's).
    pub mode: Mode,
}

impl EnvoyConfig {
    /// Cluster names, sorted.
    pub fn cluster_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .clusters
            .iter()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// The virtual host named `name`, if any.
    pub fn virtual_host(&self, name: &str) -> Option<&Value> {
        self.route_config["virtual_hosts"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == name)
    }
}

/// A value the lab cannot translate (beyond the unsupported-field checks done when applying).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{kind} {name}: {message}")]
pub struct TranslateError {
    pub kind: &'static str,
    pub name: String,
    pub message: String,
}

/// `outbound|<port>||<host>`, istiod's cluster name for a service port.
pub fn cluster_name(host: &str, port: u16) -> String {
    format!("outbound|{port}||{host}")
}

/// Is `host` one of the mesh's own services (short name or FQDN in the lab's namespace)?
pub fn is_mesh_host(host: &str) -> bool {
    MESH_SERVICES.iter().any(|s| {
        host == *s
            || host == format!("{s}.{NAMESPACE}")
            || host == format!("{s}.{NAMESPACE}.svc")
            || host == format!("{s}.{NAMESPACE}.svc.cluster.local")
    })
}

/// Does a Sidecar apply to the lab's workload (no selector, or a selector its labels satisfy)?
pub fn sidecar_applies(sidecar: &Sidecar) -> bool {
    match sidecar
        .spec
        .workload_selector
        .as_ref()
        .and_then(|w| w.labels.as_ref())
    {
        None => true,
        Some(labels) => labels
            .iter()
            .all(|(k, v)| LAB_WORKLOAD.iter().any(|(lk, lv)| lk == k && lv == v)),
    }
}

/// A Sidecar's `outboundTrafficPolicy.mode`, if it sets one.
pub fn sidecar_mode(sidecar: &Sidecar) -> Option<Mode> {
    sidecar
        .spec
        .outbound_traffic_policy
        .as_ref()
        .and_then(|p| p.mode.as_ref())
        .map(|m| match m {
            SidecarOutboundTrafficPolicyMode::AllowAny => Mode::AllowAny,
            SidecarOutboundTrafficPolicyMode::RegistryOnly => Mode::RegistryOnly,
        })
}

/// The outbound mode in effect: the last applicable Sidecar's `outboundTrafficPolicy.mode`, else `mesh`.
pub fn effective_mode(resources: &[Resource], mesh: Mode) -> Mode {
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::Sidecar(s) if sidecar_applies(s) => sidecar_mode(s),
            _ => None,
        })
        .next_back()
        .unwrap_or(mesh)
}

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

fn percent(value: f64) -> Value {
    json!({"numerator": (value * 10_000.0) as u32, "denominator": "MILLION"})
}

/// istiod's default retry policy for outbound routes (route/retry/retry.go `DefaultPolicy`).
pub fn default_retry_policy() -> Value {
    json!({
        "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
        "num_retries": 2,
        "retriable_status_codes": [503],
        "host_selection_retry_max_attempts": 5,
        "retry_host_predicate": [{
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}
        }]
    })
}

/// istiod's `ConvertPolicy`: `None` means "no retry policy at all" (attempts 0).
fn retry_policy(r: Option<&VirtualServiceHttpRetries>) -> Result<Option<Value>, String> {
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
        out["retriable_status_codes"] = json!(codes);
    }
    if let Some(t) = r.per_try_timeout.as_deref() {
        out["per_try_timeout"] = json!(envoy_duration(
            parse_duration(t).map_err(|e| format!("retries.perTryTimeout: {e}"))?
        ));
    }
    Ok(Some(out))
}

fn fault_config(f: &VirtualServiceHttpFault) -> Result<Value, String> {
    let mut out =
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"});
    if let Some(d) = &f.delay {
        let fixed = d
            .fixed_delay
            .as_deref()
            .ok_or("fault.delay needs fixedDelay")?;
        let pct = d
            .percentage
            .as_ref()
            .and_then(|p| p.value)
            .unwrap_or_else(|| f64::from(d.percent.unwrap_or(0)));
        out["delay"] = json!({
            "fixed_delay": envoy_duration(parse_duration(fixed).map_err(|e| format!("fault.delay.fixedDelay: {e}"))?),
            "percentage": percent(pct),
        });
    }
    if let Some(a) = &f.abort {
        let status = a.http_status.ok_or("fault.abort needs httpStatus")?;
        let pct = a.percentage.as_ref().and_then(|p| p.value).unwrap_or(0.0);
        out["abort"] = json!({"http_status": status, "percentage": percent(pct)});
    }
    Ok(out)
}

/// One `http` rule of a VirtualService → one Envoy route.
fn http_route(http: &VirtualServiceHttp) -> Result<Value, String> {
    let dests = http.route.as_deref().unwrap_or_default();
    if dests.is_empty() {
        return Err("http[].route must name at least one destination".into());
    }
    let dest_cluster = |d: &mesh_manifests::kcr_networking_istio_io::v1beta1::virtualservices::VirtualServiceHttpRouteDestination| {
        let port = d
            .port
            .as_ref()
            .and_then(|p| p.number)
            .map(|n| u16::try_from(n).map_err(|_| format!("destination port {n} out of range")))
            .transpose()?
            .unwrap_or(HTTP_PORT);
        Ok::<_, String>(cluster_name(&d.host, port))
    };
    let timeout = match http.timeout.as_deref() {
        Some(t) => envoy_duration(parse_duration(t).map_err(|e| format!("timeout: {e}"))?),
        None => "0s".into(),
    };
    let mut action = json!({"timeout": timeout});
    if dests.len() == 1 {
        action["cluster"] = json!(dest_cluster(&dests[0].destination)?);
    } else {
        let mut clusters = Vec::new();
        for d in dests {
            let weight = d.weight.unwrap_or(0);
            if weight > 0 {
                clusters.push(json!({"name": dest_cluster(&d.destination)?, "weight": weight}));
            }
        }
        if clusters.is_empty() {
            return Err("weighted destinations with no positive weight".into());
        }
        action["weighted_clusters"] = json!({"clusters": clusters});
    }
    if let Some(policy) = retry_policy(http.retries.as_ref())? {
        action["retry_policy"] = policy;
    }
    let mut route = json!({"match": {"prefix": "/"}, "route": action});
    if let Some(name) = &http.name {
        route["name"] = json!(name);
    }
    if let Some(f) = &http.fault {
        route["typed_per_filter_config"] = json!({"envoy.filters.http.fault": fault_config(f)?});
    }
    Ok(route)
}

/// istiod's default route towards a service port without a VirtualService.
fn default_route(cluster: &str) -> Value {
    json!({
        "match": {"prefix": "/"},
        "route": {"cluster": cluster, "timeout": "0s", "retry_policy": default_retry_policy()},
    })
}

fn static_cluster(name: &str, addr: SocketAddr) -> Value {
    json!({
        "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "name": name,
        "type": "STATIC",
        "connect_timeout": "10s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": addr.ip().to_string(), "port_value": addr.port()
            }}}}]}]
        }
    })
}

fn catch_all(mode: Mode) -> Value {
    match mode {
        Mode::AllowAny => json!({
            "name": ALLOW_ANY,
            "domains": ["*"],
            "include_request_attempt_count": true,
            "routes": [{"name": ALLOW_ANY, "match": {"prefix": "/"},
                        "route": {"cluster": PASSTHROUGH_CLUSTER, "timeout": "0s"}}]
        }),
        Mode::RegistryOnly => json!({
            "name": BLOCK_ALL,
            "domains": ["*"],
            "include_request_attempt_count": true,
            "routes": [{"name": BLOCK_ALL, "match": {"prefix": "/"},
                        "direct_response": {"status": 502}}]
        }),
    }
}

fn se_ports(se: &ServiceEntry) -> Result<Vec<u16>, TranslateError> {
    se.spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            u16::try_from(p.number).map_err(|_| TranslateError {
                kind: "ServiceEntry",
                name: name_of(&se.metadata.name),
                message: format!("port {} out of range", p.number),
            })
        })
        .collect()
}

fn name_of(n: &Option<String>) -> String {
    n.clone().unwrap_or_else(|| "<unnamed>".into())
}

/// The egress VirtualServices among `resources`: the ones bound to the mesh (no `gateways`, or `mesh`)
/// whose hosts are outside the mesh.
pub fn egress_virtual_services(resources: &[Resource]) -> impl Iterator<Item = &VirtualService> {
    resources.iter().filter_map(|r| match r {
        Resource::VirtualService(vs) if is_egress_vs(vs) => Some(&**vs),
        _ => None,
    })
}

/// Is this VirtualService about egress (bound to the sidecars, on a host outside the mesh)?
pub fn is_egress_vs(vs: &VirtualService) -> bool {
    let mesh_bound = vs
        .spec
        .gateways
        .as_ref()
        .is_none_or(|g| g.iter().any(|g| g == "mesh"));
    mesh_bound && vs.spec.hosts.iter().flatten().any(|h| !is_mesh_host(h))
}

/// Translates the applied objects into the sidecar's outbound port-80 configuration.
///
/// `resources` are in apply order (a later object wins a duplicate virtual host, like a later
/// creation timestamp loses in istiod — the lab refuses duplicates when applying, so order only
/// matters for Sidecars). Kinds that do not shape egress (DestinationRule, in-mesh VirtualServices)
/// are skipped here; applying them is checked elsewhere.
pub fn to_envoy(
    resources: &[Resource],
    mesh_mode: Mode,
    internet: &Internet,
) -> Result<EnvoyConfig, TranslateError> {
    let mode = effective_mode(resources, mesh_mode);
    let mut clusters: BTreeMap<String, Value> = BTreeMap::new();
    clusters.insert(
        PASSTHROUGH_CLUSTER.into(),
        static_cluster(PASSTHROUGH_CLUSTER, internet.resolve("*", HTTP_PORT)),
    );
    // host -> routes of its port-80 virtual host, in first-declared order.
    let mut vhosts: Vec<(String, Vec<Value>)> = Vec::new();

    // VirtualServices first: their routes replace a ServiceEntry's default route on the same host.
    for vs in egress_virtual_services(resources) {
        let name = name_of(&vs.metadata.name);
        let err = |message: String| TranslateError {
            kind: "VirtualService",
            name: name.clone(),
            message,
        };
        let mut routes = Vec::new();
        for http in vs.spec.http.iter().flatten() {
            routes.push(http_route(http).map_err(err)?);
        }
        if routes.is_empty() {
            continue;
        }
        for host in vs.spec.hosts.iter().flatten().filter(|h| !is_mesh_host(h)) {
            if vhosts.iter().any(|(h, _)| h == host) {
                return Err(err(format!(
                    "host {host} already has a VirtualService; istiod keeps only one per host"
                )));
            }
            vhosts.push((host.clone(), routes.clone()));
        }
    }
    for r in resources {
        let Resource::ServiceEntry(se) = r else {
            continue;
        };
        let ports = se_ports(se)?;
        for host in &se.spec.hosts {
            for &port in &ports {
                let name = cluster_name(host, port);
                clusters.insert(
                    name.clone(),
                    static_cluster(&name, internet.resolve(host, port)),
                );
            }
            if ports.contains(&HTTP_PORT) && !vhosts.iter().any(|(h, _)| h == host) {
                vhosts.push((
                    host.clone(),
                    vec![default_route(&cluster_name(host, HTTP_PORT))],
                ));
            }
        }
    }
    vhosts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut virtual_hosts: Vec<Value> = vhosts
        .into_iter()
        .map(|(host, routes)| {
            json!({
                "name": format!("{host}:{HTTP_PORT}"),
                "domains": [host],
                "include_request_attempt_count": true,
                "routes": routes,
            })
        })
        .collect();
    virtual_hosts.push(catch_all(mode));
    let route_config = json!({
        "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        "name": ROUTE_CONFIG_NAME,
        "validate_clusters": false,
        "ignore_port_in_host_matching": true,
        "virtual_hosts": virtual_hosts,
    });
    Ok(EnvoyConfig {
        route_config,
        clusters: clusters.into_values().collect(),
        mode,
    })
}

#[cfg(test)]
mod tests;
