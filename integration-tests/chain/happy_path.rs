use integration_tests::{ChainOptions, RECOMMENDATION_HOST, get, spawn_chain};

#[tokio::test]
async fn chain_counts_each_request_for_v1_and_v2() {
    for version in ["v1", "v2"] {
        // Arrange
        let chain = spawn_chain(ChainOptions::version(version)).await;
        // Act
        let first = get(chain.url()).await;
        let second = get(chain.url()).await;
        // Assert
        let line = |n| {
            format!(
                "customer => preference => recommendation {version} from '{RECOMMENDATION_HOST}': {n}\n"
            )
        };
        assert_eq!(first, (200, line(1)), "{version} first call");
        assert_eq!(second, (200, line(2)), "{version} second call");
    }
}

#[tokio::test]
async fn v3_shows_the_time_from_either_time_api_shape() {
    let cases = [
        ("/api/json/cet/now", "worldclockapi's currentDateTime"),
        (
            "/api/timezone/Europe/Madrid",
            "worldtimeapi's datetime, cut to minutes",
        ),
    ];
    for (time_path, reason) in cases {
        let chain = spawn_chain(ChainOptions {
            time_path,
            ..ChainOptions::version("v3")
        })
        .await;
        let reply = get(chain.url()).await;
        assert_eq!(
            reply,
            (
                200,
                format!(
                    "customer => preference => recommendation v3 2020-04-06T18:31+02:00 from '{RECOMMENDATION_HOST}': 1\n"
                )
            ),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn replies_are_plain_text_utf8() {
    let chain = spawn_chain(ChainOptions::default()).await;
    let response = integration_tests::reqwest_client()
        .get(chain.url())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn response_delay_slows_recommendation_down() {
    let chain = spawn_chain(ChainOptions {
        recommendation_env: vec![("RESPONSE_DELAY", "300ms")],
        ..ChainOptions::version("v2")
    })
    .await;
    let started = std::time::Instant::now();
    let (status, _) = get(chain.url()).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}
