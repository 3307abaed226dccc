//! The parts every cluster shares, after istiod's pilot/pkg/networking/core/cluster_builder.go
//! (`buildCluster`: name, discovery type, connect timeout, the endpoints as a load assignment) and the
//! cluster names of pilot/pkg/model/service.go (`BuildSubsetKey`).
//!
//! The mesh's outbound clusters are EDS, as istiod's: each names itself as its EDS service and the ADS
//! stream as its source (`maybeApplyEdsConfig`), and its endpoints go by EDS as a `ClusterLoadAssignment`
//! of the same name ([`eds`]; istiod's pilot/pkg/xds/endpoints). The others are STATIC, endpoints inline:
//! the inbound cluster (as istiod's), the egress clusters of ServiceEntries (where istiod uses STRICT_DNS
//! and the lab's "internet" resolves the host) and the bootstraps' own clusters. All are built as Envoy's
//! `Cluster` type.

use std::net::SocketAddr;

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    self, ClusterDiscoveryType, DiscoveryType,
};
use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress, address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};

use crate::networking::core::route::duration::proto_duration;
use crate::networking::util::ads_config_source;

/// The cluster ALLOW_ANY traffic leaves through (`util.PassthroughCluster`).
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";

/// `outbound|<port>||<host>`, istiod's cluster name for a service port.
pub fn cluster_name(host: &str, port: u16) -> String {
    subset_cluster_name(host, None, port)
}

/// `outbound|<port>|<subset>|<host>` (`model.BuildSubsetKey` with `TrafficDirectionOutbound`).
pub fn subset_cluster_name(host: &str, subset: Option<&str>, port: u16) -> String {
    format!("outbound|{port}|{}|{host}", subset.unwrap_or(""))
}

/// A cluster name's parts as istiod reads them back (model `ParseSubsetKey`): `direction|port|subset|host`,
/// `None` for a name of fewer than four parts (`PassthroughCluster`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubsetKey<'a> {
    pub direction: &'a str,
    pub port: &'a str,
    /// Empty for the Service's own cluster.
    pub subset: &'a str,
    pub host: &'a str,
}

pub fn parse_subset_key(name: &str) -> Option<SubsetKey<'_>> {
    let mut parts = name.split('|');
    Some(SubsetKey {
        direction: parts.next()?,
        port: parts.next()?,
        subset: parts.next()?,
        host: parts.next()?,
    })
}

/// `inbound|<port>||`, the cluster of the app behind a sidecar's inbound listener.
pub fn inbound_cluster_name(port: u16) -> String {
    format!("inbound|{port}||")
}

/// An Envoy `Address` of an IP socket (TCP).
pub fn address(addr: SocketAddr) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: addr.ip().to_string(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(
                addr.port(),
            ))),
            ..SocketAddress::default()
        })),
    }
}

/// The mesh's default connect timeout (mesh config `connectTimeout`, pkg/config/mesh/mesh.go).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A STATIC cluster of one endpoint.
pub fn static_cluster(name: &str, addr: SocketAddr) -> Cluster {
    endpoints_cluster(name, &[addr])
}

/// A STATIC cluster with these endpoints (istiod's EDS clusters, endpoints inline), the mesh's connect
/// timeout.
pub fn endpoints_cluster(name: &str, addrs: &[SocketAddr]) -> Cluster {
    Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static.into())),
        connect_timeout: Some(proto_duration(CONNECT_TIMEOUT)),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: name.to_owned(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: addrs.iter().map(|a| lb_endpoint(*a)).collect(),
                ..LocalityLbEndpoints::default()
            }],
            ..ClusterLoadAssignment::default()
        }),
        ..Cluster::default()
    }
}

/// Each of `clusters`, built with its endpoints inline, as an EDS cluster (`maybeApplyEdsConfig`) and its
/// endpoints as the `ClusterLoadAssignment` EDS hands it.
pub fn eds(mut clusters: Vec<Cluster>) -> (Vec<Cluster>, Vec<ClusterLoadAssignment>) {
    let endpoints = clusters
        .iter_mut()
        .map(|c| {
            c.cluster_discovery_type = Some(ClusterDiscoveryType::Type(DiscoveryType::Eds.into()));
            c.eds_cluster_config = Some(cluster::EdsClusterConfig {
                service_name: c.name.clone(),
                eds_config: Some(ads_config_source()),
            });
            let mut la = c.load_assignment.take().unwrap_or_default();
            la.cluster_name.clone_from(&c.name);
            la
        })
        .collect();
    (clusters, endpoints)
}

/// One endpoint of a load assignment, at `addr`.
fn lb_endpoint(addr: SocketAddr) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(address(addr)),
            ..Endpoint::default()
        })),
        ..LbEndpoint::default()
    }
}

/// The endpoints of a cluster built by [`endpoints_cluster`], in their order.
pub fn lb_endpoints_mut(c: &mut Cluster) -> &mut [LbEndpoint] {
    match c
        .load_assignment
        .as_mut()
        .and_then(|la| la.endpoints.first_mut())
    {
        Some(locality) => &mut locality.lb_endpoints,
        None => &mut [],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_address_is_a_tcp_socket_address() {
        let addr: SocketAddr = "127.0.0.1:15006".parse().unwrap();
        assert_eq!(
            crate::util::protomarshal::to_json(&address(addr)),
            json!({"socket_address": {"address": "127.0.0.1", "port_value": 15006}})
        );
    }

    #[test]
    fn a_static_cluster_holds_its_endpoints_inline() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            crate::util::protomarshal::to_json(&static_cluster("c", addr)),
            json!({
                "name": "c",
                "type": "STATIC",
                "connect_timeout": "10s",
                "load_assignment": {"cluster_name": "c", "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 9}}}}
                ]}]}
            })
        );
    }

    #[test]
    fn an_eds_cluster_names_itself_and_ads_and_its_endpoints_go_apart() {
        let addr: SocketAddr = "127.0.0.1:15006".parse().unwrap();
        let name = "outbound|8080|v1|recommendation.tutorial.svc.cluster.local";
        let (clusters, endpoints) = eds(vec![endpoints_cluster(name, &[addr])]);
        assert_eq!(
            crate::util::protomarshal::to_json(&clusters[0]),
            json!({
                "name": name,
                "type": "EDS",
                "connect_timeout": "10s",
                "eds_cluster_config": {
                    "service_name": name,
                    "eds_config": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"}
                }
            })
        );
        assert_eq!(
            crate::util::protomarshal::to_json(&endpoints[0]),
            json!({"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 15006}}}}
            ]}]})
        );
    }
}
