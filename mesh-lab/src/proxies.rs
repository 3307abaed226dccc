//! What each proxy of the mesh gets: a sidecar's and the gateway's dynamic configuration, the gateway's
//! bootstrap, and the workloads the applied Deployments describe. Pure: no processes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::anyhow;
use mesh_manifests::Resource;

use crate::bootstrap::{Bootstrap, Listener, Routes};
use crate::clusters::{Endpoint, mesh_clusters};
use crate::envoy::Dynamic;
use crate::identity::CertFiles;
use crate::mtls;
use crate::registry::{self, ServiceDef, Workload};
use crate::sidecar::{MESH_PORT, gateway_routes, outbound_routes};
use crate::state::LabState;
use crate::translate::{self, Internet, Labels};

/// Which sidecar a configuration is for: its pod's labels, its inbound listener's address and its
/// directory (access log, certificates: [`CertFiles::in_dir`]).
pub struct SidecarOf<'a> {
    pub labels: &'a Labels,
    pub inbound: SocketAddr,
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
    state: &LabState,
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    internet: &Internet,
    me: &SidecarOf<'_>,
) -> anyhow::Result<Dynamic> {
    let resources = state.resources();
    let egress = translate::to_envoy(&resources, state.mesh_mode, internet, me.labels)
        .map_err(|e| anyhow!("{e}"))?;
    let mesh = outbound_routes(&resources, services, egress.mode).map_err(|e| anyhow!("{e}"))?;
    let certs = me.certs;
    let mut clusters =
        mesh_clusters(&resources, services, endpoints, Some(certs)).map_err(|e| anyhow!("{e}"))?;
    clusters.extend(egress.clusters);
    let mode = mtls::workload_mode(&resources, me.labels).mode;
    let filters =
        crate::authz::inbound_filter_slots(&resources, me.labels, &|_, _| me.jwks.to_owned())
            .map_err(|e| anyhow!("{e}"))?;
    let by_ecds = crate::authz::INBOUND_SLOTS
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
    state: &LabState,
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    certs: &CertFiles,
) -> anyhow::Result<Dynamic> {
    let resources = state.resources();
    Ok(Dynamic {
        route_configs: vec![gateway_routes(&resources, services).map_err(|e| anyhow!("{e}"))?],
        clusters: mesh_clusters(&resources, services, endpoints, Some(certs))
            .map_err(|e| anyhow!("{e}"))?,
        listeners: Vec::new(),
        filters: Vec::new(),
    })
}

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

/// The workloads the applied Deployments describe, keyed by Deployment name.
pub fn desired(state: &LabState, nonce: u64) -> anyhow::Result<BTreeMap<String, Workload>> {
    let mut out = BTreeMap::new();
    for o in state.deployments() {
        if let Resource::Deployment(d) = &o.resource {
            let w = registry::from_deployment(d, &o.file, nonce)
                .map_err(|e| anyhow!("{}: {e}", o.file))?;
            out.insert(w.name.clone(), w);
        }
    }
    Ok(out)
}

/// Same pod template (the pod name aside)?
pub fn same_template(a: &Workload, b: &Workload) -> bool {
    a.labels == b.labels
        && a.env_without_pod() == b.env_without_pod()
        && a.inject == b.inject
        && a.service_account == b.service_account
}

impl Workload {
    fn env_without_pod(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .filter(|(k, _)| k != "HOSTNAME")
            .cloned()
            .collect()
    }
}
