//! The tutorial's recommendation: `GET /` answers `recommendation v1 from '<host>': <count>` (v2 likewise;
//! v3 adds the current time from the external time API). One binary: the version is configuration.
//!
//! Run it with `RECOMMENDATION_VERSION=v3 cargo run -p recommendation`. `GET /misbehave` makes `GET /` answer 503
//! until `GET /behave`. The counter counts every `GET /`, refused ones included.

pub mod time_api;

use std::{
    fmt,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use actix_web::{HttpResponse, http::StatusCode, web};
use tutorial_common::{
    chain_error::ChainError,
    config::{ConfigError, Env, FromEnv, ServerSettings, parse_http_url},
    reply::text,
    server::Server,
    vars,
};
use url::Url;

use crate::time_api::TimeLookup;

pub const SERVICE: &str = "recommendation";

/// The first lines of `recommendation --help`; the variables follow from `tutorial_common::vars`.
pub const ABOUT: &str = "\
recommendation: the Istio tutorial's recommendation service. GET / answers
'recommendation v1 from '<host>': <count>' (v3: with the current time from the time API).
GET /misbehave: GET / answers 503 from now on; GET /behave: back to normal.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
    V3,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    pub version: Version,
    pub response_delay: Duration,
    pub worldclock_url: Url,
    pub worldclock_timeout: Duration,
    pub worldclock_proxy: Option<Url>,
}

impl FromEnv for Config {
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            server: env.server()?,
            version: env.parse(&vars::RECOMMENDATION_VERSION, |v| match v {
                "v1" => Ok(Version::V1),
                "v2" => Ok(Version::V2),
                "v3" => Ok(Version::V3),
                _ => Err("is not a valid version: use v1, v2 or v3".into()),
            })?,
            response_delay: env.duration(&vars::RESPONSE_DELAY)?,
            worldclock_url: env.url(&vars::WORLDCLOCK_URL)?,
            worldclock_timeout: env.duration(&vars::WORLDCLOCK_TIMEOUT)?,
            worldclock_proxy: env.optional(&vars::WORLDCLOCK_PROXY, parse_http_url)?,
        })
    }
}

/// Per-process state: the request counter, the misbehave flag and what the version needs.
pub struct Recommendation {
    hostname: String,
    version: Version,
    response_delay: Duration,
    time: Option<TimeLookup>,
    count: AtomicU64,
    misbehaving: AtomicBool,
}

impl Recommendation {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let time = match config.version {
            Version::V3 => Some(TimeLookup::new(
                config.worldclock_url.clone(),
                config.worldclock_timeout,
                config.worldclock_proxy.as_ref(),
            )?),
            Version::V1 | Version::V2 => None,
        };
        Ok(Self {
            hostname: config.server.hostname.clone(),
            version: config.version,
            response_delay: config.response_delay,
            time,
            count: AtomicU64::new(0),
            misbehaving: AtomicBool::new(false),
        })
    }

    /// The body of `GET /`, after counting the request.
    pub async fn answer(&self) -> Result<String, ChainError> {
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let host = &self.hostname;
        tracing::info!("recommendation request from {host}: {count}");
        if !self.response_delay.is_zero() {
            tokio::time::sleep(self.response_delay).await;
        }
        if self.misbehaving.load(Ordering::Relaxed) {
            return Err(ChainError::Misbehaving { host: host.clone() });
        }
        Ok(match &self.time {
            Some(time) => format!(
                "recommendation {} {} from '{host}': {count}\n",
                self.version,
                time.now().await?
            ),
            None => format!("recommendation {} from '{host}': {count}\n", self.version),
        })
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/misbehave", web::get().to(misbehave))
        .route("/behave", web::get().to(behave));
}

async fn index(state: web::Data<Recommendation>) -> Result<HttpResponse, ChainError> {
    Ok(text(StatusCode::OK, state.answer().await?))
}

async fn misbehave(state: web::Data<Recommendation>) -> HttpResponse {
    switch(&state, true, "Following requests to / will return a 503\n")
}

async fn behave(state: web::Data<Recommendation>) -> HttpResponse {
    switch(&state, false, "Following requests to / will return 200\n")
}

/// `GET /misbehave` and `GET /behave`: set the flag, log it and answer the tutorial's line.
fn switch(state: &Recommendation, misbehaving: bool, body: &str) -> HttpResponse {
    state.misbehaving.store(misbehaving, Ordering::Relaxed);
    tracing::info!("'misbehave' has been set to '{misbehaving}'");
    text(StatusCode::OK, body.to_owned())
}

/// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
pub fn build(config: Config) -> anyhow::Result<Server> {
    let server = Server::bind_with(
        SERVICE,
        &config.server,
        Recommendation::new(&config)?,
        routes,
    )?;
    let time = match config.version {
        Version::V3 => format!(", time API at {}", config.worldclock_url),
        _ => String::new(),
    };
    tracing::info!(
        "{}",
        server.listening(&format!("{SERVICE} {}", config.version), &time)
    );
    Ok(server)
}
