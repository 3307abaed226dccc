//! The tutorial's customer: `GET /` calls preference and answers `customer => <preference's body>`.
//!
//! Run it with `cargo run -p customer` (listens on $PORT, default 8080; calls $PREFERENCE_URL).
//! Sets `baggage-user-agent` from the caller's `user-agent`: the routing labs match on it.
//! Errors follow the tutorial's chain: 503 `customer => Error: <status> - <body>` when preference answers non-2xx,
//! 503 `customer => <reason>: <url>` when it cannot be reached. The relay itself lives in
//! [`tutorial_common::downstream`]; this crate says what is customer's own.

use tutorial_common::{
    config::{ConfigError, Env},
    downstream::{Relay, RelayConfig},
    server::Server,
};

pub const RELAY: Relay = Relay {
    service: "customer",
    next_url_var: "PREFERENCE_URL",
    default_next_url: "http://preference:8080",
    baggage_from_user_agent: true,
};
pub const SERVICE: &str = RELAY.service;

pub const HELP: &str = "\
customer: the Istio tutorial's customer service. GET / calls preference and answers
'customer => <preference body>'.

Environment:
  PREFERENCE_URL      preference to call (default http://preference:8080)
  DOWNSTREAM_TIMEOUT   how long a call to preference may take (default 30s: the mesh's timeouts must show)";

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
