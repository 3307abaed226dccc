//! What istiod's pilot/pkg/networking/core generates for a proxy: routes ([`route`]), route configurations
//! ([`httproute`]), clusters ([`cluster`]), the egress port ([`egress`]), and one proxy's whole
//! configuration ([`configgen`]).

pub mod cluster;
pub mod configgen;
pub mod egress;
pub mod httproute;
pub mod route;
