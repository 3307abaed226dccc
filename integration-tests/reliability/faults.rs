//! Every way the next hop can fail, each answered with the exact body of `docs/SERVICES.md` within a bounded time.
//!
//! A fake recommendation on loopback misbehaves at the socket level; preference (DOWNSTREAM_TIMEOUT 500ms) and
//! customer in front of it must answer 503 with the reason and the target, never hang, never pass a huge body on.

use std::time::{Duration, Instant};

use integration_tests::{
    closed_loopback_url, get, http::read_head, spawn_customer, spawn_preference,
};
use tokio::{io::AsyncWriteExt, net::TcpListener};
use tutorial_common::chain_error::{MAX_EMBEDDED_BODY, TRUNCATED};

const TIMEOUT: &str = "500ms";
/// Longest any faulty exchange may take end to end: the timeout plus generous scheduling slack on 2 busy cores.
const BOUND: Duration = Duration::from_millis(3000);

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Accepts, reads the request, starts a 200 and resets the connection mid-body.
    ResetMidResponse,
    /// Accepts and never answers.
    NeverAnswers,
    /// Answers the head at once, then trickles the body past the timeout.
    SlowBody,
    /// Reads the request and answers only after the timeout.
    SlowHead,
    /// Answers 500 with a body of 1 MiB.
    HugeError,
}

/// A fake next hop on a free loopback port behaving as `fault` on every connection; its URL.
async fn fake(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                match fault {
                    Fault::NeverAnswers => {
                        // Hold the socket open (bounded) without reading or writing.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Fault::ResetMidResponse => {
                        read_head(&mut socket).await;
                        let _ = socket
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 1000\r\n\r\nrecommendation v1 fr",
                            )
                            .await;
                        let _ = socket.flush().await;
                        let _ = socket.set_zero_linger();
                        drop(socket); // RST, not FIN
                    }
                    Fault::SlowBody => {
                        read_head(&mut socket).await;
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
                            .await;
                        for _ in 0..100 {
                            if socket.write_all(b"r").await.is_err() {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    Fault::SlowHead => {
                        read_head(&mut socket).await;
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nlate")
                            .await;
                    }
                    Fault::HugeError => {
                        read_head(&mut socket).await;
                        let body = vec![b'x'; 1 << 20];
                        let head = format!(
                            "HTTP/1.1 500 Internal Server Error\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(&body).await;
                    }
                }
            });
        }
    });
    url
}

/// GET `url`, bounded: a regression that hangs fails here.
async fn bounded_get(url: &str) -> ((u16, String), Duration) {
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(10), get(url))
        .await
        .unwrap_or_else(|_| panic!("{url} did not answer within 10s"));
    (reply, started.elapsed())
}

/// preference and customer in front of a next hop failing as `fault`: both bodies, and how long each took.
async fn through_the_chain(next: &str) -> [((u16, String), Duration); 2] {
    let pref = spawn_preference(next, &[("DOWNSTREAM_TIMEOUT", TIMEOUT)]).await;
    let cust = spawn_customer(&pref.url, &[]).await;
    [bounded_get(&pref.url).await, bounded_get(&cust.url).await]
}

async fn unreachable_case(fault: Option<Fault>, reason: &str) {
    let next = match fault {
        Some(f) => fake(f).await,
        None => closed_loopback_url(),
    };
    let [(pref, pref_took), (cust, cust_took)] = through_the_chain(&next).await;
    let line = format!("preference => {reason}: {next}/");
    assert_eq!(pref, (503, format!("{line}\n")), "{fault:?}");
    assert_eq!(
        cust,
        (503, format!("customer => Error: 503 - {line}\n")),
        "{fault:?}"
    );
    for took in [pref_took, cust_took] {
        assert!(took < BOUND, "{fault:?}: answered after {took:?}");
    }
}

#[tokio::test]
async fn refused_names_the_target() {
    unreachable_case(None, "connection refused").await;
}

#[tokio::test]
async fn reset_mid_response_names_the_failure() {
    unreachable_case(Some(Fault::ResetMidResponse), "connection reset").await;
}

#[tokio::test]
async fn never_answering_times_out() {
    unreachable_case(Some(Fault::NeverAnswers), "timed out after 500ms").await;
}

#[tokio::test]
async fn slow_body_past_the_timeout_times_out() {
    unreachable_case(Some(Fault::SlowBody), "timed out after 500ms").await;
}

#[tokio::test]
async fn slow_answer_past_the_timeout_times_out() {
    unreachable_case(Some(Fault::SlowHead), "timed out after 500ms").await;
}

#[tokio::test]
async fn huge_error_body_is_capped() {
    let next = fake(Fault::HugeError).await;
    let [(pref, pref_took), (cust, cust_took)] = through_the_chain(&next).await;
    // preference embeds the first MAX_EMBEDDED_BODY bytes and the marker.
    let embedded = format!("{}{TRUNCATED}", "x".repeat(MAX_EMBEDDED_BODY));
    let pref_line = format!("preference => Error: 500 - {embedded}");
    assert_eq!(pref, (503, format!("{pref_line}\n")));
    // customer caps preference's (already capped, still too long) line once more: never more than one cap.
    let cust_body = format!(
        "customer => Error: 503 - {}{TRUNCATED}\n",
        &pref_line[..MAX_EMBEDDED_BODY]
    );
    assert_eq!(cust, (503, cust_body));
    assert!(
        cust.1.len() <= "customer => Error: 503 - ".len() + MAX_EMBEDDED_BODY + TRUNCATED.len() + 1
    );
    for took in [pref_took, cust_took] {
        assert!(took < BOUND, "huge body: answered after {took:?}");
    }
}
