//! The tutorial's customer: `GET /` calls preference and answers `customer => <preference's body>`.
//!
//! Run it with `cargo run -p customer` (listens on $PORT, default 8080; calls $PREFERENCE_URL).
//! Sets `baggage-user-agent` from the caller's `user-agent`: the routing labs match on it. Errors follow the tutorial's chain: 503 `customer => Error: <status> - <body>` when
//! preference answers non-2xx, 503 `customer => <reason>: <url>` when it cannot be reached.

use std::time::Duration;

use tutorial_common::{
    config::{
        ConfigError, DEFAULT_DOWNSTREAM_TIMEOUT, ENV_DOWNSTREAM_TIMEOUT, Env, ServerSettings,
    },
    downstream::{Downstream, serve_relay},
    server::Server,
};
use url::Url;

pub const SERVICE: &str = "customer";
pub const ENV_PREFERENCE_URL: &str = "PREFERENCE_URL";
pub const DEFAULT_PREFERENCE_URL: &str = "http://preference:8080";

pub const HELP: &str = "\
customer: the Istio tutorial's customer service. GET / calls preference and answers
'customer => <preference body>'.

Environment:
  PREFERENCE_URL      preference to call (default http://preference:8080)
  DOWNSTREAM_TIMEOUT   how long a call to preference may take (default 30s: the mesh's timeouts must show)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    pub preference_url: Url,
    pub downstream_timeout: Duration,
}

impl Config {
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Result<Self, ConfigError> {
        Self::from_env(&Env::new(lookup))
    }

    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            server: env.server()?,
            preference_url: env.url(ENV_PREFERENCE_URL, DEFAULT_PREFERENCE_URL)?,
            downstream_timeout: env.duration(ENV_DOWNSTREAM_TIMEOUT, DEFAULT_DOWNSTREAM_TIMEOUT)?,
        })
    }
}

/// Builds the service, bound and ready to run: `.port()`, then `.run_until_stopped()`.
pub struct Application;

impl Application {
    /// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        let next = Downstream::new(
            SERVICE,
            config.preference_url,
            config.downstream_timeout,
            true,
        )?;
        serve_relay(&config.server, next)
    }
}
