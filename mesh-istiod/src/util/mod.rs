//! istiod's pkg/util: what the translation shares that is about no one Istio kind.

pub mod protomarshal;
