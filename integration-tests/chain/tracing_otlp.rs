//! Tracing for real: three service processes export to an OTLP/HTTP receiver started by the test.

use std::time::Duration;

use integration_tests::{otlp::Receiver, process::start_chain, wait::until_async};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

#[tokio::test]
async fn one_request_yields_one_trace_across_the_three_services() {
    // Arrange
    let receiver = Receiver::start().await;
    let otel = [("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url.as_str())];
    let chain = start_chain(&otel, [&[], &[], &[("HOSTNAME", "rec")]]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    // Act
    let body = integration_tests::reqwest_client()
        .get(&chain.customer.url)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        "customer => preference => recommendation v1 from 'rec': 1\n"
    );
    // Assert: 5 spans (3 server, 2 client) arrive, bounded in time.
    let seen = until_async("5 spans to arrive", Duration::from_secs(15), || async {
        let spans = receiver.spans();
        (spans.len() >= 5).then_some(spans)
    })
    .await;
    assert!(
        seen.iter().all(|s| s.trace_id == trace_id),
        "one trace, the caller's: {seen:#?}"
    );
    let find = |service: &str, kind: SpanKind| {
        seen.iter()
            .find(|s| s.service == service && s.kind == kind as i32)
            .unwrap_or_else(|| panic!("no {kind:?} span from {service}: {seen:#?}"))
            .clone()
    };
    let customer_server = find("customer", SpanKind::Server);
    let customer_client = find("customer", SpanKind::Client);
    let preference_server = find("preference", SpanKind::Server);
    let preference_client = find("preference", SpanKind::Client);
    let recommendation_server = find("recommendation", SpanKind::Server);
    assert_eq!(customer_server.parent, caller_span);
    assert_eq!(customer_client.parent, customer_server.span_id);
    assert_eq!(preference_server.parent, customer_client.span_id);
    assert_eq!(preference_client.parent, preference_server.span_id);
    assert_eq!(recommendation_server.parent, preference_client.span_id);
}
