//! Helpers only this suite needs: raw HTTP exchanges over loopback sockets, RSS from /proc, a bounded load
//! generator.

use integration_tests::http;
use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// `http://127.0.0.1:PORT` → its socket address.
pub fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// What a raw exchange ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A status line arrived; the bytes of the whole answer read until close or timeout.
    Answered { status: u16, raw: Vec<u8> },
    /// The server closed (or reset) the connection without a status line.
    Closed,
    /// Nothing within the read timeout.
    Silent,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Answered { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 4xx or a closed connection: how a hostile request must end.
    pub fn rejected(&self) -> bool {
        match self {
            Self::Answered { status, .. } => (400..500).contains(status),
            Self::Closed => true,
            Self::Silent => false,
        }
    }
}

/// Sends `request` as-is on a fresh connection and reads what comes back (bounded by `within`).
pub fn raw_exchange(addr: SocketAddr, request: &[u8], within: Duration) -> Outcome {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    stream.set_read_timeout(Some(within)).unwrap();
    stream.set_write_timeout(Some(within)).unwrap();
    // The server may reject before reading everything: a failed write is not the outcome, the read is.
    let _ = stream.write_all(request);
    read_answer(&mut stream, within)
}

/// Reads from `stream` until close or `within` has passed, and classifies what arrived.
pub fn read_answer(stream: &mut TcpStream, within: Duration) -> Outcome {
    let deadline = Instant::now() + within;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                // A whole response with a Content-Length body.
                if http::content_length(&raw).is_some() && http::whole_message(&raw).is_some() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if raw.is_empty() {
                    return Outcome::Silent;
                }
                break;
            }
            Err(_) => break,
        }
    }
    match http::parse_status(&raw) {
        Some(status) => Outcome::Answered { status, raw },
        None => Outcome::Closed,
    }
}

/// Resident set size of process `pid` in KiB, from `/proc/<pid>/status`.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// Totals of a load run.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub ok: u64,
    pub non_2xx: u64,
    pub socket_errors: u64,
    pub first_failure: Option<String>,
}

/// Keeps `connections` requests in flight against `url` (each task reuses its own keep-alive connection) until
/// `stop` is set or `limit` has passed. Every request is bounded by 10 s.
pub async fn load(
    url: String,
    connections: usize,
    limit: Duration,
    stop: Arc<AtomicBool>,
) -> LoadReport {
    tutorial_common::boot::install_crypto_provider();
    let ok = Arc::new(AtomicU64::new(0));
    let non_2xx = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first = Arc::new(std::sync::Mutex::new(None::<String>));
    let deadline = Instant::now() + limit;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (ok, non_2xx, errors, first, stop) = (
            ok.clone(),
            non_2xx.clone(),
            errors.clone(),
            first.clone(),
            stop.clone(),
        );
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(1)
                .no_proxy()
                .build()
                .unwrap();
            while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                let failure = match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            None
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            Some(format!("body: {e}"))
                        }
                    },
                    Ok(r) => {
                        non_2xx.fetch_add(1, Ordering::Relaxed);
                        let status = r.status();
                        Some(format!("{status}: {}", r.text().await.unwrap_or_default()))
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        Some(format!("{e:?}"))
                    }
                };
                if let Some(f) = failure {
                    first.lock().unwrap().get_or_insert(f);
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("load task");
    }
    let first_failure = first.lock().unwrap().take();
    LoadReport {
        ok: ok.load(Ordering::Relaxed),
        non_2xx: non_2xx.load(Ordering::Relaxed),
        socket_errors: errors.load(Ordering::Relaxed),
        first_failure,
    }
}
