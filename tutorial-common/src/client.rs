//! The HTTP client every outgoing call uses: how it is built, its timeouts, how a failed call is described, and
//! how much of a body is read. It knows nothing of the chain: the next-hop call and recommendation's time lookup
//! build on it.
//!
//! One pooled client per destination and process. Calls to the chain's next hop never go through a proxy (`HTTP_PROXY`
//! is ignored): in the mesh the sidecar captures traffic, and on a laptop a corporate proxy must not see
//! `localhost` calls. Building a client needs the crypto provider (`crate::boot::install_crypto_provider`).

use std::{error::Error as _, time::Duration};

use url::Url;

/// How long establishing a TCP connection may take, at most (capped by the request timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle pooled connection is kept: shorter than the servers' keep-alive, so the client closes first
/// and never writes to a connection being closed.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled client with connect and whole-request timeouts, and `proxy` as its only proxy (none when `None`).
pub fn client(timeout: Duration, proxy: Option<&Url>) -> anyhow::Result<reqwest::Client> {
    let mut builder = builder(timeout);
    if let Some(proxy) = proxy {
        builder = builder.proxy(reqwest::Proxy::http(proxy.as_str())?);
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))
}

/// The client for calls to `url`. For `http://` (always, in the mesh: the sidecar does mTLS) it trusts no
/// certificate authority, so the process never reads the system's CA store, which costs start-up time and
/// memory (docs/BENCHMARKS.md). An `https://` URL gets [`client`].
pub fn client_for(url: &Url, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    if url.scheme() != "http" {
        return client(timeout, None);
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    // reqwest retries only HTTP/2 protocol refusals, and a plain-http call is always HTTP/1.1: with no retries
    // allowed, it also stops cloning every request in case one is needed (docs/BENCHMARKS.md).
    builder(timeout)
        .tls_backend_preconfigured(tls)
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .no_proxy()
}

/// What went wrong with a call that got no usable answer, in a few words: `connection refused`,
/// `timed out after 30s`, `unknown host preference`, `connection reset`.
pub fn describe_failure(err: &reqwest::Error, url: &Url, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {}", humantime::format_duration(timeout));
    }
    let mut source = err.source();
    let mut innermost = err.to_string();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            match io.kind() {
                ConnectionRefused => return "connection refused".into(),
                ConnectionReset | ConnectionAborted | BrokenPipe => {
                    return "connection reset".into();
                }
                TimedOut => {
                    return format!("timed out after {}", humantime::format_duration(timeout));
                }
                _ => {}
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return format!("unknown host {}", url.host_str().unwrap_or_default());
        }
        innermost = text;
        source = e.source();
    }
    if innermost.contains("connection closed before message completed") || err.is_body() {
        return "connection closed before the response was complete".into();
    }
    innermost
}

/// Reads a body until it holds more than `limit` bytes: enough to show `limit` of them and to know it was cut,
/// never a huge body in memory.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            break;
        }
    }
    Ok(body)
}
