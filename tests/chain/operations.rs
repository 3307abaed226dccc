use std::time::Duration;

use integration_tests::{
    ChainOptions, STANDIN_NOW, get, spawn_chain, spawn_recommendation, spawn_standin,
};

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

#[tokio::test]
async fn graceful_stop_lets_in_flight_requests_finish() {
    // Arrange: v3 waiting on a slow time API, so a request is provably in flight once the stand-in has it.
    let standin = spawn_standin(&[
        ("STANDIN_FAULT", "slow:500ms"),
        ("STANDIN_NOW", STANDIN_NOW),
    ])
    .await;
    let time_url = format!("{}/api/json/cet/now", standin.url);
    let rec = spawn_recommendation(&[
        ("RECOMMENDATION_VERSION", "v3"),
        ("WORLDCLOCK_URL", &time_url),
        ("HOSTNAME", "draining"),
    ])
    .await;
    let url = rec.url.clone();
    let in_flight = tokio::spawn(async move { get(&url).await });
    let received = format!("{}/_standin/requests", standin.url);
    let mut arrived = false;
    for _ in 0..200 {
        if get(&received).await.1 == "1\n" {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(arrived, "the request never reached the time API");
    // Act
    let url = rec.url.clone();
    rec.stop(true).await;
    // Assert
    assert_eq!(
        in_flight.await.unwrap(),
        (
            200,
            "recommendation v3 2020-04-06T18:31+02:00 from 'draining': 1\n".into()
        )
    );
    assert!(
        integration_tests::reqwest_client()
            .get(&url)
            .send()
            .await
            .is_err(),
        "new connections are refused once stopped"
    );
}
