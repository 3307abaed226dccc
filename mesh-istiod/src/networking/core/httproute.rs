//! Per proxy, the in-mesh route configurations istiod generates: a sidecar's outbound `"8080"` and the
//! ingress gateway's `http.80`.
//!
//! Sidecar (pilot/pkg/networking/core/httproute.go `buildSidecarOutboundHTTPRouteConfig`,
//! `BuildSidecarOutboundVirtualHosts`, `generateVirtualHostDomains`, `GenerateAltVirtualHosts`; route/route.go
//! `BuildSidecarVirtualHostWrapper`):
//! - one virtual host `<fqdn>:<port>` per Service on that port, domains `<fqdn>`, `<fqdn>.`, `<name>`,
//!   `<name>.tutorial.svc`, `<name>.tutorial` (the port is ignored in matching, so `recommendation:8080`
//!   matches too; the ClusterIP domain has no counterpart here);
//! - its routes come from the VirtualService on that host bound to `mesh`, else istiod's default route to
//!   `outbound|<port>||<fqdn>` (timeout 0s, default retry policy);
//! - a destination without a port takes the Service's only port; virtual hosts sorted by name; the catch-all
//!   `allow_any`/`block_all` last; `validate_clusters: false`, `ignore_port_in_host_matching: true`.
//!
//! Gateway (gateway.go `buildGatewayHTTPRouteConfig`): route configuration `http.<server port>`, one virtual
//! host `<host>:<port>` per VirtualService host bound to the Gateway, no catch-all (no match: 404 NR).

use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1::gateways::Gateway;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualService;
use serde_json::{Value, json};

use crate::model::registry::MESH_PORT;
use crate::model::registry::{NAMESPACE, ServiceDef};
use crate::model::sidecar::Mode;
use crate::networking::core::cluster::resolve_host;
use crate::networking::core::cluster_builder::{PASSTHROUGH_CLUSTER, subset_cluster_name};
use crate::networking::core::route::{self, Destinations};

/// Catch-all virtual host and route in ALLOW_ANY mode.
pub const ALLOW_ANY: &str = "allow_any";
/// Catch-all virtual host and route in REGISTRY_ONLY mode.
pub const BLOCK_ALL: &str = "block_all";

/// A virtual host as istiod writes them for a sidecar or a gateway (`include_request_attempt_count` on).
pub fn virtual_host(name: String, domains: Vec<String>, routes: Vec<Value>) -> Value {
    json!({
        "name": name,
        "domains": domains,
        "routes": routes,
        "include_request_attempt_count": true,
    })
}

/// A route configuration of these virtual hosts: clusters not validated, the port ignored in host
/// matching (istiod's outbound and gateway route configurations).
pub fn route_configuration(name: String, virtual_hosts: Vec<Value>) -> Value {
    json!({
        "name": name,
        "virtual_hosts": virtual_hosts,
        "validate_clusters": false,
        "ignore_port_in_host_matching": true,
    })
}

/// `buildCatchAllVirtualHost`: the last virtual host of a sidecar's outbound route configuration, for
/// the hosts no other one names.
pub fn catch_all(mode: Mode) -> Value {
    match mode {
        Mode::AllowAny => virtual_host(
            ALLOW_ANY.into(),
            vec!["*".into()],
            vec![json!({"name": ALLOW_ANY, "match": {"prefix": "/"},
                        "route": {"cluster": PASSTHROUGH_CLUSTER, "timeout": "0s"}})],
        ),
        Mode::RegistryOnly => virtual_host(
            BLOCK_ALL.into(),
            vec!["*".into()],
            vec![json!({"name": BLOCK_ALL, "match": {"prefix": "/"},
                        "direct_response": {"status": 502}})],
        ),
    }
}

/// Is the VirtualService bound to the sidecars: `gateways` absent, empty (`gateways: []`), or naming the
/// reserved gateway `mesh`? istiod reads an empty list as an absent one, the mesh gateway
/// (pilot/pkg/model/push_context.go `getGatewayNames`: `len(vs.Gateways) == 0`). The one answer for the
/// admission check (config/validation/networking.rs), the sidecars' routes here and the egress translation (egress.rs).
pub fn bound_to_mesh(vs: &VirtualService) -> bool {
    vs.spec
        .gateways
        .as_ref()
        .is_none_or(|g| g.is_empty() || g.iter().any(|g| g == MESH_GATEWAY))
}

/// The reserved gateway name that binds a VirtualService to every sidecar.
pub const MESH_GATEWAY: &str = "mesh";

struct InMesh<'a> {
    services: &'a [ServiceDef],
    listener_port: u16,
}

impl Destinations for InMesh<'_> {
    fn cluster(&self, host: &str, subset: Option<&str>, port: Option<u16>) -> String {
        let fqdn = resolve_host(host, self.services);
        let svc = self.services.iter().find(|s| s.fqdn() == fqdn);
        let port = port.or(svc.map(|s| s.port)).unwrap_or(self.listener_port);
        subset_cluster_name(&fqdn, subset, port)
    }
}

/// The domains istiod gives a Kubernetes Service's virtual host (port ignored in matching).
pub fn domains(svc: &ServiceDef) -> Vec<String> {
    let f = svc.fqdn();
    vec![
        f.clone(),
        format!("{f}."),
        svc.name.clone(),
        format!("{}.{NAMESPACE}.svc", svc.name),
        format!("{}.{NAMESPACE}", svc.name),
    ]
}

fn vs_routes(vs: &VirtualService, dests: &dyn Destinations) -> Result<Vec<Value>, String> {
    let name = vs.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (i, http) in vs.spec.http.iter().flatten().enumerate() {
        out.extend(
            route::http_routes(http, dests)
                .map_err(|e| format!("VirtualService {name}: spec.http.{i}: {e}"))?,
        );
    }
    Ok(out)
}

/// The outbound route configuration `"8080"` of a sidecar.
pub fn outbound_routes(
    resources: &[Resource],
    services: &[ServiceDef],
    mode: Mode,
) -> Result<Value, String> {
    let dests = InMesh {
        services,
        listener_port: MESH_PORT,
    };
    let mut vhosts = Vec::new();
    let mut on_port: Vec<&ServiceDef> = services.iter().filter(|s| s.port == MESH_PORT).collect();
    on_port.sort_by_key(|s| s.fqdn());
    for svc in on_port {
        let vs = resources
            .iter()
            .filter_map(|r| match r {
                Resource::VirtualService(vs)
                    if bound_to_mesh(vs)
                        && vs
                            .spec
                            .hosts
                            .iter()
                            .flatten()
                            .any(|h| resolve_host(h, services) == svc.fqdn()) =>
                {
                    Some(&**vs)
                }
                _ => None,
            })
            .next_back();
        let routes = match vs {
            Some(vs) => vs_routes(vs, &dests)?,
            None => vec![route::default_route(&subset_cluster_name(
                &svc.fqdn(),
                None,
                svc.port,
            ))],
        };
        vhosts.push(virtual_host(
            format!("{}:{}", svc.fqdn(), svc.port),
            domains(svc),
            routes,
        ));
    }
    vhosts.push(catch_all(mode));
    Ok(route_configuration(MESH_PORT.to_string(), vhosts))
}

/// Gateway server port of the ingress gateway, as the Gateway objects declare it (the lab's listener
/// serves it on its own port).
pub fn gateway_port(resources: &[Resource]) -> u16 {
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::Gateway(g) => Some(&**g),
            _ => None,
        })
        .flat_map(|g: &Gateway| g.spec.servers.iter().flatten())
        .filter_map(|s| u16::try_from(s.port.number).ok())
        .next()
        .unwrap_or(80)
}

/// The ingress gateway's route configuration `http.<port>`.
pub fn gateway_routes(resources: &[Resource], services: &[ServiceDef]) -> Result<Value, String> {
    let port = gateway_port(resources);
    let gateways: Vec<String> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::Gateway(g) => g.metadata.name.clone(),
            _ => None,
        })
        .collect();
    let dests = InMesh {
        services,
        listener_port: port,
    };
    let mut vhosts = Vec::new();
    for r in resources {
        let Resource::VirtualService(vs) = r else {
            continue;
        };
        let bound = vs.spec.gateways.iter().flatten().any(|g| {
            let g = g.strip_prefix(&format!("{NAMESPACE}/")).unwrap_or(g);
            gateways.iter().any(|n| n == g)
        });
        if !bound {
            continue;
        }
        let routes = vs_routes(vs, &dests)?;
        for host in vs.spec.hosts.iter().flatten() {
            vhosts.push(virtual_host(
                format!("{host}:{port}"),
                vec![host.to_ascii_lowercase()],
                routes.clone(),
            ));
        }
    }
    if vhosts.is_empty() {
        vhosts.push(json!({"name": format!("blackhole:{port}"), "domains": ["*"], "routes": []}));
    }
    Ok(route_configuration(format!("http.{port}"), vhosts))
}

#[cfg(test)]
mod tests;
