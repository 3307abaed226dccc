//! The tutorial's preference: `GET /` calls recommendation and answers `preference => <recommendation's body>`.
//!
//! Run it with `cargo run -p preference` (listens on $PORT; calls $RECOMMENDATION_URL).
//! Forwards `baggage-user-agent` as customer set it.
//! Errors follow the tutorial's chain (`docs/SERVICES.md`): 503 `preference => Error: <status> - <body>` when
//! recommendation answers non-2xx, 503 `preference => <reason>: <url>` when it cannot be reached.

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

pub const SERVICE: &str = "preference";

/// The first lines of `preference --help`; the variables follow from `tutorial_common::vars`.
pub const ABOUT: &str = "\
preference: the Istio tutorial's preference service. GET / calls recommendation and answers
'preference => <recommendation body>'.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    pub recommendation_url: Url,
    pub recommendation_timeout: Duration,
}

impl FromEnv for Config {
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            server: env.server()?,
            recommendation_url: env.url(&vars::RECOMMENDATION_URL)?,
            recommendation_timeout: env.duration(&vars::DOWNSTREAM_TIMEOUT)?,
        })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index));
}

/// `GET /`: recommendation's answer behind `preference => `; the propagated headers travel on as they came.
async fn index(
    req: HttpRequest,
    recommendation: web::Data<NextHop>,
) -> Result<HttpResponse, ChainError> {
    let body = recommendation.call(&req).await?;
    Ok(text(StatusCode::OK, format!("{SERVICE} => {body}\n")))
}

/// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
pub fn build(config: Config) -> anyhow::Result<Server> {
    let url = config.recommendation_url;
    let recommendation = NextHop::new(SERVICE, url.clone(), config.recommendation_timeout, false)?;
    let server = Server::bind_with(SERVICE, &config.server, recommendation, routes)?;
    tracing::info!("{}", server.listening(SERVICE, &format!(", calling {url}")));
    Ok(server)
}
