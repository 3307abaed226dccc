//! What each proxy of the mesh gets, after istiod's pilot/pkg/networking/core/configgen.go (the
//! `ConfigGenerator` that builds a proxy's listeners, clusters and routes): a sidecar's and the gateway's
//! dynamic configuration, put together from [`crate::networking::core::httproute`],
//! [`crate::networking::core::cluster`], [`crate::networking::core::egress`] and the security filters.

use std::net::SocketAddr;
use std::path::Path;

use mesh_manifests::Resource;
use serde_json::Value;

use crate::model::identity::CertFiles;
use crate::model::registry::MESH_PORT;
use crate::model::registry::ServiceDef;
use crate::model::sidecar::{Labels, Mode};
use crate::networking::core::cluster::{Endpoint, inbound_cluster, mesh_clusters};
use crate::networking::core::egress::{self, Internet};
use crate::networking::core::httproute::{gateway_routes, outbound_routes};
use crate::security::authn::mtls;

/// The dynamic part of a proxy's configuration: route configurations, clusters and listeners (LDS).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dynamic {
    pub route_configs: Vec<Value>,
    pub clusters: Vec<Value>,
    pub listeners: Vec<Value>,
    /// HTTP filter configurations by ECDS: `{"name", "typed_config"}` for each filter a listener
    /// declares with [`crate::bootstrap::ecds_filter`].
    pub filters: Vec<Value>,
}

/// Which sidecar a configuration is for: its pod's labels, its inbound listener's address and its
/// directory (access log, certificates: [`CertFiles::in_dir`]).
pub struct SidecarOf<'a> {
    pub labels: &'a Labels,
    pub inbound: SocketAddr,
    /// The app behind the inbound listener (the inbound cluster's endpoint).
    pub app: SocketAddr,
    pub dir: &'a Path,
    /// Its certificate files (the current rotation's).
    pub certs: &'a CertFiles,
    /// The key set every RequestAuthentication `jwksUri` resolves to (the lab's own issuer; istiod
    /// fetches the URI and inlines what it serves).
    pub jwks: &'a str,
}

/// The Dynamic configuration of one sidecar: outbound routes and clusters (auto mTLS with its
/// certificate), and its inbound listener for the workload's PeerAuthentication mode.
pub fn sidecar_config(
    resources: &[Resource],
    mesh_mode: Mode,
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    internet: &Internet,
    me: &SidecarOf<'_>,
) -> Result<Dynamic, String> {
    let egress =
        egress::to_envoy(resources, mesh_mode, internet, me.labels).map_err(|e| e.to_string())?;
    let mesh = outbound_routes(resources, services, egress.mode, me.labels)?;
    let certs = me.certs;
    let mut clusters = mesh_clusters(resources, services, endpoints, Some(certs))?;
    clusters.extend(egress.clusters);
    clusters.push(inbound_cluster(
        resources, services, me.labels, MESH_PORT, me.app,
    )?);
    let mode = mtls::workload_mode(resources, me.labels).mode;
    let filters = crate::security::authz::inbound_filter_slots(resources, me.labels, &|_, _| {
        me.jwks.to_owned()
    })?;
    let by_ecds = crate::security::authz::INBOUND_SLOTS
        .iter()
        .map(|(name, _, type_url)| crate::bootstrap::ecds_filter(me.dir, name, type_url))
        .collect();
    Ok(Dynamic {
        route_configs: vec![mesh, egress.route_config],
        clusters,
        listeners: vec![mtls::inbound_listener(
            me.inbound, MESH_PORT, me.dir, mode, certs, by_ecds,
        )],
        filters,
    })
}

/// The gateway's routes and clusters (auto mTLS with the gateway's certificate, in `gateway_dir`).
pub fn gateway_config(
    resources: &[Resource],
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    certs: &CertFiles,
) -> Result<Dynamic, String> {
    Ok(Dynamic {
        route_configs: vec![gateway_routes(resources, services)?],
        clusters: mesh_clusters(resources, services, endpoints, Some(certs))?,
        listeners: Vec::new(),
        filters: Vec::new(),
    })
}
