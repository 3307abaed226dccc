//! Per proxy, the in-mesh route configurations istiod generates: a sidecar's outbound `"8080"` and the
//! ingress gateway's `http.80`.
//!
//! Sidecar (pilot/pkg/networking/core/httproute.go `buildSidecarOutboundHTTPRouteConfig`,
//! `BuildSidecarOutboundVirtualHosts`, `generateVirtualHostDomains`, `GenerateAltVirtualHosts`; route/route.go
//! `BuildSidecarVirtualHostWrapper`):
//! - one virtual host `<fqdn>:<port>` per Service on that port, domains `<fqdn>`, `<fqdn>.`, `<name>`,
//!   `<name>.tutorial.svc`, `<name>.tutorial` (the port is ignored in matching, so `recommendation:8080`
//!   matches too; the ClusterIP domain has no counterpart here);
//! - its routes come from the VirtualService on that host bound to `mesh`, for this sidecar's labels (route.go
//!   `BuildHTTPRoutesForVirtualService`: the matches `sourceLabels`/`gateways` keep, up to the first catch-all),
//!   else (no VirtualService, or none of its routes kept) istiod's default route to `outbound|<port>||<fqdn>`
//!   (timeout 0s, default retry policy);
//! - a destination without a port takes the Service's only port; virtual hosts sorted by name; the catch-all
//!   `allow_any`/`block_all` last; `validate_clusters: false`, `ignore_port_in_host_matching: true`.
//!
//! Gateway (gateway.go `buildGatewayHTTPRouteConfig`): route configuration `http.<server port>` from the
//! Gateways that select the lab's ingress gateway (push_context.go `mergeGateways`: no selector, or one
//! within the labels `istio: ingressgateway`, `app: istio-ingressgateway`; any other Gateway configures
//! nothing) and their servers on that port. For each server and each VirtualService bound to its Gateway
//! (`VirtualServicesForGateway`; its routes as the gateway sees them: matches naming `tutorial/<Gateway>` or
//! the gateway's labels kept, none left = no routes), the virtual hosts are the intersection of the server's
//! hosts (host/names.go `NamesForNamespace`, model/gateway.go `sanitizeServerHostNamespace`) and the
//! VirtualService's hosts (`Names.Intersection`: the more specific of two matching names, `*` and
//! `*.example.com` as config/host.rs reads them); a VirtualService sharing no host with a server adds nothing.
//! One virtual host `<host>:<port>` per lower-cased host, the routes of every VirtualService on it appended;
//! then `collapseDuplicateRoutes` (hosts with equal routes share the first's virtual host), `SortVHostRoutes`,
//! `SortVirtualHosts`. No catch-all: a Host no domain matches gets 404 NR; no virtual host at all gives the
//! `blackhole:<port>` one, which answers 404 to everything.

use envoy_types::pb::envoy::config::route::v3::route::Action;
use envoy_types::pb::envoy::config::route::v3::route_match::PathSpecifier;
use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, Route, RouteConfiguration, VirtualHost,
};
use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1::gateways::Gateway;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::VirtualService;

use crate::config::host;
use crate::model::registry::MESH_PORT;
use crate::model::registry::{NAMESPACE, ServiceDef};
use crate::model::release::IstioRelease;
use crate::model::sidecar::{Labels, Mode};
use crate::networking::core::cluster::resolve_host;
use crate::networking::core::cluster_builder::{PASSTHROUGH_CLUSTER, subset_cluster_name};
use crate::networking::core::route::{self, Destinations};

/// Catch-all virtual host and route in ALLOW_ANY mode.
pub const ALLOW_ANY: &str = "allow_any";
/// Catch-all virtual host and route in REGISTRY_ONLY mode.
pub const BLOCK_ALL: &str = "block_all";

/// A virtual host as istiod writes them for a sidecar or a gateway (`include_request_attempt_count` on).
pub fn virtual_host(name: String, domains: Vec<String>, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        name,
        domains,
        routes,
        include_request_attempt_count: true,
        ..VirtualHost::default()
    }
}

/// A route configuration of these virtual hosts: clusters not validated, the port ignored in host
/// matching (istiod's outbound and gateway route configurations).
pub fn route_configuration(name: String, virtual_hosts: Vec<VirtualHost>) -> RouteConfiguration {
    RouteConfiguration {
        name,
        virtual_hosts,
        validate_clusters: route::bool_value(false),
        ignore_port_in_host_matching: true,
        ..RouteConfiguration::default()
    }
}

/// `buildCatchAllVirtualHost`: the last virtual host of a sidecar's outbound route configuration, for
/// the hosts no other one names.
pub fn catch_all(mode: Mode) -> VirtualHost {
    let (name, action) = match mode {
        Mode::AllowAny => (
            ALLOW_ANY,
            Action::Route(route::to_cluster(PASSTHROUGH_CLUSTER)),
        ),
        Mode::RegistryOnly => (
            BLOCK_ALL,
            Action::DirectResponse(DirectResponseAction {
                status: 502,
                ..DirectResponseAction::default()
            }),
        ),
    };
    let route = Route {
        name: name.into(),
        r#match: Some(route::prefix_all()),
        action: Some(action),
        ..Route::default()
    };
    virtual_host(name.into(), vec!["*".into()], vec![route])
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

/// route.go `BuildHTTPRoutesForVirtualService`: the routes of every rule for the proxy `source`, up to the
/// first catch-all (a rule without `match`, or a match that translates to prefix `/` without headers);
/// none when every match leaves the proxy out (istiod then builds no virtual host from the VirtualService).
fn vs_routes(
    vs: &VirtualService,
    dests: &dyn Destinations,
    source: &route::Source,
    istio: IstioRelease,
) -> Result<Vec<Route>, String> {
    let name = vs.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (i, http) in vs.spec.http.iter().flatten().enumerate() {
        let routes = route::http_routes_for(http, dests, Some(source), istio)
            .map_err(|e| format!("VirtualService {name}: spec.http.{i}: {e}"))?;
        let no_match = http.r#match.as_deref().unwrap_or_default().is_empty();
        for mut r in routes {
            let last = is_catch_all(&r);
            // route.go `translateRoute`: every route names the VirtualService it came from.
            r.metadata = Some(crate::networking::util::config_info_metadata(
                "VirtualService",
                &name,
            ));
            out.push(r);
            if last {
                return Ok(out);
            }
        }
        if no_match {
            break;
        }
    }
    Ok(out)
}

/// The outbound route configuration `"8080"` of a sidecar.
pub fn outbound_routes(
    resources: &[Resource],
    services: &[ServiceDef],
    mode: Mode,
    labels: &Labels,
    istio: IstioRelease,
) -> Result<RouteConfiguration, String> {
    let dests = InMesh {
        services,
        listener_port: MESH_PORT,
    };
    let gateways = [MESH_GATEWAY.to_owned()];
    let source = route::Source {
        labels,
        gateways: &gateways,
        listen_port: MESH_PORT,
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
            Some(vs) => vs_routes(vs, &dests, &source, istio)?,
            None => Vec::new(),
        };
        let routes = if routes.is_empty() {
            vec![route::default_route(
                &subset_cluster_name(&svc.fqdn(), None, svc.port),
                istio,
            )]
        } else {
            routes
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

/// The labels of the lab's ingress gateway pod: those of Istio's default ingress gateway.
pub const INGRESS_GATEWAY_LABELS: &[(&str, &str)] =
    &[("istio", "ingressgateway"), ("app", "istio-ingressgateway")];

/// Does the Gateway configure the lab's ingress gateway? push_context.go `mergeGateways`: a Gateway without
/// a selector applies to every gateway workload, else its selector must be a subset of the pod's labels.
pub fn selects_ingress_gateway(g: &Gateway) -> bool {
    g.spec.selector.iter().flatten().all(|(k, v)| {
        INGRESS_GATEWAY_LABELS
            .iter()
            .any(|(lk, lv)| lk == k && lv == v)
    })
}

/// The Gateways that configure the lab's ingress gateway, in the order given.
fn ingress_gateways(resources: &[Resource]) -> impl Iterator<Item = &Gateway> {
    resources.iter().filter_map(|r| match r {
        Resource::Gateway(g) if selects_ingress_gateway(g) => Some(&**g),
        _ => None,
    })
}

/// Gateway server port of the ingress gateway, as the Gateway objects selecting it declare it (the lab's
/// listener serves it on its own port).
pub fn gateway_port(resources: &[Resource]) -> u16 {
    ingress_gateways(resources)
        .flat_map(|g| g.spec.servers.iter().flatten())
        .filter_map(|s| u16::try_from(s.port.number).ok())
        .next()
        .unwrap_or(80)
}

/// Is the VirtualService bound to the Gateway named `gateway` (`name` or `tutorial/name`)?
fn bound_to_gateway(vs: &VirtualService, gateway: &str) -> bool {
    vs.spec.gateways.iter().flatten().any(|g| {
        let g = g.strip_prefix(&format!("{NAMESPACE}/")).unwrap_or(g);
        g == gateway
    })
}

/// route.go `IsCatchAllRoute`: prefix `/` or regex `.*`, no header match.
fn is_catch_all(route: &Route) -> bool {
    let Some(m) = &route.r#match else {
        return false;
    };
    let all = match &m.path_specifier {
        Some(PathSpecifier::Prefix(p)) => p == "/",
        Some(PathSpecifier::SafeRegex(r)) => r.regex == ".*",
        _ => false,
    };
    all && m.headers.is_empty()
}

/// gateway.go `collapseDuplicateRoutes` (on by default) then route.go `SortVHostRoutes` and util.go
/// `SortVirtualHosts`: hosts from the most specific (host.go `MoreSpecific`), a host whose routes equal an
/// earlier one's joins its domains, catch-all routes last, virtual hosts sorted by name.
fn collapse_and_sort(mut by_host: Vec<(String, Vec<Route>)>, port: u16) -> Vec<VirtualHost> {
    by_host.sort_by(|(a, _), (b, _)| host::more_specific(a, b));
    let mut kept: Vec<(String, Vec<String>, Vec<Route>)> = Vec::new();
    for (host, routes) in by_host {
        match kept.iter_mut().find(|(_, _, r)| *r == routes) {
            Some((_, domains, _)) => domains.push(host),
            None => kept.push((host.clone(), vec![host], routes)),
        }
    }
    let mut vhosts: Vec<VirtualHost> = kept
        .into_iter()
        .map(|(host, domains, routes)| {
            let (mut other, catch_all): (Vec<Route>, Vec<Route>) =
                routes.into_iter().partition(|r| !is_catch_all(r));
            other.extend(catch_all);
            virtual_host(format!("{host}:{port}"), domains, other)
        })
        .collect();
    vhosts.sort_by(|a, b| a.name.cmp(&b.name));
    vhosts
}

/// The ingress gateway's route configuration `http.<port>` (gateway.go `buildGatewayHTTPRouteConfig`).
pub fn gateway_routes(
    resources: &[Resource],
    services: &[ServiceDef],
    istio: IstioRelease,
) -> Result<RouteConfiguration, String> {
    let port = gateway_port(resources);
    let dests = InMesh {
        services,
        listener_port: port,
    };
    let labels: Labels = INGRESS_GATEWAY_LABELS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut by_host: Vec<(String, Vec<Route>)> = Vec::new();
    for g in ingress_gateways(resources) {
        let name = g.metadata.name.clone().unwrap_or_default();
        let gateways = [route::gateway_name(&name)];
        let source = route::Source {
            labels: &labels,
            gateways: &gateways,
            listen_port: port,
        };
        let servers = g.spec.servers.iter().flatten();
        for server in servers.filter(|s| s.port.number == i64::from(port)) {
            let server_hosts = host::names_for_namespace(&server.hosts, NAMESPACE, NAMESPACE);
            for r in resources {
                let Resource::VirtualService(vs) = r else {
                    continue;
                };
                if !bound_to_gateway(vs, &name) {
                    continue;
                }
                let vs_hosts: Vec<&str> =
                    vs.spec.hosts.iter().flatten().map(String::as_str).collect();
                let hosts = host::intersection(&server_hosts, &vs_hosts);
                if hosts.is_empty() {
                    continue;
                }
                let routes = vs_routes(vs, &dests, &source, istio)?;
                if routes.is_empty() {
                    continue;
                }
                for h in hosts.iter().map(|h| h.to_ascii_lowercase()) {
                    match by_host.iter_mut().find(|(known, _)| *known == h) {
                        Some((_, known)) => known.extend(routes.iter().cloned()),
                        None => by_host.push((h, routes.clone())),
                    }
                }
            }
        }
    }
    let mut vhosts = collapse_and_sort(by_host, port);
    if vhosts.is_empty() {
        vhosts.push(VirtualHost {
            name: format!("blackhole:{port}"),
            domains: vec!["*".into()],
            ..VirtualHost::default()
        });
    }
    Ok(route_configuration(format!("http.{port}"), vhosts))
}

#[cfg(test)]
mod tests;
