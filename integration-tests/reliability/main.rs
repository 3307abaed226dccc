//! Reliability suite (`docs/RELIABILITY.md`): the services under sustained load, SIGTERM while busy, every way
//! the next hop can fail, hostile clients, secrets in logs and spans, and a property test of v3's time parser.
//!
//! Loopback only; every wait has a deadline, so a regression fails instead of hanging. Real processes come from
//! `cargo build --workspace` (debug binaries) via the support crate's `process::start_chain`.
//!
//! `RELIABILITY_SOAK_SECS` sets the soak's length (default 20 s for CI; e.g. `RELIABILITY_SOAK_SECS=600` for a
//! ten-minute run before a release).
mod drain;
mod faults;
mod hostile;
mod secrets;
mod soak;
mod time_parser;
mod util;
