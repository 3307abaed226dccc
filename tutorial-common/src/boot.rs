//! The process-wide pieces a binary's `main` installs before anything else, so the boot reads top to bottom:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: tutorial_common::boot::Allocator = tutorial_common::boot::ALLOCATOR;
//!
//! fn main() -> ExitCode {
//!     tutorial_common::boot::install_crypto_provider();
//!     tutorial_common::cli::serve(...)
//! }
//! ```
//!
//! A library never installs them itself: a test or the lab that builds an HTTP client calls
//! [`install_crypto_provider`] the same way.

/// The global allocator: the system's, or mimalloc with the `tutorial-common/mimalloc` feature
/// (what it changes is measured in `docs/BENCHMARKS.md`).
#[cfg(not(feature = "mimalloc"))]
pub type Allocator = std::alloc::System;
#[cfg(feature = "mimalloc")]
pub type Allocator = mimalloc::MiMalloc;

/// The value a binary's `#[global_allocator]` static holds.
#[cfg(not(feature = "mimalloc"))]
pub const ALLOCATOR: Allocator = std::alloc::System;
#[cfg(feature = "mimalloc")]
pub const ALLOCATOR: Allocator = mimalloc::MiMalloc;

/// rustls needs a process-wide crypto provider before the first HTTP client is built; `ring` is the one built
/// in. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
