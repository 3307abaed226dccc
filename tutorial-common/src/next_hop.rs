//! The call customer and preference make to the next hop of the chain (customer → preference → recommendation):
//! propagated headers in, a client span around it, and the answer as the body to embed or the [`ChainError`] to
//! answer with.

use std::time::Duration;

use actix_web::HttpRequest;
use tracing::Instrument;
use url::Url;

use crate::{
    chain_error::{ChainError, MAX_EMBEDDED_BODY, embed},
    client, headers, telemetry,
};

/// The service a caller sends `GET /` to, with the client it uses.
#[derive(Debug, Clone)]
pub struct NextHop {
    caller: &'static str,
    url: Url,
    timeout: Duration,
    baggage_from_user_agent: bool,
    client: reqwest::Client,
}

impl NextHop {
    /// `caller` is the calling service's name, its body prefix. customer sets `baggage_from_user_agent`.
    pub fn new(
        caller: &'static str,
        url: Url,
        timeout: Duration,
        baggage_from_user_agent: bool,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            caller,
            client: client::client_for(&url, timeout)?,
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
        let unreachable = |e: reqwest::Error| ChainError::NextHopUnreachable {
            caller: self.caller,
            reason: format!(
                "{}: {}",
                client::describe_failure(&e, &self.url, self.timeout),
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
            let raw = client::read_capped(response, MAX_EMBEDDED_BODY)
                .await
                .map_err(unreachable)?;
            let body = embed(&raw);
            if status.is_success() {
                Ok(body)
            } else {
                tracing::Span::current().record("otel.status_code", "ERROR");
                Err(ChainError::NextHopAnswered {
                    caller: self.caller,
                    status: status.as_u16(),
                    body,
                })
            }
        }
        .instrument(span)
        .await
    }
}
