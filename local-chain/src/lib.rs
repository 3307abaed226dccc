//! The chain in one process: customer → preference → recommendation and the stand-in time API, each on its own
//! loopback port and wired to the next. `cargo run -p local-chain` (`src/main.rs`) and the tests start it with
//! [`start`]; everything that differs between them is an [`Options`] field.

use tutorial_common::{
    config::{FromEnv, overlay},
    server::{Running, Server},
    shutdown,
};

/// The variables [`start`] sets for the services itself: the process environment's values of these never
/// reach them (nor `WORLDCLOCK_URL`'s, which is [`Options::time_url`]).
pub const WIRED: &[&str] = &[
    "BIND_ADDRESS",
    "PORT",
    "WORKERS",
    "HOSTNAME",
    "RECOMMENDATION_VERSION",
    "RECOMMENDATION_URL",
    "PREFERENCE_URL",
];

/// What differs between the chains started here. [`Options::default`] is the local runner's: v1, customer on a
/// free port, the stand-in as v3's time API, the process environment for every variable not set here.
#[derive(Debug, Clone)]
pub struct Options {
    /// customer's port on 127.0.0.1 (0: any free one); the others always take a free one.
    pub customer_port: u16,
    /// recommendation's `RECOMMENDATION_VERSION`: `v1`, `v2` or `v3`.
    pub version: String,
    /// v3's time API; `None`: the stand-in started here, at `time_path`.
    pub time_url: Option<String>,
    /// The stand-in's path v3 calls when `time_url` is `None`: worldclockapi's by default.
    pub time_path: String,
    /// An HTTP proxy for v3's time lookup only (`WORLDCLOCK_PROXY`: the local mesh's sidecar).
    pub time_proxy: Option<String>,
    /// Extra variables for each service, over the wiring above (`HOSTNAME`, `DOWNSTREAM_TIMEOUT`, ...).
    pub customer_env: Vec<(String, String)>,
    pub preference_env: Vec<(String, String)>,
    pub recommendation_env: Vec<(String, String)>,
    pub standin_env: Vec<(String, String)>,
    /// Whether a variable set nowhere above comes from this process's environment (the local runner) or is
    /// unset (the tests, which must not depend on the caller's shell).
    pub inherit_env: bool,
    /// Whether each service drains and stops on SIGTERM/SIGINT (the local runner) or only when stopped.
    pub stop_on_signal: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            customer_port: 0,
            version: "v1".into(),
            time_url: None,
            time_path: "/api/json/cet/now".into(),
            time_proxy: None,
            customer_env: vec![],
            preference_env: vec![],
            recommendation_env: vec![],
            standin_env: vec![],
            inherit_env: true,
            stop_on_signal: true,
        }
    }
}

/// The four services, running.
pub struct Chain {
    pub customer: Running,
    pub preference: Running,
    pub recommendation: Running,
    pub standin: Running,
    /// The time API recommendation calls.
    pub time_url: String,
}

impl Chain {
    /// customer's URL: what a user curls.
    pub fn url(&self) -> &str {
        &self.customer.url
    }

    /// Waits until every service has stopped by itself (after a signal, with `stop_on_signal`).
    pub async fn stopped(self) -> std::io::Result<()> {
        tokio::try_join!(
            self.customer.stopped(),
            self.preference.stopped(),
            self.recommendation.stopped(),
            self.standin.stopped()
        )?;
        Ok(())
    }
}

/// Starts the stand-in, recommendation, preference and customer, in that order, each calling the one before.
/// Call it inside the async runtime the services should run on; a bad variable is a
/// [`ConfigError`](tutorial_common::config::ConfigError) in the error.
pub async fn start(options: Options) -> anyhow::Result<Chain> {
    let inherit = options.inherit_env;
    // Loopback, a free port and one worker first; the wiring, then the caller's variables, override them.
    let env = |wiring: Vec<(&str, String)>, extra: &[(String, String)]| {
        let loopback = [
            ("BIND_ADDRESS", "127.0.0.1"),
            ("PORT", "0"),
            ("WORKERS", "1"),
        ];
        let pairs = loopback
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .chain(wiring.into_iter().map(|(k, v)| (k.to_owned(), v)))
            .chain(extra.iter().cloned())
            .collect();
        overlay(pairs, move |k| {
            inherit.then(|| std::env::var(k).ok()).flatten()
        })
    };
    let spawn = |server: Server| match options.stop_on_signal {
        true => server.spawn(shutdown::signal()),
        false => server.spawn(std::future::pending()),
    };
    let standin_config =
        worldclock_standin::Config::from_lookup(env(vec![], &options.standin_env))?;
    let standin = spawn(worldclock_standin::build(standin_config)?);
    let time_url = (options.time_url.clone())
        .unwrap_or_else(|| format!("{}{}", standin.url, options.time_path));
    let mut wiring = vec![
        (
            "HOSTNAME",
            format!("recommendation-{}-local", options.version),
        ),
        ("RECOMMENDATION_VERSION", options.version.clone()),
        ("WORLDCLOCK_URL", time_url.clone()),
    ];
    wiring.extend(options.time_proxy.clone().map(|p| ("WORLDCLOCK_PROXY", p)));
    let config = recommendation::Config::from_lookup(env(wiring, &options.recommendation_env))?;
    let recommendation = spawn(recommendation::build(config)?);
    let wiring = vec![
        ("HOSTNAME", "preference-v1-local".to_owned()),
        ("RECOMMENDATION_URL", recommendation.url.clone()),
    ];
    let config = preference::Config::from_lookup(env(wiring, &options.preference_env))?;
    let preference = spawn(preference::build(config)?);
    let wiring = vec![
        ("HOSTNAME", "customer-local".to_owned()),
        ("PREFERENCE_URL", preference.url.clone()),
        ("PORT", options.customer_port.to_string()),
    ];
    let config = customer::Config::from_lookup(env(wiring, &options.customer_env))?;
    let customer = spawn(customer::build(config)?);
    Ok(Chain {
        customer,
        preference,
        recommendation,
        standin,
        time_url,
    })
}
