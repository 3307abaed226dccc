//! Networking configuration (pilot/pkg/networking).

pub mod core;
pub mod util;
