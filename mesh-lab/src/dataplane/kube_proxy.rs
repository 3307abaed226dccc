//! kube-proxy for pods without a sidecar: one loopback "ClusterIP" per Service, forwarding TCP to a random
//! endpoint of the Service (iptables mode picks at random), with none of the mesh's rules. It is an Envoy
//! with `tcp_proxy` listeners only, started when the first pod without a sidecar needs its next hop.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::LbPolicy;

use crate::dataplane::envoy::Envoy;
use crate::dataplane::ports::free_port;
use mesh_istiod::bootstrap::{Bootstrap, Listener, Routes};
use mesh_istiod::model::registry::ServiceDef;
use mesh_istiod::networking::core::cluster::Endpoint;
use mesh_istiod::networking::core::cluster_builder::endpoints_cluster;
use mesh_istiod::networking::core::configgen::Dynamic;

/// The running kube-proxy and each Service's ClusterIP stand-in.
pub struct KubeProxy {
    pub envoy: Envoy,
    pub cluster_ips: BTreeMap<String, SocketAddr>,
}

fn cluster(service: &str) -> String {
    format!("kube-proxy|{service}")
}

/// One cluster per Service with every ready pod behind it, picked at random.
pub fn config(services: &[ServiceDef], endpoints: &[Endpoint]) -> Dynamic {
    let clusters: Vec<Cluster> = services
        .iter()
        .map(|s| {
            let addrs: Vec<SocketAddr> = endpoints
                .iter()
                .filter(|e| s.selects(&e.labels))
                .map(|e| e.addr)
                .collect();
            Cluster {
                lb_policy: LbPolicy::Random.into(),
                ..endpoints_cluster(&cluster(&s.name), &addrs)
            }
        })
        .collect();
    Dynamic {
        clusters,
        ..Dynamic::default()
    }
}

impl KubeProxy {
    pub async fn start(
        bin: &Path,
        dir: &Path,
        services: &[ServiceDef],
        endpoints: &[Endpoint],
        xds: &crate::xds::Xds,
    ) -> anyhow::Result<Self> {
        let mut cluster_ips = BTreeMap::new();
        let mut listeners = Vec::new();
        for s in services {
            let addr: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
            cluster_ips.insert(s.name.clone(), addr);
            listeners.push(Listener {
                name: format!("{}_clusterip_{}", s.name, s.port),
                addr,
                routes: Routes::Tcp(cluster(&s.name)),
                log: false,
                fault: false,
                server_name: None,
            });
        }
        let boot = Bootstrap {
            node_id: "kube-proxy".into(),
            node_cluster: "kube-proxy".into(),
            listeners,
            static_clusters: Vec::new(),
        };
        let envoy = Envoy::start(
            bin,
            &dir.join("kube-proxy"),
            &boot,
            &config(services, endpoints),
            xds,
        )
        .await?;
        Ok(Self { envoy, cluster_ips })
    }
}
