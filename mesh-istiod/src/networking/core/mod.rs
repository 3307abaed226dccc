//! What istiod's pilot/pkg/networking/core generates for a proxy: routes ([`route`]), route configurations
//! ([`httproute`]), clusters ([`cluster`], their shared parts and names in [`cluster_builder`]), the
//! sidecar's outbound port 80 ([`egress`]), and one proxy's whole configuration ([`configgen`]).

pub mod cluster;
pub mod cluster_builder;
pub mod configgen;
pub mod egress;
pub mod httproute;
pub mod route;
