//! Observing a running lab: `show` ([`show`]) and the traffic graph ([`graph`]), both read from the
//! proxies' access logs and say how each request left ([`way_out`]) and why one failed ([`flags`]).
//! `istioctl analyze` ([`analyze`]) and `proxy-config` ([`proxy_config`]) read its objects and its proxies' Envoys.

pub mod analyze;
pub mod explain;
pub mod flags;
pub mod graph;
pub mod proxy_config;
pub mod show;
pub mod way_out;
