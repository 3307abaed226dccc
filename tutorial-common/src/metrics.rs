//! Prometheus text at `GET /metrics`: request count and latency histogram by route, method and status
//! (`tutorial_http_requests_total`, `tutorial_http_requests_duration_seconds`), via actix-web-prom.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

pub const METRICS_PATH: &str = "/metrics";
const NAMESPACE: &str = "tutorial";

/// A middleware with its own registry (several services may share one process in tests and the local runner).
/// Probes and scrapes are not counted; unknown paths are counted under one label, not one label per path.
pub fn middleware(service: &str) -> anyhow::Result<PrometheusMetrics> {
    let labels = [("service".to_owned(), service.to_owned())]
        .into_iter()
        .collect();
    PrometheusMetricsBuilder::new(NAMESPACE)
        .endpoint(METRICS_PATH)
        .const_labels(labels)
        .exclude(METRICS_PATH)
        .exclude("/health/live")
        .exclude("/health/ready")
        .mask_unmatched_patterns("UNKNOWN")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the Prometheus metrics: {e}"))
}
