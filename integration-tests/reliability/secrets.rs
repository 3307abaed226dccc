//! `Authorization` (and hostile header values) never leave the process in logs or exported spans, while the
//! value itself is forwarded. Every log level is on, so any header dump anywhere would show; an OTLP receiver on
//! loopback keeps the raw bytes of every export, which must not contain them (protobuf stores strings verbatim).

use std::time::Duration;

use integration_tests::{otlp::Receiver, process::start_chain, wait::until_async};

const SECRET: &str = "Bearer top-secret-token";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_is_forwarded_but_never_logged_nor_exported() {
    // Arrange: the chain exporting spans to the receiver, every log level on.
    let receiver = Receiver::start().await;
    let every = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str()),
        ("RUST_LOG", "trace"),
    ];
    let chain = start_chain(&every, [&[], &[], &[("HOSTNAME", "auth")]]);
    // Act
    let reply = integration_tests::reqwest_client()
        .get(&chain.customer.url)
        .header("authorization", SECRET)
        .header("user-agent", "Safari EVIL-UA-IN-SPAN")
        .header("user-preference", "EVIL-PREF-IN-SPAN")
        .send()
        .await
        .unwrap();
    // Assert: the chain answered, every service exported its spans (bounded wait), and neither the spans nor
    // the logs carry the values.
    assert_eq!(
        reply.text().await.unwrap(),
        "customer => preference => recommendation v1 from 'auth': 1\n"
    );
    let exported = until_async(
        "every service to export",
        Duration::from_secs(15),
        || async {
            let all = receiver.bytes();
            // Positive control: the client spans' names (`GET 127.0.0.1`) show the span contents arrived.
            ["customer", "preference", "recommendation", "GET 127.0.0.1"]
                .iter()
                .all(|s| contains(&all, s))
                .then_some(all)
        },
    )
    .await;
    for value in [SECRET, "top-secret", "EVIL-UA-IN-SPAN", "EVIL-PREF-IN-SPAN"] {
        assert!(
            !contains(&exported, value),
            "{value:?} was exported in a span"
        );
    }
    let logged = chain.finish();
    assert!(
        logged
            .iter()
            .any(|l| l.contains("recommendation request from auth: 1")),
        "the logs were captured: {logged:#?}"
    );
    let leaks: Vec<&String> = logged.iter().filter(|l| l.contains("top-secret")).collect();
    assert!(leaks.is_empty(), "Authorization value logged: {leaks:#?}");
}
