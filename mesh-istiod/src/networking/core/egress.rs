//! Egress: the sidecar's outbound port 80, where calls to hosts outside the mesh leave — ServiceEntries,
//! VirtualServices on external hosts and the outbound traffic policy → Envoy configuration, the way
//! istiod's pilot/pkg/networking/core/httproute.go (`buildSidecarOutboundHTTPRouteConfig` for port 80),
//! cluster.go (the ServiceEntry clusters) and cluster_builder.go (`buildDefaultPassthroughCluster`) build it.
//!
//! [`to_envoy`] takes the applied objects and the mesh-wide mode and returns the route configuration
//! `"80"` and the clusters, as Envoy's `RouteConfiguration` and `Cluster` types. What istiod does is
//! summarised in docs/LOCAL-MESH.md; the rules reproduced here:
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
use std::net::SocketAddr;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::route::v3::{Route, RouteConfiguration, VirtualHost};
use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1::serviceentries::ServiceEntry;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualService, VirtualServiceHttp,
};

use crate::model::registry::{NAMESPACE, fqdn};
use crate::model::release::IstioRelease;
use crate::model::sidecar::{Labels, Mode, effective_mode};
use crate::networking::core::cluster_builder::{
    PASSTHROUGH_CLUSTER, cluster_name, static_cluster, subset_cluster_name,
};
use crate::networking::core::httproute::{
    bound_to_mesh, catch_all, route_configuration, virtual_host,
};
use crate::networking::core::route::{self, Destinations};

/// Name of the outbound route configuration for port 80 (istiod names it after the port).
pub const ROUTE_CONFIG_NAME: &str = "80";
/// The only port of egress traffic in the lab's scope (plain HTTP).
pub const HTTP_PORT: u16 = 80;

/// The mesh's own services; VirtualServices on them are not egress.
pub const MESH_SERVICES: &[&str] = &["customer", "preference", "recommendation"];

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

/// What Envoy gets: the route configuration `"80"` and every cluster, as Envoy's types.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvoyConfig {
    pub route_config: RouteConfiguration,
    pub clusters: Vec<Cluster>,
    /// The mode in effect (mesh-wide, or a Sidecar's).
    pub mode: Mode,
}

impl EnvoyConfig {
    /// Cluster names, sorted.
    pub fn cluster_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.clusters.iter().map(|c| c.name.clone()).collect();
        names.sort();
        names
    }

    /// The virtual host named `name`, if any.
    pub fn virtual_host(&self, name: &str) -> Option<&VirtualHost> {
        self.route_config
            .virtual_hosts
            .iter()
            .find(|v| v.name == name)
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

/// Is `host` one of the mesh's own services (short name or FQDN in the lab's namespace)?
pub fn is_mesh_host(host: &str) -> bool {
    MESH_SERVICES.iter().any(|s| {
        host == *s
            || host == format!("{s}.{NAMESPACE}")
            || host == format!("{s}.{NAMESPACE}.svc")
            || host == fqdn(s)
    })
}

struct External;

impl Destinations for External {
    fn cluster(&self, host: &str, subset: Option<&str>, port: Option<u16>) -> String {
        subset_cluster_name(host, subset, port.unwrap_or(HTTP_PORT))
    }
}

/// One `http` rule of an egress VirtualService → its Envoy routes.
fn http_route(http: &VirtualServiceHttp, istio: IstioRelease) -> Result<Vec<Route>, String> {
    route::http_routes(http, &External, istio)
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
    bound_to_mesh(vs) && vs.spec.hosts.iter().flatten().any(|h| !is_mesh_host(h))
}

/// The port-80 routes of each external host an egress VirtualService names, in first-declared order. They
/// replace a ServiceEntry's default route on the same host; two VirtualServices for one host are refused.
fn virtual_service_routes(
    resources: &[Resource],
    istio: IstioRelease,
) -> Result<Vec<(String, Vec<Route>)>, TranslateError> {
    let mut vhosts: Vec<(String, Vec<Route>)> = Vec::new();
    for vs in egress_virtual_services(resources) {
        let name = name_of(&vs.metadata.name);
        let err = |message: String| TranslateError {
            kind: "VirtualService",
            name: name.clone(),
            message,
        };
        let mut routes = Vec::new();
        for http in vs.spec.http.iter().flatten() {
            routes.extend(http_route(http, istio).map_err(err)?);
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
    Ok(vhosts)
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
    labels: &Labels,
    istio: IstioRelease,
) -> Result<EnvoyConfig, TranslateError> {
    let mode = effective_mode(resources, mesh_mode, labels);
    let mut clusters: BTreeMap<String, Cluster> = BTreeMap::new();
    clusters.insert(
        PASSTHROUGH_CLUSTER.into(),
        static_cluster(PASSTHROUGH_CLUSTER, internet.resolve("*", HTTP_PORT)),
    );
    // host -> routes of its port-80 virtual host, in first-declared order.
    let mut vhosts = virtual_service_routes(resources, istio)?;
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
                    vec![route::default_route(&cluster_name(host, HTTP_PORT), istio)],
                ));
            }
        }
    }
    vhosts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut virtual_hosts: Vec<VirtualHost> = vhosts
        .into_iter()
        .map(|(host, routes)| virtual_host(format!("{host}:{HTTP_PORT}"), vec![host], routes))
        .collect();
    virtual_hosts.push(catch_all(mode));
    Ok(EnvoyConfig {
        route_config: route_configuration(ROUTE_CONFIG_NAME.into(), virtual_hosts),
        clusters: clusters.into_values().collect(),
        mode,
    })
}

#[cfg(test)]
mod tests;
