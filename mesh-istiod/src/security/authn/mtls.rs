//! Mutual TLS between the proxies, as istiod configures it: the effective PeerAuthentication mode of a
//! workload, the sidecar's inbound listener for that mode (Envoy's `Listener` type), and auto mTLS on
//! the outbound clusters.
//!
//! - **The mode** (pilot/pkg/security/authn/policy_applier.go `ComposePeerAuthentication`): the mesh
//!   default is PERMISSIVE; the namespace's policy (no `selector` or empty `matchLabels`) overrides it,
//!   a policy whose `selector.matchLabels` select the workload overrides that; UNSET (or no `mtls`)
//!   inherits. Of several candidates at one level the oldest wins (creation time; here: the first
//!   applied). The lab plays one namespace, so there is no mesh-level (root namespace) policy.
//! - **Inbound** (pilot/pkg/networking/core/listener_inbound.go `buildInboundListeners`,
//!   `inboundChainForOpts`; filterchain_options.go for an HTTP port;
//!   pilot/pkg/security/authn/utils/utils.go `BuildInboundTLS`): PERMISSIVE = a TLS filter chain (transport protocol `tls`, the istio ALPNs) plus
//!   a plain-text one (`raw_buffer`), with the TLS inspector; STRICT = the TLS chain only, without an ALPN
//!   match (a plain-text connection matches no chain and Envoy closes it); DISABLE = the plain-text chain
//!   only. The TLS chain requires a client certificate validated by the CA's root, offers ALPN `h2`,
//!   `http/1.1`, TLS 1.2–1.3 and istio's cipher list. The HCM forwards the client certificate's details
//!   (`APPEND_FORWARD`; subject, URI and DNS SANs: pilot/pkg/networking/util/proxy_headers.go defaults),
//!   so the app sees `x-forwarded-client-cert`.
//! - **Outbound** (pilot/pkg/networking/core/cluster_tls.go `applyUpstreamTLSSettings`,
//!   `buildAutoMtlsSettings`, `buildUpstreamClusterTLSContext`): every cluster of a mesh Service gets two transport socket
//!   matches, `tlsMode-istio` (endpoints whose metadata says `tlsMode: istio`, i.e. pods with a sidecar:
//!   TLS with the proxy's certificate, the root, ALPN `istio-peer-exchange`, `istio`, SNI
//!   `outbound_.<port>_.<subset>_.<fqdn>`, the peer's SAN one of the Service's workloads' SPIFFE
//!   identities) and `tlsMode-disabled` (everything else: plain text). No matches at all when the
//!   Service's namespace disables mTLS (`BestEffortInferServiceMTLSMode` looks at the namespace policy
//!   only, not at workload-level ones). The matches, the `UpstreamTlsContext` and the endpoints'
//!   metadata are built as Envoy's types.
//!
//! Certificates come by SDS, as istio-agent serves them: the workload certificate as secret `default`, the
//! root as `ROOTCA` (security/pkg/nodeagent/sds/sdsservice.go); here by SDS on the proxy's ADS stream
//! from the lab's xDS server instead of istio-agent's socket, so renewing one swaps the secret in place
//! (see [`crate::model::identity`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::TransportSocketMatch;
use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, Metadata, TrafficDirection, TransportSocket,
    config_source, transport_socket,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener as EnvoyListener, ListenerFilter,
    listener_filter,
};
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter,
    http_connection_manager::{ForwardClientCertDetails, SetCurrentClientCertDetails},
};
use envoy_types::pb::envoy::extensions::transport_sockets::raw_buffer::v3::RawBuffer;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::common_tls_context::{
    CombinedCertificateValidationContext, ValidationContextType,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::subject_alt_name_matcher::SanType;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, SdsSecretConfig,
    SubjectAltNameMatcher, TlsParameters, UpstreamTlsContext, tls_parameters::TlsProtocol,
};
use envoy_types::pb::envoy::r#type::matcher::v3::StringMatcher;
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::google::protobuf::{Any, Struct};
use envoy_types::util::pack_any;
use mesh_manifests::Resource;
use mesh_manifests::kcr_security_istio_io::v1::peerauthentications::{
    PeerAuthentication, PeerAuthenticationMtlsMode,
};
use serde::Serialize;

use crate::bootstrap::{self, HCM_FILTER, Listener, Routes, bool_value};
use crate::model::identity::{SDS_DEFAULT, SDS_ROOT};
use crate::model::policy;
use crate::networking::core::cluster_builder::address;
use crate::networking::util::string_struct;

/// A workload's effective mutual-TLS mode (pilot/pkg/model/authentication.go `MutualTLSMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

impl std::fmt::Display for MtlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Strict => "STRICT",
            Self::Permissive => "PERMISSIVE",
            Self::Disable => "DISABLE",
        })
    }
}

/// The mode a PeerAuthentication sets, `None` when UNSET (or no `mtls`): inherit.
fn policy_mode(pa: &PeerAuthentication) -> Option<MtlsMode> {
    match pa.spec.mtls.as_ref()?.mode.as_ref()? {
        PeerAuthenticationMtlsMode::Strict => Some(MtlsMode::Strict),
        PeerAuthenticationMtlsMode::Permissive => Some(MtlsMode::Permissive),
        PeerAuthenticationMtlsMode::Disable => Some(MtlsMode::Disable),
        PeerAuthenticationMtlsMode::Unset => None,
    }
}

fn selector(pa: &PeerAuthentication) -> Option<&BTreeMap<String, String>> {
    pa.spec
        .selector
        .as_ref()
        .and_then(|s| s.match_labels.as_ref())
        .filter(|m| !m.is_empty())
}

/// The effective mode and where it comes from (`mesh default`, `PeerAuthentication NAME`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub mode: MtlsMode,
    pub source: String,
}

fn peer_authentications(resources: &[Resource]) -> impl Iterator<Item = &PeerAuthentication> {
    resources.iter().filter_map(|r| match r {
        Resource::PeerAuthentication(pa) => Some(&**pa),
        _ => None,
    })
}

fn compose(
    namespace: Option<&PeerAuthentication>,
    workload: Option<&PeerAuthentication>,
) -> Effective {
    let mut out = Effective {
        mode: MtlsMode::Permissive,
        source: "mesh default".into(),
    };
    for pa in [namespace, workload].into_iter().flatten() {
        if let Some(mode) = policy_mode(pa) {
            out = Effective {
                mode,
                source: format!(
                    "PeerAuthentication {}",
                    pa.metadata.name.as_deref().unwrap_or("<unnamed>")
                ),
            };
        }
    }
    out
}

/// The namespace-level mode: what clients assume of every Service (`GetNamespaceMutualTLSMode`).
pub fn namespace_mode(resources: &[Resource]) -> Effective {
    compose(
        peer_authentications(resources).find(|pa| selector(pa).is_none()),
        None,
    )
}

/// The mode of the workload with `labels` (`ComposePeerAuthentication`): the first applied namespace
/// policy, then the first applied policy whose `selector.matchLabels` all match.
pub fn workload_mode(resources: &[Resource], labels: &BTreeMap<String, String>) -> Effective {
    let namespace = peer_authentications(resources).find(|pa| selector(pa).is_none());
    let workload = peer_authentications(resources)
        .find(|pa| selector(pa).is_some_and(|sel| policy::labels_match(sel, labels)));
    compose(namespace, workload)
}

/// The TLS transport socket's name (pkg/wellknown `TransportSocketTLS`).
const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";
/// ALPNs of the TLS chain in PERMISSIVE (listener.go `allIstioMtlsALPNs`).
pub const ALL_ISTIO_MTLS_ALPNS: &[&str] = &[
    "istio",
    "istio-peer-exchange",
    "istio-http/1.0",
    "istio-http/1.1",
    "istio-h2",
];
/// What the server side offers (networking/util `ALPNHttp`).
pub const ALPN_HTTP: &[&str] = &["h2", "http/1.1"];
/// What a client sidecar offers to an in-mesh HTTP/1.1 cluster (networking/util `ALPNInMeshWithMxc`).
pub const ALPN_IN_MESH_WITH_MXC: &[&str] = &["istio-peer-exchange", "istio"];
/// The server's ciphers (authn/utils/utils.go `SupportedCiphers`).
pub const SUPPORTED_CIPHERS: &[&str] = &[
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
];

/// An `SdsSecretConfig` for secret `name`: by SDS over the proxy's ADS stream, where the lab's xDS
/// server hands the secrets of the proxy's certificate files. istiod points the same two names at
/// istio-agent's SDS socket (pilot/pkg/security/model/authentication.go `ConstructSdsSecretConfig`).
pub fn sds_secret(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_owned(),
        sds_config: Some(ConfigSource {
            config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
                AggregatedConfigSource::default(),
            )),
            resource_api_version: ApiVersion::V3.into(),
            ..ConfigSource::default()
        }),
    }
}

/// The proxy's own certificate by SDS (`default`), on both sides of mutual TLS.
fn certificate() -> Vec<SdsSecretConfig> {
    vec![sds_secret(SDS_DEFAULT)]
}

/// The inbound `DownstreamTlsContext` (`BuildInboundTLS` for an HTTP port), as a transport socket.
pub fn downstream_tls() -> TransportSocket {
    let tls = DownstreamTlsContext {
        require_client_certificate: bool_value(true),
        common_tls_context: Some(CommonTlsContext {
            alpn_protocols: strings(ALPN_HTTP),
            tls_params: Some(TlsParameters {
                tls_minimum_protocol_version: TlsProtocol::TlSv12.into(),
                tls_maximum_protocol_version: TlsProtocol::TlSv13.into(),
                cipher_suites: strings(SUPPORTED_CIPHERS),
                ..TlsParameters::default()
            }),
            tls_certificate_sds_secret_configs: certificate(),
            validation_context_type: Some(ValidationContextType::ValidationContextSdsSecretConfig(
                sds_secret(SDS_ROOT),
            )),
            ..CommonTlsContext::default()
        }),
        ..DownstreamTlsContext::default()
    };
    TransportSocket {
        name: TLS_TRANSPORT_SOCKET.into(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(tls))),
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|&s| s.to_owned()).collect()
}

/// The inbound HTTP connection manager: `virtualInbound`'s, routes to the app on `port`, forwarding the
/// client certificate's details (`APPEND_FORWARD`; subject, URI and DNS SANs).
fn inbound_hcm(
    addr: SocketAddr,
    port: u16,
    proxy_dir: &Path,
    http_filters: Vec<HttpFilter>,
    istio: crate::model::release::IstioRelease,
) -> HttpConnectionManager {
    let l = Listener {
        name: "virtualInbound".into(),
        addr,
        routes: Routes::Static(Box::new(bootstrap::inbound_routes(port, istio))),
        log: true,
        fault: false,
        server_name: Some("istio-envoy"),
    };
    HttpConnectionManager {
        forward_client_cert_details: ForwardClientCertDetails::AppendForward.into(),
        set_current_client_cert_details: Some(SetCurrentClientCertDetails {
            subject: bool_value(true),
            uri: true,
            dns: true,
            ..SetCurrentClientCertDetails::default()
        }),
        ..bootstrap::http_connection_manager(&l, proxy_dir, http_filters)
    }
}

/// The filter chains of `mode` (`inboundChainForOpts`), named `0.0.0.0_<port>`, each with `filters`:
/// a TLS chain (with the istio ALPNs in PERMISSIVE) and/or a plain-text one.
fn inbound_chains(mode: MtlsMode, port: u16, filters: Vec<Filter>) -> Vec<FilterChain> {
    let chain =
        |transport_protocol: &str, alpns: &[&str], tls: Option<TransportSocket>| FilterChain {
            name: format!("0.0.0.0_{port}"),
            filter_chain_match: Some(FilterChainMatch {
                transport_protocol: transport_protocol.to_owned(),
                application_protocols: strings(alpns),
                ..FilterChainMatch::default()
            }),
            filters: filters.clone(),
            transport_socket: tls,
            ..FilterChain::default()
        };
    let plain = || chain("raw_buffer", &[], None);
    match mode {
        MtlsMode::Permissive => vec![
            chain("tls", ALL_ISTIO_MTLS_ALPNS, Some(downstream_tls())),
            plain(),
        ],
        MtlsMode::Strict => vec![chain("tls", &[], Some(downstream_tls()))],
        MtlsMode::Disable => vec![plain()],
    }
}

/// The sidecar's inbound listener `virtualInbound` in front of the app (on `addr`, serving the mesh port
/// `port`), for `mode`, with the workload's certificates (by SDS); logs to `proxy_dir`'s access log.
///
/// `http_filters` are HTTP filters placed in the inbound HTTP connection manager before the router, in
/// this order, on every filter chain — where istiod puts the `envoy.filters.http.jwt_authn` and
/// `envoy.filters.http.rbac` filters of RequestAuthentication and AuthorizationPolicy
/// (listener_inbound.go `buildInboundHTTPFilters`). The lab passes the ECDS references of
/// [`crate::security::authz::INBOUND_SLOTS`], whose configurations come by ECDS (networking/core/configgen.rs).
pub fn inbound_listener(
    addr: SocketAddr,
    port: u16,
    proxy_dir: &Path,
    mode: MtlsMode,
    http_filters: Vec<HttpFilter>,
    istio: crate::model::release::IstioRelease,
) -> EnvoyListener {
    let hcm = inbound_hcm(addr, port, proxy_dir, http_filters, istio);
    let filters = vec![bootstrap::network_filter(HCM_FILTER, pack_any(hcm))];
    // populateListenerFilters: the TLS inspector only when a chain matches on transport protocol tls.
    let listener_filters = if mode == MtlsMode::Disable {
        Vec::new()
    } else {
        vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".into(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(pack_any(
                TlsInspector::default(),
            ))),
            ..ListenerFilter::default()
        }]
    };
    EnvoyListener {
        name: "virtualInbound".into(),
        address: Some(address(addr)),
        // A port someone else holds must fail, not be shared (SO_REUSEPORT balances between both).
        enable_reuse_port: bool_value(false),
        traffic_direction: TrafficDirection::Inbound.into(),
        continue_on_listener_filters_timeout: true,
        filter_chains: inbound_chains(mode, port, filters),
        listener_filters,
        ..EnvoyListener::default()
    }
}

/// The SNI a client sidecar sends to a Service's cluster (`BuildDNSSrvSubsetKey`).
pub fn sni(fqdn: &str, subset: Option<&str>, port: u16) -> String {
    format!("outbound_.{port}_.{}_.{fqdn}", subset.unwrap_or(""))
}

/// The metadata of an endpoint with a sidecar (`tlsMode: istio`, endpoint builder `istio` TLS mode label).
pub fn istio_endpoint_metadata() -> Metadata {
    Metadata {
        filter_metadata: [(TRANSPORT_SOCKET_MATCH.to_owned(), tls_mode_istio())].into(),
        ..Metadata::default()
    }
}

/// The filter metadata namespace transport socket matches read (`envoy.transport_socket_match`).
const TRANSPORT_SOCKET_MATCH: &str = "envoy.transport_socket_match";

fn tls_mode_istio() -> Struct {
    string_struct(&[("tlsMode", "istio")])
}

/// The client side of istio mutual TLS (`buildUpstreamClusterTLSContext` for ISTIO_MUTUAL): the proxy's
/// certificate (SDS `default`), the root (`ROOTCA`), ALPN `istio-peer-exchange`, `istio`, SNI `sni`, the peer's URI SAN one of
/// `sans` (any, when empty).
pub fn istio_mutual_socket(sans: &[String], sni: &str) -> TransportSocket {
    let matchers = sans
        .iter()
        .map(|s| SubjectAltNameMatcher {
            san_type: SanType::Uri.into(),
            matcher: Some(StringMatcher {
                match_pattern: Some(MatchPattern::Exact(s.clone())),
                ..StringMatcher::default()
            }),
            ..SubjectAltNameMatcher::default()
        })
        .collect();
    // The root by SDS, the peer's SANs from istiod (combined validation context, as istiod builds it).
    let validation = CombinedCertificateValidationContext {
        default_validation_context: Some(CertificateValidationContext {
            match_typed_subject_alt_names: matchers,
            ..CertificateValidationContext::default()
        }),
        validation_context_sds_secret_config: Some(sds_secret(SDS_ROOT)),
        ..CombinedCertificateValidationContext::default()
    };
    let context = UpstreamTlsContext {
        sni: sni.to_owned(),
        common_tls_context: Some(CommonTlsContext {
            alpn_protocols: ALPN_IN_MESH_WITH_MXC
                .iter()
                .map(|a| (*a).to_owned())
                .collect(),
            tls_certificate_sds_secret_configs: certificate(),
            validation_context_type: Some(ValidationContextType::CombinedValidationContext(
                validation,
            )),
            ..CommonTlsContext::default()
        }),
        ..UpstreamTlsContext::default()
    };
    transport_socket(TLS_TRANSPORT_SOCKET, pack_any(context))
}

fn transport_socket(name: &str, config: Any) -> TransportSocket {
    TransportSocket {
        name: name.to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(config)),
    }
}

/// Auto mTLS on a cluster: `transport_socket_matches` `tlsMode-istio` (mutual TLS with the proxy's certificate, peer SAN
/// one of `sans`, SNI `sni`) and `tlsMode-disabled` (plain text). A DestinationRule's `tls.mode:
/// ISTIO_MUTUAL` is the same TLS as the cluster's one `transport_socket` instead, for every endpoint
/// (`applyUpstreamTLSSettings`: matches only for auto-detected mTLS).
pub fn auto_mtls(cluster: &mut Cluster, sans: &[String], sni: &str) {
    cluster.transport_socket_matches = vec![
        TransportSocketMatch {
            name: "tlsMode-istio".into(),
            r#match: Some(tls_mode_istio()),
            transport_socket: Some(istio_mutual_socket(sans, sni)),
        },
        TransportSocketMatch {
            name: "tlsMode-disabled".into(),
            r#match: Some(Struct::default()),
            transport_socket: Some(transport_socket(
                "envoy.transport_sockets.raw_buffer",
                pack_any(RawBuffer::default()),
            )),
        },
    ];
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter;

    use serde_json::{Value, json};

    use super::*;
    use crate::fixtures::{istio, labels, parse};
    use crate::util::protomarshal::to_json;

    const PREFERENCE_PERMISSIVE: &str = "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\n\
metadata:\n  name: preference\nspec:\n  selector:\n    matchLabels:\n      app: preference\n  mtls:\n    mode: PERMISSIVE\n";

    #[test]
    fn the_mesh_default_is_permissive_and_the_namespace_policy_overrides_it() {
        let app = labels(&[("app", "customer")]);
        assert_eq!(
            workload_mode(&[], &app),
            Effective {
                mode: MtlsMode::Permissive,
                source: "mesh default".into()
            }
        );
        let strict = istio("peer-authentication-tutorial-strict.yml");
        assert_eq!(
            workload_mode(&strict, &app),
            Effective {
                mode: MtlsMode::Strict,
                source: "PeerAuthentication default".into()
            }
        );
        assert_eq!(namespace_mode(&strict).mode, MtlsMode::Strict);
    }

    #[test]
    fn a_workload_selector_beats_the_namespace_and_unset_inherits() {
        let mut rs = istio("peer-authentication-tutorial-strict.yml");
        rs.extend(parse(PREFERENCE_PERMISSIVE));
        let pref = labels(&[("app", "preference"), ("version", "v1")]);
        assert_eq!(workload_mode(&rs, &pref).mode, MtlsMode::Permissive);
        assert_eq!(
            workload_mode(&rs, &labels(&[("app", "customer")])).mode,
            MtlsMode::Strict
        );
        // Clients go by the namespace policy only (BestEffortInferServiceMTLSMode).
        assert_eq!(namespace_mode(&rs).mode, MtlsMode::Strict);
        let unset = PREFERENCE_PERMISSIVE.replace("PERMISSIVE", "UNSET");
        let mut rs = istio("peer-authentication-tutorial-strict.yml");
        rs.extend(parse(&unset));
        assert_eq!(
            workload_mode(&rs, &pref).mode,
            MtlsMode::Strict,
            "UNSET inherits"
        );
        let disable = PREFERENCE_PERMISSIVE.replace("PERMISSIVE", "DISABLE");
        assert_eq!(
            workload_mode(&parse(&disable), &pref),
            Effective {
                mode: MtlsMode::Disable,
                source: "PeerAuthentication preference".into()
            }
        );
    }

    /// The inbound listener as JSON.
    fn inbound(
        addr: SocketAddr,
        port: u16,
        dir: &Path,
        mode: MtlsMode,
        http_filters: Vec<HttpFilter>,
        istio: crate::model::release::IstioRelease,
    ) -> Value {
        to_json(&inbound_listener(
            addr,
            port,
            dir,
            mode,
            http_filters,
            istio,
        ))
    }

    fn chains(l: &Value) -> Vec<Value> {
        l["filter_chains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["filter_chain_match"].clone())
            .collect()
    }

    #[test]
    fn inbound_filter_chains_per_mode_follow_istiods_http_port_options() {
        let addr: SocketAddr = ([127, 0, 0, 1], 9000).into();
        let dir = Path::new("/lab/pod");
        let p = inbound(
            addr,
            8080,
            dir,
            MtlsMode::Permissive,
            vec![],
            crate::model::release::IstioRelease::CURRENT,
        );
        assert_eq!(
            chains(&p),
            [
                json!({"transport_protocol": "tls", "application_protocols": ALL_ISTIO_MTLS_ALPNS}),
                json!({"transport_protocol": "raw_buffer"})
            ]
        );
        assert_eq!(
            p["listener_filters"][0]["name"],
            "envoy.filters.listener.tls_inspector"
        );
        let tls = &p["filter_chains"][0]["transport_socket"]["typed_config"];
        assert_eq!(tls["require_client_certificate"], true);
        let root = &tls["common_tls_context"]["validation_context_sds_secret_config"];
        assert_eq!(root["name"], "ROOTCA");
        assert_eq!(
            root["sds_config"],
            json!({"ads": {}, "resource_api_version": "V3"})
        );
        assert_eq!(
            tls["common_tls_context"]["tls_certificate_sds_secret_configs"][0]["name"],
            "default"
        );
        assert_eq!(
            tls["common_tls_context"]["alpn_protocols"],
            json!(["h2", "http/1.1"])
        );
        let hcm = &p["filter_chains"][1]["filters"][0]["typed_config"];
        assert_eq!(hcm["forward_client_cert_details"], "APPEND_FORWARD");
        assert!(p["filter_chains"][1].get("transport_socket").is_none());
        let s = inbound(
            addr,
            8080,
            dir,
            MtlsMode::Strict,
            vec![],
            crate::model::release::IstioRelease::CURRENT,
        );
        assert_eq!(chains(&s), [json!({"transport_protocol": "tls"})]);
        let d = inbound(
            addr,
            8080,
            dir,
            MtlsMode::Disable,
            vec![],
            crate::model::release::IstioRelease::CURRENT,
        );
        assert_eq!(chains(&d), [json!({"transport_protocol": "raw_buffer"})]);
        assert!(d.get("listener_filters").is_none());
    }

    #[test]
    fn http_filters_go_before_the_router_on_every_chain() {
        let rbac = HttpFilter {
            name: "envoy.filters.http.rbac".into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
                Rbac::default(),
            ))),
            ..HttpFilter::default()
        };
        let l = inbound(
            ([127, 0, 0, 1], 9000).into(),
            8080,
            Path::new("/lab/pod"),
            MtlsMode::Permissive,
            vec![rbac],
            crate::model::release::IstioRelease::CURRENT,
        );
        for c in l["filter_chains"].as_array().unwrap() {
            let names: Vec<&str> = c["filters"][0]["typed_config"]["http_filters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            assert_eq!(
                names,
                ["envoy.filters.http.rbac", "envoy.filters.http.router"]
            );
        }
    }

    #[test]
    fn auto_mtls_matches_istio_endpoints_and_falls_back_to_plain_text() {
        let mut c = Cluster {
            name: "outbound|8080||preference.tutorial.svc.cluster.local".into(),
            ..Cluster::default()
        };
        let sans = vec!["spiffe://cluster.local/ns/tutorial/sa/preference".to_owned()];
        auto_mtls(
            &mut c,
            &sans,
            &sni("preference.tutorial.svc.cluster.local", None, 8080),
        );
        let m = &to_json(&c)["transport_socket_matches"];
        assert_eq!(m[0]["name"], "tlsMode-istio");
        assert_eq!(m[0]["match"], json!({"tlsMode": "istio"}));
        let t = &m[0]["transport_socket"]["typed_config"];
        assert_eq!(
            t["sni"],
            "outbound_.8080_._.preference.tutorial.svc.cluster.local"
        );
        assert_eq!(
            t["common_tls_context"]["alpn_protocols"],
            json!(["istio-peer-exchange", "istio"])
        );
        assert_eq!(
            t["common_tls_context"]["combined_validation_context"]["default_validation_context"]["match_typed_subject_alt_names"],
            json!([{"san_type": "URI", "matcher": {"exact": sans[0]}}])
        );
        assert_eq!(m[1]["name"], "tlsMode-disabled");
        assert_eq!(m[1]["match"], json!({}));
        assert_eq!(
            m[1]["transport_socket"]["name"],
            "envoy.transport_sockets.raw_buffer"
        );
        assert_eq!(
            sni("r.tutorial.svc.cluster.local", Some("version-v1"), 8080),
            "outbound_.8080_.version-v1_.r.tutorial.svc.cluster.local"
        );
    }
}
