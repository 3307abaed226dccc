//! Cross-cutting pieces shared by the tutorial's three services (and the time stand-in), one module per concern.
//!
//! Each service crate holds its own config, routes and handler; everything else lives here. From the bottom up
//! (a module uses only the ones above it; `docs/ARCHITECTURE.md` draws it):
//!
//! - [`boot`]: what a binary's `main` installs first (allocator, crypto provider);
//! - [`vars`]: the one table of environment variables; [`config`] reads them into typed values;
//! - [`reply`]: the plain-text response every body is; [`headers`]: what is propagated to the next hop;
//! - [`client`]: the HTTP client (timeouts, failure description, body cap);
//! - [`chain_error`]: the tutorial's error-chain bodies; [`metrics`]; [`health`]; [`telemetry`] (logs, spans,
//!   OTLP export);
//! - [`next_hop`]: the call customer and preference make;
//! - [`shutdown`], [`server`] (the actix server every service runs), [`cli`] (what every `main` does).

#[cfg(feature = "runtime")]
pub mod boot;
#[cfg(feature = "runtime")]
pub mod chain_error;
#[cfg(feature = "runtime")]
pub mod cli;
#[cfg(feature = "runtime")]
pub mod client;
pub mod config;
#[cfg(feature = "runtime")]
pub mod headers;
#[cfg(feature = "runtime")]
pub mod health;
#[cfg(feature = "runtime")]
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod next_hop;
#[cfg(feature = "runtime")]
pub mod reply;
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
pub mod shutdown;
#[cfg(feature = "runtime")]
pub mod telemetry;
pub mod vars;
