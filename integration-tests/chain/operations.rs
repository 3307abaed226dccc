//! Health and metrics on every service. Draining on SIGTERM is `integration-tests/reliability/drain.rs`.

use integration_tests::{ChainOptions, get, spawn_chain};

#[tokio::test]
async fn health_endpoints_answer_on_every_service() {
    let chain = spawn_chain(ChainOptions::default()).await;
    for running in [
        &chain.customer,
        &chain.preference,
        &chain.recommendation,
        &chain.standin,
    ] {
        assert_eq!(
            get(&format!("{}/health/live", running.url)).await,
            (200, r#"{"status":"UP"}"#.into())
        );
        assert_eq!(
            get(&format!("{}/health/ready", running.url)).await,
            (200, r#"{"status":"UP"}"#.into())
        );
    }
}

#[tokio::test]
async fn metrics_count_the_requests_just_made() {
    let chain = spawn_chain(ChainOptions::default()).await;
    for _ in 0..3 {
        get(chain.url()).await;
    }
    let (status, text) = get(&format!("{}/metrics", chain.customer.url)).await;
    assert_eq!(status, 200);
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("tutorial_http_requests_total{")
                && l.contains("endpoint=\"/\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for / in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(line.contains("service=\"customer\""), "{line}");
    assert!(
        text.contains("tutorial_http_requests_duration_seconds_bucket{"),
        "latency histogram present"
    );
}
