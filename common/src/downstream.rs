//! The one outgoing call customer and preference make, and the HTTP client every service uses.
//!
//! One pooled client per process. The chain's own hops never go through a proxy (`HTTP_PROXY` is ignored):
//! in the mesh the sidecar captures traffic, and on a laptop a corporate proxy must not see `localhost` calls.

use std::{error::Error as _, time::Duration};

use actix_web::HttpRequest;
use tracing::Instrument;
use url::Url;

use crate::{
    chain_error::{ChainError, MAX_EMBEDDED_BODY, embed},
    headers, telemetry,
};

/// How long establishing a TCP connection may take, at most (capped by the request timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an idle pooled connection is kept: shorter than the servers' keep-alive
/// ([`crate::server::KEEP_ALIVE`]), so the client closes first and never writes to a connection being closed.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// rustls needs a process-wide crypto provider; `ring` is the one built in. Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

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

/// The client for the chain's next hop at `url`. For `http://` (always, in the mesh: the sidecar does mTLS) it
/// trusts no certificate authority, so the process never reads the system's CA store: that read (every file
/// in /etc/ssl/certs) cost ~5 ms of start-up and ~1.5 MiB of RSS per relay (docs/BENCHMARKS.md). An `https://`
/// next hop gets [`client`].
pub fn hop_client(url: &Url, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    if url.scheme() != "http" {
        return client(timeout, None);
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    // reqwest retries only HTTP/2 protocol refusals, and a plain-http hop is always HTTP/1.1: with no retries
    // allowed, it also stops cloning every request in case one is needed (docs/BENCHMARKS.md).
    builder(timeout)
        .tls_backend_preconfigured(tls)
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
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

/// Reads at most [`MAX_EMBEDDED_BODY`] + 1 bytes of a body: enough to embed it, never a huge one in memory.
pub async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_EMBEDDED_BODY {
            break;
        }
    }
    Ok(body)
}

/// The next hop of the chain: customer → preference, preference → recommendation.
#[derive(Debug, Clone)]
pub struct Downstream {
    service: &'static str,
    url: Url,
    timeout: Duration,
    baggage_from_user_agent: bool,
    client: reqwest::Client,
}

impl Downstream {
    /// `service` is the caller's name, used as its body prefix. customer sets `baggage_from_user_agent`.
    pub fn new(
        service: &'static str,
        url: Url,
        timeout: Duration,
        baggage_from_user_agent: bool,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            service,
            client: hop_client(&url, timeout)?,
            url,
            timeout,
            baggage_from_user_agent,
        })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Calls `GET <url>` with the propagated headers of `incoming`. On 2xx returns the body to embed; otherwise
    /// the [`ChainError`] the caller answers with.
    pub async fn call(&self, incoming: &HttpRequest) -> Result<String, ChainError> {
        let mut out = headers::propagate(incoming.headers(), self.baggage_from_user_agent);
        let span = telemetry::client_span(&self.url);
        telemetry::inject(&span, &mut out);
        let unreachable = |e: reqwest::Error| ChainError::Unreachable {
            service: self.service,
            reason: format!(
                "{}: {}",
                describe_failure(&e, &self.url, self.timeout),
                self.url
            ),
        };
        async {
            let response = self
                .client
                .get(self.url.clone())
                .headers(out)
                .send()
                .await
                .map_err(unreachable)?;
            let status = response.status();
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            let body = embed(&read_capped(response).await.map_err(unreachable)?);
            if status.is_success() {
                Ok(body)
            } else {
                tracing::Span::current().record("otel.status_code", "ERROR");
                Err(ChainError::Downstream {
                    service: self.service,
                    status: status.as_u16(),
                    body,
                })
            }
        }
        .instrument(span)
        .await
    }
}

/// `GET /` of customer and preference: call the next hop and answer `<service> => <its body>`.
pub async fn relay(
    req: HttpRequest,
    next: actix_web::web::Data<Downstream>,
) -> Result<actix_web::HttpResponse, ChainError> {
    let body = next.call(&req).await?;
    Ok(crate::text(
        actix_web::http::StatusCode::OK,
        format!("{} => {body}\n", next.service),
    ))
}

/// What makes customer and preference differ: their name, the variable naming the next hop and its default,
/// and whether `baggage-user-agent` is filled from `user-agent` (customer) or forwarded (preference).
#[derive(Debug)]
pub struct Relay {
    pub service: &'static str,
    pub next_url_var: &'static str,
    pub default_next_url: &'static str,
    pub baggage_from_user_agent: bool,
}

/// A relay service's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    pub server: crate::config::ServerSettings,
    pub next_url: Url,
    pub downstream_timeout: Duration,
}

impl Relay {
    pub fn config<F: Fn(&str) -> Option<String>>(
        &self,
        env: &crate::config::Env<F>,
    ) -> Result<RelayConfig, crate::config::ConfigError> {
        use crate::config::{DEFAULT_DOWNSTREAM_TIMEOUT, ENV_DOWNSTREAM_TIMEOUT};
        Ok(RelayConfig {
            server: env.server()?,
            next_url: env.url(self.next_url_var, self.default_next_url)?,
            downstream_timeout: env.duration(ENV_DOWNSTREAM_TIMEOUT, DEFAULT_DOWNSTREAM_TIMEOUT)?,
        })
    }

    /// Binds the relay; its `GET /` calls the next hop.
    pub fn serve(&self, config: RelayConfig) -> anyhow::Result<crate::server::Server> {
        let url = config.next_url.clone();
        let next = Downstream::new(
            self.service,
            config.next_url,
            config.downstream_timeout,
            self.baggage_from_user_agent,
        )?;
        let next = actix_web::web::Data::new(next);
        let server = crate::server::Server::bind(self.service, &config.server, move |cfg| {
            cfg.app_data(next.clone())
                .route("/", actix_web::web::get().to(relay));
        })?;
        tracing::info!(
            "{} listening on {}:{}, calling {url}",
            self.service,
            config.server.bind_address,
            server.port()
        );
        Ok(server)
    }
}
