//! Test support: start the services in this process on ephemeral loopback ports, wired to each other, with the
//! stand-in time API in place of the external host (zero2prod's `spawn_app`); [`process`] starts them as
//! processes. The helpers every suite shares live here once: [`repo_root`], [`closed_loopback_url`], bounded
//! waits ([`wait`]), raw HTTP parsing ([`http`]) and an OTLP receiver ([`otlp`]).
//!
//! ```ignore
//! let chain = spawn_chain(ChainOptions::default()).await;
//! let (status, body) = get(chain.url()).await;
//! ```

pub mod http;
pub mod otlp;
pub mod process;
pub mod wait;

use std::{path::PathBuf, sync::LazyLock};

pub use local_chain::Chain;
use tutorial_common::{
    config::{FromEnv, overlay},
    server::{Running, Server},
};

/// Host names the in-process services show in their bodies.
pub const CUSTOMER_HOST: &str = "customer-test";
pub const PREFERENCE_HOST: &str = "preference-test";
pub const RECOMMENDATION_HOST: &str = "recommendation-test";
/// The stand-in's frozen clock in tests, as worldclockapi would show it.
pub const STANDIN_NOW: &str = "2020-04-06T18:31+02:00";

static TEST_LOGS: LazyLock<()> = LazyLock::new(|| {
    use tutorial_common::telemetry::{LogFormat, subscriber};
    let writer = match std::env::var_os("TEST_LOG") {
        Some(_) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::sink),
    };
    let _ =
        tracing::subscriber::set_global_default(subscriber("tests", LogFormat::Text, None, writer));
});

/// Logs are printed only with `TEST_LOG=1`. Also installs the crypto provider, as a binary's `main` does.
fn init_test_logs() {
    tutorial_common::boot::install_crypto_provider();
    LazyLock::force(&TEST_LOGS);
}

/// Environment for one service: the pairs given plus loopback, port 0, one worker; nothing from the process.
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let loopback = [
        ("PORT", "0"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("WORKERS", "1"),
    ];
    let pairs: Vec<(String, String)> = loopback
        .iter()
        .chain(pairs)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    overlay(pairs, |_| None)
}

/// Runs a built server on the test's runtime until stopped or the test ends.
fn run(server: Server) -> Running {
    init_test_logs();
    server.spawn(std::future::pending())
}

/// One service on a free loopback port: its config from `pairs` (over [`vars`]' loopback), then `build`.
fn spawn<C: FromEnv>(build: fn(C) -> anyhow::Result<Server>, pairs: &[(&str, &str)]) -> Running {
    let config = C::from_lookup(vars(pairs)).expect("the test's configuration is valid");
    run(build(config).expect("the service starts"))
}

pub async fn spawn_standin(pairs: &[(&str, &str)]) -> Running {
    spawn(worldclock_standin::build, pairs)
}

pub async fn spawn_recommendation(pairs: &[(&str, &str)]) -> Running {
    spawn(recommendation::build, pairs)
}

pub async fn spawn_preference(recommendation_url: &str, pairs: &[(&str, &str)]) -> Running {
    let wiring = [
        ("HOSTNAME", PREFERENCE_HOST),
        ("RECOMMENDATION_URL", recommendation_url),
    ];
    spawn(preference::build, &[&wiring, pairs].concat())
}

pub async fn spawn_customer(preference_url: &str, pairs: &[(&str, &str)]) -> Running {
    let wiring = [
        ("HOSTNAME", CUSTOMER_HOST),
        ("PREFERENCE_URL", preference_url),
    ];
    spawn(customer::build, &[&wiring, pairs].concat())
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

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// customer → preference → recommendation → stand-in time API, all on loopback: the in-process chain
/// (`local_chain::start`) with the tests' host names, a frozen clock and nothing from the process environment.
pub async fn spawn_chain(options: ChainOptions) -> Chain {
    init_test_logs();
    let mut standin_env = vec![("STANDIN_NOW", STANDIN_NOW)];
    standin_env.extend(options.standin_env.iter().copied());
    let mut recommendation_env = vec![("HOSTNAME", RECOMMENDATION_HOST)];
    recommendation_env.extend(options.recommendation_env.iter().copied());
    local_chain::start(local_chain::Options {
        version: options.version.into(),
        time_path: options.time_path.into(),
        customer_env: owned(&[("HOSTNAME", CUSTOMER_HOST)]),
        preference_env: owned(&[("HOSTNAME", PREFERENCE_HOST)]),
        recommendation_env: owned(&recommendation_env),
        standin_env: owned(&standin_env),
        inherit_env: false,
        stop_on_signal: false,
        ..local_chain::Options::default()
    })
    .await
    .expect("the chain starts")
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

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests/ sits in the repository root")
        .to_path_buf()
}

/// `http://127.0.0.1:<port>` where nothing listens any more: a loopback port bound and released, so a
/// connection to it is refused.
pub fn closed_loopback_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    format!("http://{}", listener.local_addr().expect("bound address"))
}
