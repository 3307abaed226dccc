//! The mesh's outbound clusters: one per Service port and one per DestinationRule subset, with the
//! DestinationRule's `trafficPolicy`, the way istiod's pilot/pkg/networking/core/cluster.go
//! (`buildOutboundClusters`) and cluster_traffic_policy.go (`applyTrafficPolicy`) build them; and a
//! sidecar's inbound cluster (cluster_builder.go `buildInboundCluster`).
//!
//! - Names: `outbound|<port>|<subset>|<fqdn>` (pilot/pkg/model `BuildSubsetKey`).
//! - Which DestinationRule: of those whose host covers the Service's FQDN (a Service's names, or a wildcard
//!   such as `*.tutorial.svc.cluster.local` or `*.local`), the most specific host — the exact name, else the
//!   longest wildcard (pilot/pkg/model/push_context.go `destinationRule`, config.go `MostSpecificHostMatch`).
//! - A subset's `trafficPolicy` over the top level's, block by block: each of `connectionPool`,
//!   `outlierDetection`, `loadBalancer`, `tls` the subset sets replaces the top level's whole
//!   (pilot/pkg/model/destination_rule.go `MergeTrafficPolicy`).
//! - Every outbound cluster: `connect_timeout` 10s (mesh default `connectTimeout`,
//!   pkg/config/mesh/mesh.go), load balancer `LEAST_REQUEST` (cluster_traffic_policy.go
//!   `defaultLBAlgorithm`), circuit-breaker thresholds at the maximum (`getDefaultCircuitBreakerThresholds`).
//! - `connectionPool` (`applyConnectionPool`): `tcp.maxConnections` → `max_connections`,
//!   `http.http1MaxPendingRequests` → `max_pending_requests`, `http.http2MaxRequests` → `max_requests`,
//!   `http.maxRetries` → `max_retries`, `http.maxRequestsPerConnection` → the upstream
//!   `HttpProtocolOptions`' `max_requests_per_connection`, `tcp.connectTimeout` → `connect_timeout`.
//! - `outlierDetection` (`applyOutlierDetection`): `consecutive5xxErrors` → `consecutive_5xx` with
//!   `enforcing_consecutive_5xx` 100, `interval`, `baseEjectionTime`, `maxEjectionPercent`, success-rate
//!   ejection off, and `healthy_panic_threshold` = `minHealthPercent` (0 when unset: panic mode off, so an
//!   ejected subset's only pod leaves the subset with no healthy host). The deprecated `consecutiveErrors`
//!   is read by nothing, so Envoy's own default (5 consecutive 5xx, enforced) applies, as on a cluster.
//! - `loadBalancer.simple` (`applyLoadBalancer`): RANDOM, ROUND_ROBIN, LEAST_REQUEST/LEAST_CONN.
//! - `tls.mode` (cluster_tls.go `buildUpstreamTLSSettings`, `buildUpstreamClusterTLSContext`): absent =
//!   auto mTLS (below); ISTIO_MUTUAL = the same mesh certificates, SNI and SANs as the cluster's one
//!   `transport_socket` (user-supplied: every endpoint, with or without a sidecar); DISABLE = plain text,
//!   no socket (a STRICT server then refuses the connection). SIMPLE and MUTUAL are refused.
//! - Auto mTLS (cluster_tls.go, [`crate::security::authn::mtls`]): the proxy's own certificate for endpoints with a sidecar
//!   (metadata `tlsMode: istio`), plain text for the others; the peer's SAN must be one of the SPIFFE
//!   identities of the Service's pods (`serviceAccounts`); none when the namespace disables mTLS.
//! - Inbound (`buildInboundCluster`, `applyTrafficPolicy` for the inbound direction): `inbound|8080||` to the
//!   app, istiod's default thresholds, and the `connectionPool` of the top-level `trafficPolicy` of the rule of
//!   the Service the workload serves; no outlier detection, load balancer or TLS, no subset's policy.
//!
//! Endpoints are inline (STATIC) instead of EDS: each pod's sidecar inbound listener, or the app itself
//! for a pod without a sidecar. Every cluster is built as Envoy's `Cluster` type.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1::destinationrules::{
    DestinationRule, DestinationRuleSubsetsTrafficPolicy, DestinationRuleTrafficPolicy,
    DestinationRuleTrafficPolicyConnectionPool,
    DestinationRuleTrafficPolicyLoadBalancerSimple as Simple,
    DestinationRuleTrafficPolicyOutlierDetection, DestinationRuleTrafficPolicyTlsMode as TlsMode,
};
use envoy_types::pb::envoy::config::cluster::v3::circuit_breakers::Thresholds;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{CommonLbConfig, LbPolicy};
use envoy_types::pb::envoy::config::cluster::v3::{CircuitBreakers, Cluster, OutlierDetection};
use envoy_types::pb::envoy::config::core::v3::{
    Http1ProtocolOptions, HttpProtocolOptions as CommonHttpProtocolOptions,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::explicit_http_config::ProtocolConfig;
use envoy_types::pb::envoy::extensions::upstreams::http::v3::http_protocol_options::{
    ExplicitHttpConfig, UpstreamProtocolOptions,
};
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::pb::google::protobuf::UInt32Value;
use envoy_types::util::pack_any;
use prost::Name;

use crate::config::host;
use crate::model::registry::ServiceDef;
use crate::model::sidecar::Labels;
use crate::networking::core::cluster_builder::{
    endpoints_cluster, inbound_cluster_name, lb_endpoints_mut, static_cluster, subset_cluster_name,
};
use crate::networking::core::route::duration::duration;
use crate::networking::util::{ISTIO_METADATA_KEY, config_info_metadata, string_value};
use crate::security::authn::mtls::{self, MtlsMode};

/// A pod as an endpoint: its labels, the address its traffic goes to and, with a sidecar, its identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub labels: Labels,
    pub addr: SocketAddr,
    /// The SPIFFE identity of a pod with a sidecar (its endpoint takes mutual TLS); `None` without.
    pub identity: Option<String>,
}

const MAX: u32 = u32::MAX;

/// Resolves a VirtualService/DestinationRule host in the lab's namespace: a Service's short name, `name.tutorial`,
/// `name.tutorial.svc` or the FQDN give the FQDN; other hosts are returned as written.
pub fn resolve_host(host: &str, services: &[ServiceDef]) -> String {
    services
        .iter()
        .find(|s| {
            let f = s.fqdn();
            host == s.name || host == f || f.starts_with(&format!("{host}."))
        })
        .map(ServiceDef::fqdn)
        .unwrap_or_else(|| host.to_owned())
}

/// The DestinationRule in force for a Service: of those whose host covers the Service's FQDN, the one with
/// the most specific host (the exact name, else the longest wildcard: pilot/pkg/model/push_context.go
/// `destinationRule` → model/config.go `MostSpecificHostMatch`), the last applied of equals.
pub fn destination_rule<'a>(
    resources: &'a [Resource],
    service: &ServiceDef,
    services: &[ServiceDef],
) -> Option<&'a DestinationRule> {
    let fqdn = service.fqdn();
    let mut best: Option<(String, &DestinationRule)> = None;
    for r in resources {
        let Resource::DestinationRule(dr) = r else {
            continue;
        };
        let host = resolve_host(&dr.spec.host, services);
        if !host::subset_of(&fqdn, &host) {
            continue;
        }
        let wins = best
            .as_ref()
            .is_none_or(|(b, _)| host::more_specific(&host, b).is_le());
        if wins {
            best = Some((host, &**dr));
        }
    }
    best.map(|(_, dr)| dr)
}

/// A subset's `trafficPolicy` over the DestinationRule's own, block by block: a block the subset sets
/// (connectionPool, outlierDetection, loadBalancer, tls) replaces the top-level one whole, the others are
/// kept (pilot/pkg/model/destination_rule.go `MergeTrafficPolicy`, without port-level settings).
pub fn merge_traffic_policy(
    top: Option<&DestinationRuleTrafficPolicy>,
    subset: Option<&DestinationRuleSubsetsTrafficPolicy>,
) -> Option<DestinationRuleTrafficPolicy> {
    let Some(subset) = subset else {
        return top.cloned();
    };
    // The subset's policy has the top-level one's shape: read it as one.
    let sub: DestinationRuleTrafficPolicy = serde_json::to_value(subset)
        .and_then(serde_json::from_value)
        .unwrap_or_default();
    let mut merged = top.cloned().unwrap_or_default();
    if sub.connection_pool.is_some() {
        merged.connection_pool = sub.connection_pool;
    }
    if sub.outlier_detection.is_some() {
        merged.outlier_detection = sub.outlier_detection;
    }
    if sub.load_balancer.is_some() {
        merged.load_balancer = sub.load_balancer;
    }
    if sub.tls.is_some() {
        merged.tls = sub.tls;
    }
    Some(merged)
}

fn base_cluster(name: &str, addrs: &[SocketAddr]) -> Cluster {
    Cluster {
        lb_policy: LbPolicy::LeastRequest.into(),
        common_lb_config: Some(CommonLbConfig::default()),
        circuit_breakers: Some(default_circuit_breakers()),
        ..endpoints_cluster(name, addrs)
    }
}

/// istiod's default thresholds, all at the maximum (`getDefaultCircuitBreakerThresholds`).
fn default_circuit_breakers() -> CircuitBreakers {
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: Some(uint32(MAX)),
            max_pending_requests: Some(uint32(MAX)),
            max_requests: Some(uint32(MAX)),
            max_retries: Some(uint32(MAX)),
            ..Thresholds::default()
        }],
        ..CircuitBreakers::default()
    }
}

fn uint32(value: u32) -> UInt32Value {
    UInt32Value { value }
}

/// The cluster's (first) circuit-breaker thresholds, added when it has none.
fn thresholds(c: &mut Cluster) -> &mut Thresholds {
    let cb = c
        .circuit_breakers
        .get_or_insert_with(CircuitBreakers::default);
    if cb.thresholds.is_empty() {
        cb.thresholds.push(Thresholds::default());
    }
    &mut cb.thresholds[0]
}

fn positive(field: &str, v: Option<i64>) -> Result<Option<u32>, String> {
    match v {
        None | Some(0) => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| format!("{field} {n} is out of range")),
    }
}

/// A count Envoy holds as a `uint32`; `Err` names the field.
fn count(field: &str, n: i64) -> Result<UInt32Value, String> {
    u32::try_from(n)
        .map(uint32)
        .map_err(|_| format!("{field} {n} is out of range"))
}

/// Applies a DestinationRule `trafficPolicy` to an outbound cluster (its connection pool, outlier detection
/// and load balancer; `tls` is [`upstream_tls`]'s); `Err` names the field. `base` is the policy's path in
/// the object (`spec.trafficPolicy`, `spec.subsets.1.trafficPolicy`).
pub fn apply_policy(
    c: &mut Cluster,
    tp: &DestinationRuleTrafficPolicy,
    base: &str,
) -> Result<(), String> {
    if let Some(pool) = &tp.connection_pool {
        apply_connection_pool(c, pool, base)?;
    }
    if let Some(od) = &tp.outlier_detection {
        apply_outlier_detection(c, od, base)?;
    }
    if let Some(simple) = tp.load_balancer.as_ref().and_then(|lb| lb.simple.as_ref()) {
        c.lb_policy = match simple {
            Simple::Random => LbPolicy::Random,
            Simple::RoundRobin => LbPolicy::RoundRobin,
            Simple::LeastConn | Simple::LeastRequest | Simple::Unspecified => {
                LbPolicy::LeastRequest
            }
            Simple::Passthrough => {
                return Err(format!(
                    "{base}.loadBalancer.simple PASSTHROUGH is not in the lab's scope"
                ));
            }
        }
        .into();
    }
    Ok(())
}

/// `applyConnectionPool`: the circuit-breaker thresholds, the connect timeout, requests per connection.
pub fn apply_connection_pool(
    c: &mut Cluster,
    pool: &DestinationRuleTrafficPolicyConnectionPool,
    base: &str,
) -> Result<(), String> {
    if let Some(tcp) = &pool.tcp {
        if let Some(n) = positive(
            &format!("{base}.connectionPool.tcp.maxConnections"),
            tcp.max_connections.map(i64::from),
        )? {
            thresholds(c).max_connections = Some(uint32(n));
        }
        if let Some(ct) = &tcp.connect_timeout {
            let field = format!("{base}.connectionPool.tcp.connectTimeout");
            c.connect_timeout = Some(duration(&field, ct)?);
        }
    }
    let Some(http) = &pool.http else {
        return Ok(());
    };
    type Slot = fn(&mut Thresholds) -> &mut Option<UInt32Value>;
    let slots: [(&str, Option<i32>, Slot); 3] = [
        (
            "http1MaxPendingRequests",
            http.http1_max_pending_requests,
            |t| &mut t.max_pending_requests,
        ),
        ("http2MaxRequests", http.http2_max_requests, |t| {
            &mut t.max_requests
        }),
        ("maxRetries", http.max_retries, |t| &mut t.max_retries),
    ];
    for (field, value, slot) in slots {
        let field = format!("{base}.connectionPool.http.{field}");
        if let Some(n) = positive(&field, value.map(i64::from))? {
            *slot(thresholds(c)) = Some(uint32(n));
        }
    }
    if let Some(n) = positive(
        &format!("{base}.connectionPool.http.maxRequestsPerConnection"),
        http.max_requests_per_connection.map(i64::from),
    )? {
        c.typed_extension_protocol_options.insert(
            HttpProtocolOptions::full_name(),
            pack_any(max_requests_per_connection(n)),
        );
    }
    Ok(())
}

/// The upstream `HttpProtocolOptions` of `maxRequestsPerConnection`: HTTP/1.1 (the mesh's protocol), at
/// most `n` requests on one connection.
fn max_requests_per_connection(n: u32) -> HttpProtocolOptions {
    HttpProtocolOptions {
        common_http_protocol_options: Some(CommonHttpProtocolOptions {
            max_requests_per_connection: Some(uint32(n)),
            ..CommonHttpProtocolOptions::default()
        }),
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::HttpProtocolOptions(
                    Http1ProtocolOptions::default(),
                )),
            },
        )),
        ..HttpProtocolOptions::default()
    }
}

/// A consecutive-errors count and its enforcement: 100% when it is set above 0, off at 0.
fn consecutive(field: &str, n: i64) -> Result<(UInt32Value, UInt32Value), String> {
    Ok((count(field, n)?, uint32(if n > 0 { 100 } else { 0 })))
}

fn apply_outlier_detection(
    c: &mut Cluster,
    od: &DestinationRuleTrafficPolicyOutlierDetection,
    base: &str,
) -> Result<(), String> {
    let field = |f: &str| format!("{base}.outlierDetection.{f}");
    let mut out = OutlierDetection {
        enforcing_success_rate: Some(uint32(0)),
        ..OutlierDetection::default()
    };
    if let Some(n) = od.consecutive5xx_errors {
        let (n, enforcing) = consecutive(&field("consecutive5xxErrors"), n)?;
        out.consecutive_5xx = Some(n);
        out.enforcing_consecutive_5xx = Some(enforcing);
    }
    if let Some(n) = od.consecutive_gateway_errors {
        let (n, enforcing) = consecutive(&field("consecutiveGatewayErrors"), n)?;
        out.consecutive_gateway_failure = Some(n);
        out.enforcing_consecutive_gateway_failure = Some(enforcing);
    }
    if let Some(i) = &od.interval {
        out.interval = Some(duration(&field("interval"), i)?);
    }
    if let Some(b) = &od.base_ejection_time {
        out.base_ejection_time = Some(duration(&field("baseEjectionTime"), b)?);
    }
    if let Some(m) = od.max_ejection_percent.filter(|m| *m > 0) {
        out.max_ejection_percent = Some(count(&field("maxEjectionPercent"), m.into())?);
    }
    c.outlier_detection = Some(out);
    let min_health = od.min_health_percent.unwrap_or(0);
    if min_health >= 0 {
        c.common_lb_config
            .get_or_insert_with(CommonLbConfig::default)
            .healthy_panic_threshold = Some(Percent {
            value: f64::from(min_health),
        });
    }
    Ok(())
}

/// How a cluster's upstream connections are secured (cluster_tls.go `buildUpstreamTLSSettings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamTls {
    /// No `tls` in the policy: auto mTLS, unless the namespace disables mTLS.
    Auto,
    /// `tls.mode: ISTIO_MUTUAL`: the mesh certificates on every endpoint, sidecar or not.
    IstioMutual,
    /// `tls.mode: DISABLE`: plain text, whatever the servers require.
    Disable,
}

/// The `tls.mode` of a (merged) policy; SIMPLE and MUTUAL (TLS origination) are refused by admission and
/// here again, naming the field.
pub fn upstream_tls(
    tp: Option<&DestinationRuleTrafficPolicy>,
    base: &str,
) -> Result<UpstreamTls, String> {
    let Some(tls) = tp.and_then(|t| t.tls.as_ref()) else {
        return Ok(UpstreamTls::Auto);
    };
    match tls.mode.as_ref() {
        None | Some(TlsMode::Disable) => Ok(UpstreamTls::Disable),
        Some(TlsMode::IstioMutual) => Ok(UpstreamTls::IstioMutual),
        Some(m) => Err(format!(
            "{base}.tls.mode {}: {}",
            serde_json::to_value(m)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?"),
            TLS_ORIGINATION
        )),
    }
}

/// Why SIMPLE and MUTUAL are refused, and what to write instead.
pub const TLS_ORIGINATION: &str = "TLS origination with certificates of your own is not in the lab's \
    scope; between the mesh's sidecars write ISTIO_MUTUAL (the mesh certificates) or leave tls out (auto mTLS)";

/// Every outbound cluster of the mesh's Services: the Service's own and one per subset. `mtls_client`: the
/// calling proxy has the mesh's certificates (auto mTLS, ISTIO_MUTUAL); without, plain-text clusters.
pub fn mesh_clusters(
    resources: &[Resource],
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    mtls_client: bool,
) -> Result<Vec<Cluster>, String> {
    let auto = mtls_client && mtls::namespace_mode(resources).mode != MtlsMode::Disable;
    let mut out = Vec::new();
    for svc in services {
        let pods = |extra: &BTreeMap<String, String>| -> Vec<&Endpoint> {
            endpoints
                .iter()
                .filter(|e| {
                    svc.selects(&e.labels) && extra.iter().all(|(k, v)| e.labels.get(k) == Some(v))
                })
                .collect()
        };
        let all = pods(&BTreeMap::new());
        let dr = destination_rule(resources, svc, services);
        let of = ServiceClusters {
            svc,
            dr_name: dr.map(|d| d.metadata.name.clone().unwrap_or_default()),
            sans: service_accounts(&all),
            auto,
            mtls_client,
        };
        let top = dr.and_then(|d| d.spec.traffic_policy.as_ref());
        out.push(of.cluster(None, &all, top, "spec.trafficPolicy")?);
        for (i, s) in dr
            .iter()
            .flat_map(|d| d.spec.subsets.iter().flatten())
            .enumerate()
        {
            let merged = merge_traffic_policy(top, s.traffic_policy.as_ref());
            let base = if s.traffic_policy.is_some() {
                format!("spec.subsets.{i}.trafficPolicy")
            } else {
                "spec.trafficPolicy".to_owned()
            };
            let selected = pods(&s.labels.clone().unwrap_or_default());
            out.push(of.cluster(Some(&s.name), &selected, merged.as_ref(), &base)?);
        }
    }
    Ok(out)
}

/// buildAutoMtlsSettings: the SANs are the Service's service accounts (its pods' identities), for every
/// subset alike.
fn service_accounts(pods: &[&Endpoint]) -> Vec<String> {
    let mut sans: Vec<String> = pods.iter().filter_map(|e| e.identity.clone()).collect();
    sans.sort();
    sans.dedup();
    sans
}

/// What the outbound clusters of one Service share.
struct ServiceClusters<'a> {
    svc: &'a ServiceDef,
    /// The name of the DestinationRule in force, if any.
    dr_name: Option<String>,
    sans: Vec<String>,
    /// Auto mTLS applies (the client has certificates, the namespace does not disable mTLS).
    auto: bool,
    mtls_client: bool,
}

impl ServiceClusters<'_> {
    /// The cluster of the Service (`subset` `None`) or of one subset, to `pods`, under `policy`
    /// (`base` its path in the DestinationRule).
    fn cluster(
        &self,
        subset: Option<&str>,
        pods: &[&Endpoint],
        policy: Option<&DestinationRuleTrafficPolicy>,
        base: &str,
    ) -> Result<Cluster, String> {
        let fqdn = self.svc.fqdn();
        let name = subset_cluster_name(&fqdn, subset, self.svc.port);
        let addrs: Vec<SocketAddr> = pods.iter().map(|e| e.addr).collect();
        let mut c = base_cluster(&name, &addrs);
        let in_rule = |e: String| {
            format!(
                "DestinationRule {}: {e}",
                self.dr_name.as_deref().unwrap_or_default()
            )
        };
        let tls = upstream_tls(policy, base).map_err(in_rule)?;
        self.secure(&mut c, tls, pods, &mtls::sni(&fqdn, subset, self.svc.port));
        if let Some(tp) = policy {
            apply_policy(&mut c, tp, base).map_err(in_rule)?;
        }
        // cluster_builder.go: a cluster a DestinationRule shapes names it (`AddConfigInfoMetadata`), a
        // subset's cluster its subset too (`AddSubsetToMetadata`).
        if let Some(dr_name) = &self.dr_name {
            let mut metadata = config_info_metadata("DestinationRule", dr_name);
            if let (Some(s), Some(istio)) =
                (subset, metadata.filter_metadata.get_mut(ISTIO_METADATA_KEY))
            {
                istio.fields.insert("subset".to_owned(), string_value(s));
            }
            c.metadata = Some(metadata);
        }
        Ok(c)
    }

    /// The cluster's TLS (`applyUpstreamTLSSettings`): auto mTLS marks the endpoints with a sidecar and
    /// adds the transport socket matches; ISTIO_MUTUAL is one transport socket for every endpoint.
    fn secure(&self, c: &mut Cluster, tls: UpstreamTls, pods: &[&Endpoint], sni: &str) {
        match (tls, self.mtls_client) {
            (UpstreamTls::Auto, _) if self.auto => {
                for (lb, e) in lb_endpoints_mut(c).iter_mut().zip(pods) {
                    if e.identity.is_some() {
                        lb.metadata = Some(mtls::istio_endpoint_metadata());
                    }
                }
                mtls::auto_mtls(c, &self.sans, sni);
            }
            (UpstreamTls::IstioMutual, true) => {
                c.transport_socket = Some(mtls::istio_mutual_socket(&self.sans, sni));
            }
            _ => {}
        }
    }
}

/// The sidecar's inbound cluster `inbound|<port>||` in front of the app at `app`, for the workload with
/// `labels` (pilot/pkg/networking/core/cluster_builder.go `buildInboundCluster`): STATIC, the mesh's connect
/// timeout, and `applyTrafficPolicy` for the inbound direction — the connection pool only (no outlier
/// detection, load balancer or TLS), istiod's default thresholds unless the top-level `trafficPolicy` of the
/// DestinationRule of the Service this workload serves sets `connectionPool` (subsets do not apply inbound:
/// the rule's own policy, `GetPortLevelTrafficPolicy`), "so that the server has enough capacity" as the
/// client side — and, with a pool of 1, overflows as the client side does.
pub fn inbound_cluster(
    resources: &[Resource],
    services: &[ServiceDef],
    labels: &Labels,
    port: u16,
    app: SocketAddr,
) -> Result<Cluster, String> {
    let mut c = Cluster {
        circuit_breakers: Some(default_circuit_breakers()),
        ..static_cluster(&inbound_cluster_name(port), app)
    };
    let served = services.iter().find(|s| s.selects(labels));
    let Some(dr) = served.and_then(|svc| destination_rule(resources, svc, services)) else {
        return Ok(c);
    };
    let pool = dr
        .spec
        .traffic_policy
        .as_ref()
        .and_then(|tp| tp.connection_pool.as_ref());
    if let Some(pool) = pool {
        let name = dr.metadata.name.as_deref().unwrap_or_default();
        apply_connection_pool(&mut c, pool, "spec.trafficPolicy")
            .map_err(|e| format!("DestinationRule {name}: {e}"))?;
    }
    Ok(c)
}

#[cfg(test)]
mod tests;
