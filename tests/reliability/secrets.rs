//! `Authorization` (and hostile header values) never leave the process in exported spans: an OTLP receiver on
//! loopback keeps the raw bytes of every export, which must not contain them (protobuf stores strings verbatim).

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use integration_tests::process::start;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

const SECRET: &str = "Bearer top-secret-span-token";

/// Reads one HTTP/1.1 request (head + Content-Length body) from `buf`, if whole: (its length, its body).
fn whole_request(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= end + length).then(|| (end + length, buf[end..end + length].to_vec()))
}

/// An OTLP/HTTP receiver that answers 200 to everything and keeps every request body.
async fn receiver() -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
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
                    while let Some((used, body)) = whole_request(&buf) {
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
    (url, bodies)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_and_hostile_values_never_reach_exported_spans() {
    // Arrange: the chain exporting spans to the receiver.
    let (endpoint, bodies) = receiver().await;
    let otel = ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str());
    let rec = start("recommendation", &[otel, ("HOSTNAME", "spans")]);
    let pref = start("preference", &[otel, ("RECOMMENDATION_URL", &rec.url)]);
    let cust = start("customer", &[otel, ("PREFERENCE_URL", &pref.url)]);
    // Act
    let reply = integration_tests::reqwest_client()
        .get(&cust.url)
        .header("authorization", SECRET)
        .header("user-agent", "Safari EVIL-UA-IN-SPAN")
        .header("user-preference", "EVIL-PREF-IN-SPAN")
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.text().await.unwrap(),
        "customer => preference => recommendation v1 from 'spans': 1\n"
    );
    // Assert: every service exported its spans (bounded wait), and none of them carries the values.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let all: Vec<u8> = bodies.lock().unwrap().concat();
        // Positive control: the client spans' names (`GET 127.0.0.1`) show the span contents arrived.
        if ["customer", "preference", "recommendation", "GET 127.0.0.1"]
            .iter()
            .all(|s| contains(&all, s))
        {
            for value in [SECRET, "top-secret", "EVIL-UA-IN-SPAN", "EVIL-PREF-IN-SPAN"] {
                assert!(!contains(&all, value), "{value:?} was exported in a span");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every service exported spans within 15s ({} exports)",
            bodies.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
