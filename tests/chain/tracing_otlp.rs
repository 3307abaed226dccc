//! Tracing for real: three service processes export to an OTLP/HTTP receiver started by the test.

use std::{
    sync::mpsc,
    time::{Duration, Instant},
};

use actix_web::{HttpResponse, web};
use integration_tests::{process::start, serve_on_loopback};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value,
    trace::v1::span::SpanKind,
};
use prost::Message;

#[derive(Debug, Clone)]
struct SeenSpan {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    kind: i32,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn spawn_receiver() -> (String, mpsc::Receiver<SeenSpan>) {
    let (tx, rx) = mpsc::channel();
    let tx = web::Data::new(std::sync::Mutex::new(tx));
    let url = serve_on_loopback(move |cfg| {
        cfg.app_data(tx.clone()).route(
            "/v1/traces",
            web::post().to(|body: web::Bytes, tx: web::Data<std::sync::Mutex<mpsc::Sender<SeenSpan>>>| async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for rs in request.resource_spans {
                    let service = rs
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| a.value.as_ref()?.value.as_ref())
                        .map(|v| match v {
                            Value::StringValue(s) => s.clone(),
                            other => format!("{other:?}"),
                        })
                        .unwrap_or_default();
                    for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                        let _ = tx.lock().unwrap().send(SeenSpan {
                            service: service.clone(),
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent: hex(&span.parent_span_id),
                            kind: span.kind,
                        });
                    }
                }
                HttpResponse::Ok().content_type("application/x-protobuf").body(Vec::<u8>::new())
            }),
        );
    });
    (url, rx)
}

#[tokio::test]
async fn one_request_yields_one_trace_across_the_three_services() {
    // Arrange
    let (receiver, spans) = spawn_receiver().await;
    let otel = [("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str())];
    let rec = start("recommendation", &[otel[0], ("HOSTNAME", "rec")]);
    let pref = start("preference", &[otel[0], ("RECOMMENDATION_URL", &rec.url)]);
    let cust = start("customer", &[otel[0], ("PREFERENCE_URL", &pref.url)]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    // Act
    let body = integration_tests::reqwest_client()
        .get(&cust.url)
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
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        match spans.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(span) => seen.push(span),
            Err(_) if Instant::now() < deadline => tokio::task::yield_now().await,
            Err(_) => panic!("only {} spans arrived: {seen:#?}", seen.len()),
        }
    }
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
