//! The tutorial's customer: `GET /` calls preference and answers `customer => <preference's body>`.
//!
//! Run it with `cargo run -p customer` (listens on $PORT; calls $PREFERENCE_URL).
//! Sets `baggage-user-agent` from the caller's `user-agent`: the routing labs match on it.
//! Errors follow the tutorial's chain (`docs/SERVICES.md`): 503 `customer => Error: <status> - <body>` when
//! preference answers non-2xx, 503 `customer => <reason>: <url>` when it cannot be reached.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use tutorial_common::{
    chain_error::ChainError,
    config::{ConfigError, Env, FromEnv, ServerSettings},
    next_hop::NextHop,
    reply::text,
    server::Server,
    vars,
};
use url::Url;

pub const SERVICE: &str = "customer";

/// The first lines of `customer --help`; the variables follow from `tutorial_common::vars`.
pub const ABOUT: &str = "\
customer: the Istio tutorial's customer service. GET / calls preference and answers
'customer => <preference body>'.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    pub preference_url: Url,
    pub preference_timeout: Duration,
}

impl FromEnv for Config {
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            server: env.server()?,
            preference_url: env.url(&vars::PREFERENCE_URL)?,
            preference_timeout: env.duration(&vars::DOWNSTREAM_TIMEOUT)?,
        })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
}

/// `GET /`: preference's answer behind `customer => `.
async fn index(
    req: HttpRequest,
    preference: web::Data<NextHop>,
) -> Result<HttpResponse, ChainError> {
    let body = preference.call(&req).await?;
    Ok(text(StatusCode::OK, format!("{SERVICE} => {body}\n")))
}

/// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
pub fn build(config: Config) -> anyhow::Result<Server> {
    let url = config.preference_url;
    let preference = NextHop::new(SERVICE, url.clone(), config.preference_timeout, true)?;
    let server = Server::bind_with(SERVICE, &config.server, preference, routes)?;
    tracing::info!("{}", server.listening(SERVICE, &format!(", calling {url}")));
    Ok(server)
}
