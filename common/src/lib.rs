//! Cross-cutting pieces shared by the tutorial's three services (and the time stand-in).
//!
//! Each service crate holds only its own handler logic; everything else lives here, one module per concern:
//! [`config`] (environment contract), [`headers`] (what is propagated downstream), [`telemetry`] (logs, spans,
//! OTLP export), [`health`], [`metrics`], [`chain_error`] (the tutorial's error-chain bodies), [`downstream`]
//! (the one call customer and preference make), [`shutdown`], [`server`] (the actix server every service runs)
//! and [`cli`] (what every `main` does).

pub mod chain_error;
pub mod cli;
pub mod config;
pub mod downstream;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod server;
pub mod shutdown;
pub mod telemetry;

/// With the `mimalloc` feature every service allocates with mimalloc instead of the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Content type of every body the services answer with (`docs/SERVICES.md`).
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Builds a `text/plain; charset=utf-8` response with `status` and `body`.
pub fn text(status: actix_web::http::StatusCode, body: String) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(status)
        .insert_header((actix_web::http::header::CONTENT_TYPE, TEXT_PLAIN))
        .body(body)
}
