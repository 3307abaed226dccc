use std::time::{Duration, Instant};

use integration_tests::{
    ChainOptions, RECOMMENDATION_HOST, get, spawn_chain, spawn_customer, spawn_preference,
};

#[tokio::test]
async fn chain_returns_503_when_recommendation_misbehaves_and_recovers_on_behave() {
    // Arrange
    let chain = spawn_chain(ChainOptions::default()).await;
    let rec = &chain.recommendation.url;
    // Act + Assert
    assert_eq!(
        get(&format!("{rec}/misbehave")).await,
        (200, "Following requests to / will return a 503\n".into())
    );
    assert_eq!(
        get(chain.url()).await,
        (
            503,
            format!(
                "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{RECOMMENDATION_HOST}'\n"
            )
        )
    );
    assert_eq!(
        get(&format!("{rec}/behave")).await,
        (200, "Following requests to / will return 200\n".into())
    );
    // The refused request consumed number 1.
    assert_eq!(
        get(chain.url()).await,
        (
            200,
            format!(
                "customer => preference => recommendation v1 from '{RECOMMENDATION_HOST}': 2\n"
            )
        )
    );
}

#[tokio::test]
async fn chain_names_the_target_when_recommendation_is_down() {
    let chain = spawn_chain(ChainOptions::default()).await;
    let rec_url = chain.recommendation.url.clone();
    chain.recommendation.stop(false).await;
    let reply = get(&chain.customer.url).await;
    assert_eq!(
        reply,
        (
            503,
            format!("customer => Error: 503 - preference => connection refused: {rec_url}/\n")
        )
    );
}

#[tokio::test]
async fn customer_names_the_failure_when_preference_cannot_be_reached() {
    let cases = [
        (
            "http://127.0.0.1:1",
            "connection refused: http://127.0.0.1:1/",
        ),
        (
            "http://no-such-host.invalid:8080",
            "unknown host no-such-host.invalid: http://no-such-host.invalid:8080/",
        ),
    ];
    for (url, reason) in cases {
        let customer = spawn_customer(url, &[]).await;
        assert_eq!(
            get(&customer.url).await,
            (503, format!("customer => {reason}\n")),
            "{url}"
        );
    }
}

#[tokio::test]
async fn preference_times_out_on_a_hung_recommendation() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let preference = spawn_preference(&url, &[("DOWNSTREAM_TIMEOUT", "300ms")]).await;
    let started = Instant::now();
    let reply = get(&preference.url).await;
    assert_eq!(
        reply,
        (
            503,
            format!("preference => timed out after 300ms: {url}/\n")
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Each way the time API can fail, the line recommendation answers with, as customer shows it.
#[tokio::test]
async fn v3_returns_500_with_a_clear_line_for_each_time_api_failure() {
    let cases: [(&str, &'static str, &str); 5] = [
        (
            "answering 500",
            "error",
            "the time service answered 500: stand-in fault: internal error",
        ),
        ("not JSON", "malformed", "the answer is not JSON"),
        (
            "no time field",
            "missing-field",
            "the answer has no currentDateTime or datetime field",
        ),
        (
            "unreadable time",
            "bad-time",
            "cannot read the time \"half past nine\"",
        ),
        ("hung past the timeout", "slow:5s", "timed out after 500ms"),
    ];
    for (reason, fault, what) in cases {
        let chain = spawn_chain(ChainOptions {
            standin_env: vec![("STANDIN_FAULT", fault)],
            recommendation_env: vec![("WORLDCLOCK_TIMEOUT", "500ms")],
            ..ChainOptions::version("v3")
        })
        .await;
        let started = Instant::now();
        let (status, body) = get(chain.url()).await;
        let elapsed = started.elapsed();
        let time_url = format!("{}/api/json/cet/now", chain.standin.url);
        let prefix = format!(
            "customer => Error: 503 - preference => Error: 500 - time lookup {time_url} failed: {what}"
        );
        assert_eq!(status, 503, "{reason}");
        assert!(
            body.starts_with(&prefix),
            "{reason}: {body:?}\nwanted prefix {prefix:?}"
        );
        assert!(
            body.ends_with('\n') && body.matches('\n').count() == 1,
            "{reason}: one line: {body:?}"
        );
        assert!(
            elapsed < Duration::from_millis(2500),
            "{reason}: answered after {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn v3_returns_500_when_the_time_api_is_down() {
    let chain = spawn_chain(ChainOptions::version("v3")).await;
    let time_url = format!("{}/api/json/cet/now", chain.standin.url);
    chain.standin.stop(false).await;
    let reply = get(&chain.customer.url).await;
    assert_eq!(
        reply,
        (
            503,
            format!(
                "customer => Error: 503 - preference => Error: 500 - time lookup {time_url} failed: connection refused\n"
            )
        )
    );
}

#[tokio::test]
async fn recommendation_itself_answers_500_with_the_bare_line() {
    let chain = spawn_chain(ChainOptions {
        standin_env: vec![("STANDIN_FAULT", "error")],
        ..ChainOptions::version("v3")
    })
    .await;
    let (status, body) = get(&chain.recommendation.url).await;
    assert_eq!(status, 500);
    assert!(body.starts_with("time lookup http://127.0.0.1:"), "{body}");
}
