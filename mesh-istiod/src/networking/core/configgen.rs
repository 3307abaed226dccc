//! What each proxy of the mesh gets, after istiod's pilot/pkg/networking/core/configgen.go (the
//! `ConfigGenerator` that builds a proxy's listeners, clusters and routes): a sidecar's and the gateway's
//! dynamic configuration, put together from [`crate::networking::core::httproute`],
//! [`crate::networking::core::cluster`], [`crate::networking::core::egress`] and the security filters.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::TypedExtensionConfig;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use mesh_manifests::Resource;
use serde_json::{Value, json};

use crate::model::registry::MESH_PORT;
use crate::model::registry::ServiceDef;
use crate::model::release::IstioRelease;
use crate::model::sidecar::{Labels, Mode};
use crate::networking::core::cluster::{Endpoint, inbound_cluster, mesh_clusters};
use crate::networking::core::cluster_builder::eds;
use crate::networking::core::egress::{self, Internet};
use crate::networking::core::httproute::{gateway_routes, outbound_routes};
use crate::security::authn::mtls;
use crate::util::protomarshal::all_json;

/// The dynamic part of a proxy's configuration, as Envoy's own API types: route configurations (RDS),
/// clusters (CDS), their endpoints (EDS), listeners (LDS) and HTTP filter configurations (ECDS).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dynamic {
    pub route_configs: Vec<RouteConfiguration>,
    pub clusters: Vec<Cluster>,
    /// The endpoints of each EDS cluster, by its name.
    pub endpoints: Vec<ClusterLoadAssignment>,
    pub listeners: Vec<Listener>,
    /// The configuration of each filter a listener declares with [`crate::bootstrap::ecds_filter`].
    pub filters: Vec<TypedExtensionConfig>,
}

impl Dynamic {
    /// The whole configuration as JSON ([`crate::util::protomarshal`]): `{"route_configs": […],
    /// "clusters": […], "endpoints": […], "listeners": […], "filters": […]}`, maps in a stable order.
    pub fn to_json(&self) -> Value {
        json!({
            "route_configs": all_json(&self.route_configs),
            "clusters": all_json(&self.clusters),
            "endpoints": all_json(&self.endpoints),
            "listeners": all_json(&self.listeners),
            "filters": all_json(&self.filters),
        })
    }
}

/// The mesh-wide settings every proxy's translation follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeshSettings {
    /// The outbound traffic policy mode (the mesh config's).
    pub outbound: Mode,
    /// Which Istio release's defaults (`mesh-lab up --istio`).
    pub istio: IstioRelease,
}

/// Which sidecar a configuration is for: its pod's labels, its inbound listener's address and its
/// directory (access log).
pub struct SidecarOf<'a> {
    pub labels: &'a Labels,
    pub inbound: SocketAddr,
    /// The app behind the inbound listener (the inbound cluster's endpoint).
    pub app: SocketAddr,
    pub dir: &'a Path,
    /// The key set a RequestAuthentication `jwksUri` resolves to when `fetched` has none for it (the
    /// lab's own issuer; istiod fetches the URI and inlines what it serves).
    pub jwks: &'a str,
    /// The key sets given for a `jwksUri` (`mesh-lab jwks set`): what istiod would have fetched there.
    pub fetched: &'a BTreeMap<String, String>,
}

/// The Dynamic configuration of one sidecar: outbound routes and clusters (auto mTLS with its
/// certificate), and its inbound listener for the workload's PeerAuthentication mode.
pub fn sidecar_config(
    resources: &[Resource],
    mesh: &MeshSettings,
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    internet: &Internet,
    me: &SidecarOf<'_>,
) -> Result<Dynamic, String> {
    let istio = mesh.istio;
    let egress = egress::to_envoy(resources, mesh.outbound, internet, me.labels, istio)
        .map_err(|e| e.to_string())?;
    let outbound = outbound_routes(resources, services, egress.mode, me.labels, istio)?;
    let (mut clusters, eds_endpoints) = eds(mesh_clusters(resources, services, endpoints, true)?);
    clusters.extend(egress.clusters);
    clusters.push(inbound_cluster(
        resources, services, me.labels, MESH_PORT, me.app,
    )?);
    let mode = mtls::workload_mode(resources, me.labels).mode;
    let filters = crate::security::authz::inbound_filter_slots(resources, me.labels, &|_, uri| {
        me.fetched
            .get(uri)
            .map_or(me.jwks, String::as_str)
            .to_owned()
    })?;
    let by_ecds = crate::security::authz::INBOUND_SLOTS
        .iter()
        .map(|(name, _, type_url)| crate::bootstrap::ecds_filter(name, type_url))
        .collect();
    Ok(Dynamic {
        route_configs: vec![outbound, egress.route_config],
        clusters,
        endpoints: eds_endpoints,
        listeners: vec![mtls::inbound_listener(
            me.inbound, MESH_PORT, me.dir, mode, by_ecds, istio,
        )],
        filters,
    })
}

/// The gateway's routes and clusters (auto mTLS with the gateway's certificate).
pub fn gateway_config(
    resources: &[Resource],
    mesh: &MeshSettings,
    services: &[ServiceDef],
    endpoints: &[Endpoint],
) -> Result<Dynamic, String> {
    let (clusters, endpoints) = eds(mesh_clusters(resources, services, endpoints, true)?);
    Ok(Dynamic {
        route_configs: vec![gateway_routes(resources, services, mesh.istio)?],
        clusters,
        endpoints,
        listeners: Vec::new(),
        filters: Vec::new(),
    })
}
