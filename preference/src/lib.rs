//! The tutorial's preference: `GET /` calls recommendation and answers `preference => <recommendation's body>`.
//!
//! Run it with `cargo run -p preference` (listens on $PORT, default 8080; calls $RECOMMENDATION_URL).
//! Forwards `baggage-user-agent` as customer set it.
//! Errors follow the tutorial's chain: 503 `preference => Error: <status> - <body>` when recommendation answers non-2xx,
//! 503 `preference => <reason>: <url>` when it cannot be reached. The relay itself lives in
//! [`tutorial_common::downstream`]; this crate says what is preference's own.

use tutorial_common::{
    config::{ConfigError, Env},
    downstream::{Relay, RelayConfig},
    server::Server,
};

pub const RELAY: Relay = Relay {
    service: "preference",
    next_url_var: "RECOMMENDATION_URL",
    default_next_url: "http://recommendation:8080",
    baggage_from_user_agent: false,
};
pub const SERVICE: &str = RELAY.service;

pub const HELP: &str = "\
preference: the Istio tutorial's preference service. GET / calls recommendation and answers
'preference => <recommendation body>'.

Environment:
  RECOMMENDATION_URL    recommendation to call (default http://recommendation:8080)
  DOWNSTREAM_TIMEOUT   how long a call to recommendation may take (default 30s: the mesh's timeouts must show)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config(pub RelayConfig);

impl Config {
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Result<Self, ConfigError> {
        Self::from_env(&Env::new(lookup))
    }

    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        RELAY.config(env).map(Self)
    }
}

/// Builds the service, bound and ready to run: `.port()`, then `.run_until_stopped()`.
pub struct Application;

impl Application {
    /// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        RELAY.serve(config.0)
    }
}
