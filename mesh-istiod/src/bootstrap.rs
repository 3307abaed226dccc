//! Envoy bootstraps, the lab's counterpart of istiod's pkg/bootstrap (config.go, which fills
//! tools/packaging/common/envoy_bootstrap.json): a sidecar (outbound 8080 and 80, one capture listener per
//! next hop; its inbound listener comes by LDS, [`crate::security::authn::mtls::inbound_listener`]) and
//! the ingress gateway. These listeners are static; their route configurations come by RDS, the clusters
//! (the inbound cluster `inbound|8080||` too, which a DestinationRule's connection pool changes)
//! by CDS, the dynamic listeners by LDS, the policy filters by ECDS and the certificates by SDS, all over
//! one ADS stream to the lab's xDS server (the `xds-grpc` cluster, as istio-agent's bootstrap,
//! tools/packaging/common/envoy_bootstrap.json `dynamic_resources`).
//!
//! Listener names, stat prefixes and HCM settings follow istiod's (pilot/pkg/networking/core/listener.go,
//! listener_inbound.go, httproute.go `buildSidecarInboundHTTPRouteConfig`): outbound `0.0.0.0_<port>` with
//! route configuration `"<port>"`, inbound `virtualInbound` with the route `inbound|8080||`, the gateway's
//! `0.0.0.0_8080` with route configuration `http.80`. On a cluster, iptables sends the app's connection
//! to the outbound listener with the Host the app wrote (`preference:8080`); here the app calls a loopback
//! *capture* listener that sets that Host and hands the request to the outbound listener unchanged.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::{Value, json};

use crate::model::registry::{MESH_PORT, NAMESPACE, ServiceDef, Workload};
use crate::networking::core::cluster_builder::{
    inbound_cluster_name, socket_address, static_cluster,
};
use crate::networking::core::route::cors::{CORS_FILTER, CORS_TYPE};
use crate::networking::core::route::fault::{FAULT_FILTER, FAULT_TYPE};

/// The access log file, in each proxy's directory.
pub const ACCESS_LOG: &str = "access.log";
/// The static cluster of the xDS server (istio-agent's bootstrap names it so).
pub const XDS_CLUSTER: &str = "xds-grpc";

/// An HTTP filter whose configuration comes by ECDS over ADS: a new configuration is in force for the
/// next request, also on connections already open (a listener change would leave those on the old
/// filters until they drain).
pub fn ecds_filter(name: &str, type_url: &str) -> Value {
    json!({"name": name, "config_discovery": {
        "config_source": ads_config_source(),
        "type_urls": [type_url]
    }})
}

/// A config source that is the ADS stream (`"ads": {}`), with istiod's `initial_fetch_timeout` of 0
/// (wait for the first response however long it takes).
pub fn ads_config_source() -> Value {
    json!({"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"})
}

/// Where a listener's routes come from.
#[derive(Clone, Debug)]
pub enum Routes {
    /// A route configuration by RDS, by name.
    Rds(String),
    /// A fixed route configuration.
    Static(Value),
    /// No HTTP at all: TCP to this cluster (kube-proxy's ClusterIP forwarding).
    Tcp(String),
}

/// One HTTP listener.
#[derive(Clone, Debug)]
pub struct Listener {
    pub name: String,
    pub addr: SocketAddr,
    pub routes: Routes,
    /// Whether requests are logged (capture listeners are not: the outbound listener logs them).
    pub log: bool,
    /// The fault and CORS filters before the router (outbound and gateway listeners, as istiod's HCM).
    pub fault: bool,
    /// `server` header: `istio-envoy` inbound; outbound overwrites with Envoy's default name.
    pub server_name: Option<&'static str>,
}

/// What an Envoy starts with.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    /// `sidecar~127.0.0.1~<pod>.tutorial~tutorial.svc.cluster.local` or `router~…`.
    pub node_id: String,
    pub node_cluster: String,
    pub listeners: Vec<Listener>,
    pub static_clusters: Vec<Value>,
}

impl Bootstrap {
    /// The RDS names and the HCM stat prefix serving each.
    pub fn rds(&self) -> Vec<(String, String)> {
        self.listeners
            .iter()
            .filter_map(|l| match &l.routes {
                Routes::Rds(name) => Some((l.name.clone(), name.clone())),
                Routes::Static(_) | Routes::Tcp(_) => None,
            })
            .collect()
    }
}

fn access_log(dir: &Path, listener: &str) -> Value {
    json!([{
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": dir.join(ACCESS_LOG).display().to_string(),
            "log_format": {"json_format": {
                "listener": listener,
                "start_time": "%START_TIME%",
                "authority": "%REQ(:AUTHORITY)%",
                "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                "user_agent": "%REQ(USER-AGENT)%",
                "response_code": "%RESPONSE_CODE%",
                "response_flags": "%RESPONSE_FLAGS%",
                "response_code_details": "%RESPONSE_CODE_DETAILS%",
                "route_name": "%ROUTE_NAME%",
                "upstream_cluster": "%UPSTREAM_CLUSTER%",
                "upstream_host": "%UPSTREAM_HOST%",
                "attempts": "%UPSTREAM_REQUEST_ATTEMPT_COUNT%",
                "duration_ms": "%DURATION%",
                // Pairs a sender's outbound entry with the receiver's inbound one (the graph's mirror edges).
                "request_id": "%REQ(X-REQUEST-ID)%"
            }}
        }
    }])
}

/// The HTTP connection manager of an HTTP listener (its `typed_config`): routes, `server` header, access
/// log to `dir`, then `http_filters`, the fault and CORS filters (when the listener has them: istiod's
/// listener_builder.go puts them, in that order, where routes' per-filter configs need them) and the router.
pub fn http_connection_manager(l: &Listener, dir: &Path, http_filters: Vec<Value>) -> Value {
    let mut hcm = json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": l.name,
        "normalize_path": true,
        "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
    });
    match &l.routes {
        Routes::Rds(name) => {
            hcm["rds"] = json!({"route_config_name": name, "config_source": ads_config_source()});
        }
        Routes::Static(rc) => hcm["route_config"] = rc.clone(),
        // A TCP listener has no connection manager (`listener_json` builds its tcp_proxy).
        Routes::Tcp(_) => {}
    }
    match l.server_name {
        Some(n) => hcm["server_name"] = json!(n),
        None => hcm["server_header_transformation"] = json!("OVERWRITE"),
    }
    if l.log {
        hcm["access_log"] = access_log(dir, &l.name);
    } else {
        hcm["generate_request_id"] = json!(false);
    }
    let mut filters = http_filters;
    if l.fault {
        filters.push(json!({"name": FAULT_FILTER, "typed_config": {"@type": FAULT_TYPE}}));
        filters.push(json!({"name": CORS_FILTER, "typed_config": {"@type": CORS_TYPE}}));
    }
    filters.push(json!({"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}));
    hcm["http_filters"] = json!(filters);
    hcm
}

fn listener_json(l: &Listener, dir: &Path) -> Value {
    if let Routes::Tcp(cluster) = &l.routes {
        return json!({
            "name": l.name,
            "address": socket_address(l.addr),
            "enable_reuse_port": false,
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
                "stat_prefix": l.name,
                "cluster": cluster
            }}]}]
        });
    }
    let hcm = http_connection_manager(l, dir, Vec::new());
    json!({
        "name": l.name,
        "address": socket_address(l.addr),
        // A port someone else holds must fail the start, not be shared (SO_REUSEPORT balances between both).
        "enable_reuse_port": false,
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}]
    })
}

/// The static cluster of the xDS server at `xds` (envoy_bootstrap.json's `xds-grpc`, on TCP loopback
/// where istio-agent uses a Unix socket): gRPC, so HTTP/2.
fn xds_cluster(xds: SocketAddr) -> Value {
    let mut c = crate::util::protomarshal::to_json(&static_cluster(XDS_CLUSTER, xds));
    c["connect_timeout"] = json!("1s");
    c["typed_extension_protocol_options"] = json!({
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}}
        }
    });
    c
}

/// istio-agent's runtime flags that change what Envoy accepts or does with a request
/// (pkg/bootstrap/config.go `extractRuntimeFlags`): a regex of up to 32768 RE2 instructions (Envoy's own
/// limit is 100, and Istio's validation accepts any regex Go compiles), a `#fragment` stripped from the
/// path rather than rejected. Then the admin layer, as envoy_bootstrap.json's `layered_runtime`.
fn runtime() -> Value {
    json!({"layers": [
        {"name": "global config", "static_layer": {
            "re2.max_program_size.error_level": "32768",
            "envoy.reloadable_features.http_reject_path_with_fragment": false
        }},
        {"name": "admin", "admin_layer": {}}
    ]})
}

/// The bootstrap JSON: admin on loopback, the listeners, CDS and LDS by ADS from the xDS server at `xds`.
pub fn to_json(b: &Bootstrap, admin: SocketAddr, dir: &Path, xds: SocketAddr) -> Value {
    let clusters = b.static_clusters.iter().cloned().chain([xds_cluster(xds)]);
    json!({
        "node": {"id": b.node_id, "cluster": b.node_cluster},
        "admin": {"address": socket_address(admin)},
        "layered_runtime": runtime(),
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "set_node_on_first_message_only": true,
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}]
            },
            "cds_config": ads_config_source(),
            "lds_config": ads_config_source()
        },
        "static_resources": {
            "listeners": b.listeners.iter().map(|l| listener_json(l, dir)).collect::<Vec<_>>(),
            "clusters": clusters.map(|mut c| {
                if let Some(o) = c.as_object_mut() {
                    o.remove("@type");
                }
                c
            }).collect::<Vec<_>>(),
        }
    })
}

/// The inbound route configuration in front of the app (`buildSidecarInboundHTTPRouteConfig`,
/// `BuildDefaultHTTPInboundRoute`: no timeout, the inbound retry policy `reset-before-request` from
/// Istio 1.24, `ENABLE_INBOUND_RETRY_POLICY`'s default; none before).
pub fn inbound_routes(port: u16, istio: crate::model::release::IstioRelease) -> Value {
    let cluster = inbound_cluster_name(port);
    let mut routes = json!({
        "name": cluster,
        "validate_clusters": false,
        "virtual_hosts": [{
            "name": format!("inbound|http|{port}"),
            "domains": ["*"],
            "routes": [{
                "name": "default",
                "match": {"prefix": "/"},
                "route": {"cluster": cluster, "timeout": "0s"}
            }]
        }]
    });
    if istio.inbound_retry_policy() {
        routes["virtual_hosts"][0]["routes"][0]["route"]["retry_policy"] =
            json!({"retry_on": "reset-before-request", "num_retries": 2});
    }
    routes
}

/// A capture listener's routes: the Host the app would have sent on a cluster, to the outbound listener.
pub fn capture_routes(service: &str, port: u16, to_cluster: &str) -> Value {
    json!({
        "name": format!("capture|{service}"),
        "virtual_hosts": [{
            "name": "capture",
            "domains": ["*"],
            "routes": [{"match": {"prefix": "/"}, "route": {
                "cluster": to_cluster,
                "host_rewrite_literal": format!("{service}:{port}"),
                "timeout": "0s"
            }}]
        }]
    })
}

/// The ingress gateway's bootstrap: its listener `0.0.0.0_8080` on `addr`, routes by RDS from `route`.
pub fn gateway_bootstrap(addr: SocketAddr, route: &str) -> Bootstrap {
    Bootstrap {
        node_id:
            "router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local"
                .into(),
        node_cluster: "istio-ingressgateway.istio-system".into(),
        listeners: vec![Listener {
            name: "0.0.0.0_8080".into(),
            addr,
            routes: Routes::Rds(route.into()),
            log: true,
            fault: true,
            server_name: None,
        }],
        static_clusters: vec![],
    }
}

const CAPTURE_CLUSTER: &str = "capture|outbound";

/// A sidecar's static listeners: outbound 8080 and 80, a capture listener per next hop (the inbound
/// listener in front of the app comes by LDS, so PeerAuthentication can change it at runtime).
pub fn sidecar_bootstrap(
    w: &Workload,
    outbound: SocketAddr,
    egress: SocketAddr,
    captures: &[(ServiceDef, SocketAddr)],
) -> Bootstrap {
    let mut listeners = vec![
        Listener {
            name: format!("outbound_0.0.0.0_{MESH_PORT}"),
            addr: outbound,
            routes: Routes::Rds(MESH_PORT.to_string()),
            log: true,
            fault: true,
            server_name: None,
        },
        Listener {
            name: "outbound_0.0.0.0_80".into(),
            addr: egress,
            routes: Routes::Rds("80".into()),
            log: true,
            fault: true,
            server_name: None,
        },
    ];
    for (svc, addr) in captures {
        listeners.push(Listener {
            name: format!("capture_{}", svc.name),
            addr: *addr,
            routes: Routes::Static(capture_routes(&svc.name, svc.port, CAPTURE_CLUSTER)),
            log: false,
            fault: false,
            server_name: None,
        });
    }
    Bootstrap {
        node_id: format!(
            "sidecar~127.0.0.1~{}.{NAMESPACE}~{NAMESPACE}.svc.cluster.local",
            w.pod
        ),
        node_cluster: format!("{}.{NAMESPACE}", w.name),
        listeners,
        static_clusters: vec![crate::util::protomarshal::to_json(&static_cluster(
            CAPTURE_CLUSTER,
            outbound,
        ))],
    }
}

#[cfg(test)]
mod tests;
