//! Envoy bootstraps, the lab's counterpart of istiod's pkg/bootstrap (config.go, which fills
//! tools/packaging/common/envoy_bootstrap.json): a sidecar (outbound 8080 and 80, one capture listener per
//! next hop; its inbound listener comes by LDS, [`crate::security::authn::mtls::inbound_listener`]) and
//! the ingress gateway. These listeners are static; their route configurations come by RDS, the clusters
//! (the inbound cluster `inbound|8080||` too, which a DestinationRule's connection pool changes)
//! by CDS, the dynamic listeners by LDS, the policy filters by ECDS and the certificates by SDS, all over
//! one ADS stream to the lab's xDS server (the `xds-grpc` cluster, as istio-agent's bootstrap,
//! tools/packaging/common/envoy_bootstrap.json `dynamic_resources`). The bootstrap, its listeners and
//! their HTTP connection managers are built as Envoy's own types ([`envoy_bootstrap`]), which the lab
//! writes as JSON ([`crate::util::protomarshal::to_json`]).
//!
//! Listener names, stat prefixes and HCM settings follow istiod's (pilot/pkg/networking/core/listener.go,
//! listener_inbound.go, httproute.go `buildSidecarInboundHTTPRouteConfig`): outbound `0.0.0.0_<port>` with
//! route configuration `"<port>"`, inbound `virtualInbound` with the route `inbound|8080||`, the gateway's
//! `0.0.0.0_8080` with route configuration `http.80`. On a cluster, iptables sends the app's connection
//! to the outbound listener with the Host the app wrote (`preference:8080`); here the app calls a loopback
//! *capture* listener that sets that Host and hands the request to the outbound listener unchanged.

use std::net::SocketAddr;
use std::path::Path;

use envoy_types::pb::envoy::config::accesslog::v3::{AccessLog, access_log};
use envoy_types::pb::envoy::config::bootstrap::v3 as boot;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::{
    ApiConfigSource, ApiVersion, ExtensionConfigSource, GrpcService, Http2ProtocolOptions, Node,
    SubstitutionFormatString, api_config_source, grpc_service, substitution_format_string,
};
use envoy_types::pb::envoy::config::listener::v3 as listener;
use envoy_types::pb::envoy::config::route::v3::{
    RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, route,
    route_action, route_match,
};
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::{
    FileAccessLog, file_access_log,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::Cors;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager as hcm, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration, Struct, UInt32Value, Value};
use envoy_types::util::pack_any;
use prost::Name;

use crate::model::registry::{MESH_PORT, NAMESPACE, ServiceDef, Workload};
use crate::networking::core::cluster_builder::{address, inbound_cluster_name, static_cluster};
use crate::networking::core::route::cors::CORS_FILTER;
use crate::networking::core::route::fault::FAULT_FILTER;
use crate::networking::util::{ads_config_source, string_struct, string_value};

/// The access log file, in each proxy's directory.
pub const ACCESS_LOG: &str = "access.log";
/// The static cluster of the xDS server (istio-agent's bootstrap names it so).
pub const XDS_CLUSTER: &str = "xds-grpc";
/// The HTTP connection manager's network filter name (pkg/wellknown `HTTPConnectionManager`).
pub const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";

/// A protobuf `BoolValue` (Envoy's optional booleans).
pub(crate) fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// An HTTP filter configured inline.
fn http_filter(name: &str, config: Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..HttpFilter::default()
    }
}

/// A network filter configured inline.
pub fn network_filter(name: &str, config: Any) -> listener::Filter {
    listener::Filter {
        name: name.to_owned(),
        config_type: Some(listener::filter::ConfigType::TypedConfig(config)),
    }
}

/// An HTTP filter whose configuration comes by ECDS over ADS: a new configuration is in force for the
/// next request, also on connections already open (a listener change would leave those on the old
/// filters until they drain).
pub fn ecds_filter(name: &str, type_url: &str) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::ConfigDiscovery(
            ExtensionConfigSource {
                config_source: Some(ads_config_source()),
                type_urls: vec![type_url.to_owned()],
                ..ExtensionConfigSource::default()
            },
        )),
        ..HttpFilter::default()
    }
}

/// Where a listener's routes come from.
#[derive(Clone, Debug)]
pub enum Routes {
    /// A route configuration by RDS, by name.
    Rds(String),
    /// A fixed route configuration.
    Static(Box<RouteConfiguration>),
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
    pub static_clusters: Vec<Cluster>,
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

/// Each request as one JSON line in `dir`'s access log, naming `listener`.
fn access_log(dir: &Path, listener: &str) -> AccessLog {
    let format = string_struct(&[
        ("listener", listener),
        ("start_time", "%START_TIME%"),
        ("authority", "%REQ(:AUTHORITY)%"),
        ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
        ("user_agent", "%REQ(USER-AGENT)%"),
        ("response_code", "%RESPONSE_CODE%"),
        ("response_flags", "%RESPONSE_FLAGS%"),
        ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
        ("route_name", "%ROUTE_NAME%"),
        ("upstream_cluster", "%UPSTREAM_CLUSTER%"),
        ("upstream_host", "%UPSTREAM_HOST%"),
        ("attempts", "%UPSTREAM_REQUEST_ATTEMPT_COUNT%"),
        ("duration_ms", "%DURATION%"),
        // Pairs a sender's outbound entry with the receiver's inbound one (the graph's mirror edges).
        ("request_id", "%REQ(X-REQUEST-ID)%"),
    ]);
    let file = FileAccessLog {
        path: dir.join(ACCESS_LOG).display().to_string(),
        access_log_format: Some(file_access_log::AccessLogFormat::LogFormat(
            SubstitutionFormatString {
                format: Some(substitution_format_string::Format::JsonFormat(format)),
                ..SubstitutionFormatString::default()
            },
        )),
    };
    AccessLog {
        name: "envoy.access_loggers.file".into(),
        config_type: Some(access_log::ConfigType::TypedConfig(pack_any(file))),
        ..AccessLog::default()
    }
}

/// The HTTP connection manager of an HTTP listener: routes, `server` header, access log to `dir`, then
/// `http_filters`, the fault and CORS filters (when the listener has them: istiod's listener_builder.go
/// puts them, in that order, where routes' per-filter configs need them) and the router.
pub fn http_connection_manager(
    l: &Listener,
    dir: &Path,
    http_filters: Vec<HttpFilter>,
) -> HttpConnectionManager {
    let route_specifier = match &l.routes {
        Routes::Rds(name) => Some(hcm::RouteSpecifier::Rds(Rds {
            route_config_name: name.clone(),
            config_source: Some(ads_config_source()),
        })),
        Routes::Static(rc) => Some(hcm::RouteSpecifier::RouteConfig((**rc).clone())),
        // A TCP listener has no connection manager (`static_listener` builds its tcp_proxy).
        Routes::Tcp(_) => None,
    };
    let mut filters = http_filters;
    if l.fault {
        filters.push(http_filter(FAULT_FILTER, pack_any(HttpFault::default())));
        filters.push(http_filter(CORS_FILTER, pack_any(Cors::default())));
    }
    filters.push(http_filter(
        "envoy.filters.http.router",
        pack_any(Router::default()),
    ));
    HttpConnectionManager {
        stat_prefix: l.name.clone(),
        normalize_path: bool_value(true),
        path_with_escaped_slashes_action: hcm::PathWithEscapedSlashesAction::KeepUnchanged.into(),
        route_specifier,
        server_name: l.server_name.unwrap_or_default().to_owned(),
        server_header_transformation: hcm::ServerHeaderTransformation::Overwrite.into(),
        access_log: if l.log {
            vec![access_log(dir, &l.name)]
        } else {
            Vec::new()
        },
        generate_request_id: if l.log { None } else { bool_value(false) },
        http_filters: filters,
        ..HttpConnectionManager::default()
    }
}

/// A listener of the bootstrap: HTTP through its connection manager, or TCP to a cluster.
fn static_listener(l: &Listener, dir: &Path) -> listener::Listener {
    let filter = match &l.routes {
        Routes::Tcp(cluster) => network_filter(
            "envoy.filters.network.tcp_proxy",
            pack_any(TcpProxy {
                stat_prefix: l.name.clone(),
                cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.clone())),
                ..TcpProxy::default()
            }),
        ),
        Routes::Rds(_) | Routes::Static(_) => network_filter(
            HCM_FILTER,
            pack_any(http_connection_manager(l, dir, Vec::new())),
        ),
    };
    listener::Listener {
        name: l.name.clone(),
        address: Some(address(l.addr)),
        // A port someone else holds must fail the start, not be shared (SO_REUSEPORT balances between both).
        enable_reuse_port: bool_value(false),
        filter_chains: vec![listener::FilterChain {
            filters: vec![filter],
            ..listener::FilterChain::default()
        }],
        ..listener::Listener::default()
    }
}

/// The static cluster of the xDS server at `xds` (envoy_bootstrap.json's `xds-grpc`, on TCP loopback
/// where istio-agent uses a Unix socket): gRPC, so HTTP/2.
fn xds_cluster(xds: SocketAddr) -> Cluster {
    let mut c = static_cluster(XDS_CLUSTER, xds);
    c.connect_timeout = Some(Duration {
        seconds: 1,
        nanos: 0,
    });
    let http2 = HttpProtocolOptions {
        upstream_protocol_options: Some(
            http_protocol_options::UpstreamProtocolOptions::ExplicitHttpConfig(
                http_protocol_options::ExplicitHttpConfig {
                    protocol_config: Some(
                        http_protocol_options::explicit_http_config::ProtocolConfig::Http2ProtocolOptions(
                            Http2ProtocolOptions::default(),
                        ),
                    ),
                },
            ),
        ),
        ..HttpProtocolOptions::default()
    };
    c.typed_extension_protocol_options =
        [(HttpProtocolOptions::full_name(), pack_any(http2))].into();
    c
}

/// istio-agent's runtime flags that change what Envoy accepts or does with a request
/// (pkg/bootstrap/config.go `extractRuntimeFlags`): a regex of up to 32768 RE2 instructions (Envoy's own
/// limit is 100, and Istio's validation accepts any regex Go compiles), a `#fragment` stripped from the
/// path rather than rejected. Then the admin layer, as envoy_bootstrap.json's `layered_runtime`.
fn runtime() -> boot::LayeredRuntime {
    let mut flags = Struct::default();
    flags.fields.insert(
        "re2.max_program_size.error_level".into(),
        string_value("32768"),
    );
    flags.fields.insert(
        "envoy.reloadable_features.http_reject_path_with_fragment".into(),
        Value {
            kind: Some(envoy_types::pb::google::protobuf::value::Kind::BoolValue(
                false,
            )),
        },
    );
    let layer = |name: &str, specifier| boot::RuntimeLayer {
        name: name.to_owned(),
        layer_specifier: Some(specifier),
    };
    boot::LayeredRuntime {
        layers: vec![
            layer(
                "global config",
                boot::runtime_layer::LayerSpecifier::StaticLayer(flags),
            ),
            layer(
                "admin",
                boot::runtime_layer::LayerSpecifier::AdminLayer(boot::runtime_layer::AdminLayer {}),
            ),
        ],
    }
}

/// CDS and LDS by ADS, one gRPC stream to the `xds-grpc` cluster.
fn dynamic_resources() -> boot::bootstrap::DynamicResources {
    boot::bootstrap::DynamicResources {
        ads_config: Some(ApiConfigSource {
            api_type: api_config_source::ApiType::Grpc.into(),
            set_node_on_first_message_only: true,
            transport_api_version: ApiVersion::V3.into(),
            grpc_services: vec![GrpcService {
                target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                    grpc_service::EnvoyGrpc {
                        cluster_name: XDS_CLUSTER.into(),
                        ..grpc_service::EnvoyGrpc::default()
                    },
                )),
                ..GrpcService::default()
            }],
            ..ApiConfigSource::default()
        }),
        cds_config: Some(ads_config_source()),
        lds_config: Some(ads_config_source()),
        ..boot::bootstrap::DynamicResources::default()
    }
}

/// The bootstrap: admin on loopback, the listeners, CDS and LDS by ADS from the xDS server at `xds`.
pub fn envoy_bootstrap(
    b: &Bootstrap,
    admin: SocketAddr,
    dir: &Path,
    xds: SocketAddr,
) -> boot::Bootstrap {
    let mut clusters = b.static_clusters.clone();
    clusters.push(xds_cluster(xds));
    boot::Bootstrap {
        node: Some(Node {
            id: b.node_id.clone(),
            cluster: b.node_cluster.clone(),
            ..Node::default()
        }),
        admin: Some(boot::Admin {
            address: Some(address(admin)),
            ..boot::Admin::default()
        }),
        layered_runtime: Some(runtime()),
        dynamic_resources: Some(dynamic_resources()),
        static_resources: Some(boot::bootstrap::StaticResources {
            listeners: b
                .listeners
                .iter()
                .map(|l| static_listener(l, dir))
                .collect(),
            clusters,
            ..boot::bootstrap::StaticResources::default()
        }),
        ..boot::Bootstrap::default()
    }
}

/// A route configuration of one virtual host `vhost` matching every domain, with `routes`.
fn catch_all(name: String, vhost: &str, routes: Vec<Route>) -> RouteConfiguration {
    RouteConfiguration {
        name,
        virtual_hosts: vec![VirtualHost {
            name: vhost.to_owned(),
            domains: vec!["*".into()],
            routes,
            ..VirtualHost::default()
        }],
        ..RouteConfiguration::default()
    }
}

/// A route of every path (`prefix: /`) to `action`'s cluster, with no timeout.
fn every_path(name: &str, action: RouteAction) -> Route {
    Route {
        name: name.to_owned(),
        r#match: Some(RouteMatch {
            path_specifier: Some(route_match::PathSpecifier::Prefix("/".into())),
            ..RouteMatch::default()
        }),
        action: Some(route::Action::Route(RouteAction {
            timeout: Some(Duration::default()),
            ..action
        })),
        ..Route::default()
    }
}

fn to_cluster(cluster: &str) -> Option<route_action::ClusterSpecifier> {
    Some(route_action::ClusterSpecifier::Cluster(cluster.to_owned()))
}

/// The inbound route configuration in front of the app (`buildSidecarInboundHTTPRouteConfig`,
/// `BuildDefaultHTTPInboundRoute`: no timeout, the inbound retry policy `reset-before-request` from
/// Istio 1.24, `ENABLE_INBOUND_RETRY_POLICY`'s default; none before).
pub fn inbound_routes(port: u16, istio: crate::model::release::IstioRelease) -> RouteConfiguration {
    let cluster = inbound_cluster_name(port);
    let retry_policy = istio.inbound_retry_policy().then(|| RetryPolicy {
        retry_on: "reset-before-request".into(),
        num_retries: Some(UInt32Value { value: 2 }),
        ..RetryPolicy::default()
    });
    let action = RouteAction {
        cluster_specifier: to_cluster(&cluster),
        retry_policy,
        ..RouteAction::default()
    };
    RouteConfiguration {
        validate_clusters: bool_value(false),
        ..catch_all(
            cluster.clone(),
            &format!("inbound|http|{port}"),
            vec![every_path("default", action)],
        )
    }
}

/// A capture listener's routes: the Host the app would have sent on a cluster, to the outbound listener.
pub fn capture_routes(service: &str, port: u16, to_cluster_name: &str) -> RouteConfiguration {
    let action = RouteAction {
        cluster_specifier: to_cluster(to_cluster_name),
        host_rewrite_specifier: Some(route_action::HostRewriteSpecifier::HostRewriteLiteral(
            format!("{service}:{port}"),
        )),
        ..RouteAction::default()
    };
    catch_all(
        format!("capture|{service}"),
        "capture",
        vec![every_path("", action)],
    )
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
            routes: Routes::Static(Box::new(capture_routes(
                &svc.name,
                svc.port,
                CAPTURE_CLUSTER,
            ))),
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
        static_clusters: vec![static_cluster(CAPTURE_CLUSTER, outbound)],
    }
}

#[cfg(test)]
mod tests;
