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
mod tests {

    use serde_json::json;

    use super::*;
    use crate::fixtures::parse;

    fn services() -> Vec<ServiceDef> {
        ["customer", "preference", "recommendation"]
            .iter()
            .map(|n| ServiceDef {
                name: (*n).into(),
                port: 8080,
                selector: [("app".to_owned(), (*n).to_owned())].into(),
            })
            .collect()
    }

    fn vhost<'a>(rc: &'a Value, name: &str) -> &'a Value {
        rc["virtual_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no virtual host {name} in {rc}"))
    }

    const R: &str = "recommendation.tutorial.svc.cluster.local";

    #[test]
    fn without_a_virtual_service_each_service_gets_istiods_domains_and_default_route() {
        let rc = outbound_routes(&[], &services(), Mode::AllowAny).unwrap();
        assert_eq!(rc["name"], "8080");
        assert_eq!(rc["ignore_port_in_host_matching"], true);
        assert_eq!(rc["validate_clusters"], false);
        let vh = vhost(&rc, &format!("{R}:8080"));
        assert_eq!(
            vh["domains"],
            json!([
                R,
                format!("{R}."),
                "recommendation",
                "recommendation.tutorial.svc",
                "recommendation.tutorial"
            ])
        );
        assert_eq!(
            vh["routes"],
            json!([route::default_route(&format!("outbound|8080||{R}"))])
        );
        assert_eq!(vh["routes"][0]["route"]["timeout"], "0s");
        let names: Vec<&str> = rc["virtual_hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.last(), Some(&"allow_any"), "the catch-all comes last");
    }

    #[test]
    fn header_match_weights_mirror_and_subsets_translate_like_istiod() {
        // Inline on purpose: the Safari match, a 90/10 split with a weight-0 v3 and the mirror in one
        // VirtualService, which no shipped file combines (each shipped file: route/tests.rs).
        let vs = parse(
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{headers: {baggage-user-agent: {regex: '.*Safari.*'}}}]
    route:
    - destination: {host: recommendation, subset: version-v2}
  - route:
    - destination: {host: recommendation, subset: version-v1}
      weight: 90
    - destination: {host: recommendation, subset: version-v2}
      weight: 10
    - destination: {host: recommendation, subset: version-v3}
      weight: 0
    mirror: {host: recommendation, subset: version-v2}
    mirrorPercentage: {value: 100.0}
",
        );
        let rc = outbound_routes(&vs, &services(), Mode::AllowAny).unwrap();
        let routes = &vhost(&rc, &format!("{R}:8080"))["routes"];
        assert_eq!(
            routes[0]["match"],
            json!({"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "baggage-user-agent", "string_match": {"safe_regex": {"regex": ".*Safari.*"}}}
            ]})
        );
        assert_eq!(
            routes[0]["route"]["cluster"],
            format!("outbound|8080|version-v2|{R}")
        );
        assert_eq!(
            routes[1]["route"]["weighted_clusters"]["clusters"],
            json!([{"name": format!("outbound|8080|version-v1|{R}"), "weight": 90},
                   {"name": format!("outbound|8080|version-v2|{R}"), "weight": 10}]),
            "weight 0 is left out"
        );
        assert_eq!(
            routes[1]["route"]["request_mirror_policies"],
            json!([{"cluster": format!("outbound|8080|version-v2|{R}"),
                    "runtime_fraction": {"default_value": {"numerator": 1_000_000, "denominator": "MILLION"}},
                    "trace_sampled": false, "disable_shadow_host_suffix_append": true}])
        );
        assert_eq!(
            routes[1]["route"]["retry_policy"],
            route::retry::default_retry_policy()
        );
    }

    #[test]
    fn retries_timeout_and_fault_translate_like_istiod() {
        // Inline on purpose: the retry, timeout and both fault files' rules merged into one rule.
        let vs = parse(
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - route:
    - destination: {host: recommendation}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: '5xx,connect-failure,refused-stream'}
    timeout: 1s
    fault:
      abort: {httpStatus: 503, percentage: {value: 50.0}}
      delay: {fixedDelay: 7s, percentage: {value: 50.0}}
",
        );
        let rc = outbound_routes(&vs, &services(), Mode::AllowAny).unwrap();
        let route = &vhost(&rc, &format!("{R}:8080"))["routes"][0];
        assert_eq!(
            route["route"]["cluster"],
            format!("outbound|8080||{R}"),
            "no subset: the Service's cluster"
        );
        assert_eq!(route["route"]["timeout"], "1s");
        let rp = &route["route"]["retry_policy"];
        assert_eq!(rp["num_retries"], 3);
        assert_eq!(rp["retry_on"], "5xx,connect-failure,refused-stream");
        assert_eq!(rp["per_try_timeout"], "2s");
        assert!(rp.get("retriable_status_codes").is_none());
        assert_eq!(rp["host_selection_retry_max_attempts"], 5);
        let fault = &route["typed_per_filter_config"]["envoy.filters.http.fault"];
        assert_eq!(
            fault["abort"],
            json!({"http_status": 503, "percentage": {"numerator": 500_000, "denominator": "MILLION"}})
        );
        assert_eq!(fault["delay"]["fixed_delay"], "7s");
    }

    #[test]
    fn the_gateway_routes_its_virtual_service_with_the_prefix_rewrite() {
        let gw = parse(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../kubernetes/app/customer-gateway.yml"
            ))
            .unwrap(),
        );
        let rc = gateway_routes(&gw, &services()).unwrap();
        assert_eq!(rc["name"], "http.80");
        let vh = vhost(&rc, "*:80");
        assert_eq!(vh["domains"], json!(["*"]));
        let routes = vh["routes"].as_array().unwrap();
        assert_eq!(
            routes[0]["match"],
            json!({"prefix": "/customer", "case_sensitive": true})
        );
        assert_eq!(routes[0]["route"]["prefix_rewrite"], "/");
        assert_eq!(routes[1]["match"], json!({"prefix": "/"}));
        for r in routes {
            assert_eq!(
                r["route"]["cluster"],
                "outbound|8080||customer.tutorial.svc.cluster.local"
            );
        }
        let none = gateway_routes(&[], &services()).unwrap();
        assert_eq!(
            none["virtual_hosts"],
            json!([{"name": "blackhole:80", "domains": ["*"], "routes": []}])
        );
    }
}
