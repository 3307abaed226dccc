//! Configuration checks (pkg/config): what the lab accepts.

pub mod analysis;
pub mod host;
pub mod validation;
