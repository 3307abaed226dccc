//! Graceful shutdown: on SIGTERM or SIGINT stop accepting, mark readiness as draining, let in-flight requests
//! finish (up to the server's shutdown timeout), then return so `main` exits 0.
//!
//! Kubernetes sends SIGTERM and waits `terminationGracePeriodSeconds` (30 in our manifests) before SIGKILL, so
//! `SHUTDOWN_TIMEOUT` (its default is in [`crate::vars`]) must stay below it.

use crate::health::Readiness;

/// Waits for SIGTERM or SIGINT and names the one that came.
pub async fn signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Runs `server` until it stops; `stop` resolving starts a graceful drain.
pub async fn run_until(
    service: &'static str,
    server: actix_web::dev::Server,
    readiness: Readiness,
    stop: impl Future<Output = &'static str> + Send + 'static,
) -> std::io::Result<()> {
    let handle = server.handle();
    let watcher = tokio::spawn(async move {
        let why = stop.await;
        tracing::info!("{service} received {why}, draining");
        readiness.set_draining();
        handle.stop(true).await;
    });
    let result = server.await;
    watcher.abort();
    tracing::info!("{service} stopped");
    result
}
