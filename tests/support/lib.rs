//! Test support: start the services in this process on ephemeral loopback ports, wired to each other, with the
//! stand-in time API in place of the external host (zero2prod's `spawn_app`).
//!
//! ```ignore
//! let chain = spawn_chain(ChainOptions::default()).await;
//! let body = reqwest::get(&chain.customer).await?.text().await?;
//! ```

pub mod process;

use std::{collections::HashMap, sync::LazyLock};

use actix_web::dev::ServerHandle;
use tutorial_common::server::Server;

/// Host names the in-process services show in their bodies.
pub const CUSTOMER_HOST: &str = "customer-test";
pub const PREFERENCE_HOST: &str = "preference-test";
pub const RECOMMENDATION_HOST: &str = "recommendation-test";
/// The stand-in's frozen clock in tests, as worldclockapi would show it.
pub const STANDIN_NOW: &str = "2020-04-06T18:31+02:00";

static TEST_LOGS: LazyLock<()> = LazyLock::new(|| {
    use tutorial_common::telemetry::{LogFormat, subscriber};
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing::subscriber::set_global_default(subscriber(
            "tests",
            LogFormat::Text,
            None,
            std::io::stdout,
        ));
    } else {
        let _ = tracing::subscriber::set_global_default(subscriber(
            "tests",
            LogFormat::Text,
            None,
            std::io::sink,
        ));
    }
});

/// Logs are printed only with `TEST_LOG=1`. Also installs the crypto provider, as a binary's `main` does.
pub fn init_test_logs() {
    tutorial_common::boot::install_crypto_provider();
    LazyLock::force(&TEST_LOGS);
}

/// Environment for one service: the pairs given plus loopback, port 0, one worker.
pub fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let mut map: HashMap<String, String> = [
        ("PORT", "0"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("WORKERS", "1"),
    ]
    .iter()
    .chain(pairs)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    map.retain(|_, v| !v.is_empty());
    move |k: &str| map.get(k).cloned()
}

/// A service running in this process.
pub struct Running {
    pub port: u16,
    pub url: String,
    pub handle: ServerHandle,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the service (gracefully when `graceful`) and waits until it has stopped.
    pub async fn stop(self, graceful: bool) {
        self.handle.stop(graceful).await;
        let _ = self.task.await;
    }
}

/// Runs a built server on the test's runtime until stopped or the test ends.
pub fn run(server: Server) -> Running {
    init_test_logs();
    let port = server.port();
    let handle = server.handle();
    let task = tokio::spawn(server.run_until(std::future::pending()));
    Running {
        port,
        url: format!("http://127.0.0.1:{port}"),
        handle,
        task,
    }
}

pub async fn spawn_standin(pairs: &[(&str, &str)]) -> Running {
    let config = worldclock_standin::Config::from_lookup(vars(pairs)).expect("stand-in config");
    run(worldclock_standin::build(config).expect("stand-in starts"))
}

pub async fn spawn_recommendation(pairs: &[(&str, &str)]) -> Running {
    let config = recommendation::Config::from_lookup(vars(pairs)).expect("recommendation config");
    run(recommendation::build(config).expect("recommendation starts"))
}

pub async fn spawn_preference(recommendation_url: &str, pairs: &[(&str, &str)]) -> Running {
    let mut all = vec![
        ("HOSTNAME", PREFERENCE_HOST),
        ("RECOMMENDATION_URL", recommendation_url),
    ];
    all.extend_from_slice(pairs);
    let config = preference::Config::from_lookup(vars(&all)).expect("preference config");
    run(preference::build(config).expect("preference starts"))
}

pub async fn spawn_customer(preference_url: &str, pairs: &[(&str, &str)]) -> Running {
    let mut all = vec![
        ("HOSTNAME", CUSTOMER_HOST),
        ("PREFERENCE_URL", preference_url),
    ];
    all.extend_from_slice(pairs);
    let config = customer::Config::from_lookup(vars(&all)).expect("customer config");
    run(customer::build(config).expect("customer starts"))
}

/// What differs between chains in tests. Every field has a working default.
#[derive(Debug, Clone)]
pub struct ChainOptions {
    /// `v1`, `v2` or `v3`.
    pub version: &'static str,
    /// Path on the stand-in that v3 calls: worldclockapi's by default.
    pub time_path: &'static str,
    /// Extra variables for recommendation (e.g. `WORLDCLOCK_TIMEOUT`, `RESPONSE_DELAY`).
    pub recommendation_env: Vec<(&'static str, &'static str)>,
    /// Extra variables for the stand-in (e.g. `STANDIN_FAULT`).
    pub standin_env: Vec<(&'static str, &'static str)>,
}

impl Default for ChainOptions {
    fn default() -> Self {
        Self {
            version: "v1",
            time_path: "/api/json/cet/now",
            recommendation_env: vec![],
            standin_env: vec![],
        }
    }
}

impl ChainOptions {
    pub fn version(version: &'static str) -> Self {
        Self {
            version,
            ..Self::default()
        }
    }
}

/// customer → preference → recommendation → stand-in time API, all on loopback.
pub struct Chain {
    pub customer: Running,
    pub preference: Running,
    pub recommendation: Running,
    pub standin: Running,
}

impl Chain {
    /// customer's URL: what a user curls.
    pub fn url(&self) -> &str {
        &self.customer.url
    }
}

pub async fn spawn_chain(options: ChainOptions) -> Chain {
    let mut standin_env = vec![("STANDIN_NOW", STANDIN_NOW)];
    standin_env.extend(options.standin_env.iter().copied());
    let standin = spawn_standin(&standin_env).await;
    let time_url = format!("{}{}", standin.url, options.time_path);
    let mut rec_env = vec![
        ("HOSTNAME", RECOMMENDATION_HOST),
        ("RECOMMENDATION_VERSION", options.version),
        ("WORLDCLOCK_URL", time_url.as_str()),
    ];
    rec_env.extend(options.recommendation_env.iter().copied());
    let recommendation = spawn_recommendation(&rec_env).await;
    let preference = spawn_preference(&recommendation.url, &[]).await;
    let customer = spawn_customer(&preference.url, &[]).await;
    Chain {
        customer,
        preference,
        recommendation,
        standin,
    }
}

/// GET `url` and return status and body.
pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest_client()
        .get(url)
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body read"))
}

/// A plain client for tests (no proxy).
pub fn reqwest_client() -> reqwest::Client {
    tutorial_common::boot::install_crypto_provider();
    tutorial_common::client::client(std::time::Duration::from_secs(30), None).expect("client")
}

/// A throwaway HTTP server on a free loopback port standing in for some service (a recorder, an OTLP
/// receiver); returns its URL. It runs until the test ends.
pub fn serve_on_loopback(
    routes: impl Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
) -> String {
    let server =
        actix_web::HttpServer::new(move || actix_web::App::new().configure(routes.clone()))
            .workers(1)
            .disable_signals()
            .bind("127.0.0.1:0")
            .expect("bind a loopback port");
    let url = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());
    url
}
