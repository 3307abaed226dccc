//! Configuration checks (pkg/config): what the lab accepts.

pub mod validation;
