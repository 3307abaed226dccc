//! Observing a running lab: `show` ([`show`]) and the traffic graph ([`graph`]), both read from the
//! proxies' access logs.

pub mod graph;
pub mod show;
