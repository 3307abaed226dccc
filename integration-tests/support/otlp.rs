//! An OTLP/HTTP receiver on a free loopback port: answers 200 to every export and keeps its raw protobuf body,
//! so a test can decode the spans or search the bytes (protobuf stores strings verbatim).

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value::Value,
};
use prost::Message;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::http::whole_message;

/// One exported span, as the trace tests compare them.
#[derive(Debug, Clone)]
pub struct SeenSpan {
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent: String,
    pub kind: i32,
}

pub struct Receiver {
    /// What to set `OTEL_EXPORTER_OTLP_ENDPOINT` to.
    pub url: String,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Receiver {
    /// Starts the receiver on the current runtime; it runs until the test ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = bodies.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let keep = keep.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 16 * 1024];
                    loop {
                        while let Some((used, body)) = whole_message(&buf) {
                            buf.drain(..used);
                            keep.lock().unwrap().push(body);
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                            if socket.write_all(ok).await.is_err() {
                                return;
                            }
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        Self { url, bodies }
    }

    /// How many exports arrived.
    pub fn exports(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// Every export's bytes, one after the other.
    pub fn bytes(&self) -> Vec<u8> {
        self.bodies.lock().unwrap().concat()
    }

    /// Every span exported so far.
    pub fn spans(&self) -> Vec<SeenSpan> {
        let bodies = self.bodies.lock().unwrap();
        bodies.iter().flat_map(|body| decode(body)).collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(body: &[u8]) -> Vec<SeenSpan> {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    let mut spans = Vec::new();
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
            spans.push(SeenSpan {
                service: service.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent: hex(&span.parent_span_id),
                kind: span.kind,
            });
        }
    }
    spans
}
