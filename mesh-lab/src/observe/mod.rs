//! Observing a running lab: `show` ([`show`]) and the traffic graph ([`graph`]), both read from the
//! proxies' access logs and say how each request left ([`way_out`]) and why one failed ([`flags`]).
//! istioctl's troubleshooting commands: `analyze` ([`analyze`]) reads the lab's objects, `proxy-config`
//! ([`proxy_config`]) and `x describe pod` ([`describe`]) its proxies' Envoys, `proxy-status`
//! ([`proxy_status`]) what the lab's xDS server recorded of each proxy.

pub mod analyze;
pub mod describe;
pub mod explain;
pub mod flags;
pub mod graph;
pub mod proxy_config;
pub mod proxy_status;
pub mod show;
pub mod way_out;
