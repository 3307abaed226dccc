//! `cargo run -p local-chain`: customer → preference → recommendation and the stand-in time API on this machine,
//! wired together, customer on http://localhost:8080. Ctrl-C stops everything. `--help` for options.

use std::{collections::HashMap, process::ExitCode};

use tutorial_common::{
    cli::EXIT_CONFIG,
    config::ConfigError,
    server::Server,
    telemetry::{self, LogFormat},
};

const HELP: &str = "\
local-chain: the tutorial's chain on this machine, no cluster, no containers.

Usage: cargo run -p local-chain -- [--port PORT] [--version v1|v2|v3]

  --port PORT        customer's port on 127.0.0.1 (default 8080)
  --version VERSION  recommendation's version (default v1; v3 asks the stand-in time API)
  --help             this text

The other services listen on free loopback ports, printed at start. These variables pass through:
RESPONSE_DELAY, WORLDCLOCK_URL (default: the local stand-in), WORLDCLOCK_TIMEOUT, DOWNSTREAM_TIMEOUT,
STANDIN_NOW, STANDIN_FAULT, LOG_FORMAT, RUST_LOG.";

struct Args {
    port: String,
    version: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: "8080".into(),
        version: "v1".into(),
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--port" => parsed.port = value("--port")?,
            "--version" => parsed.version = value("--version")?,
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(Some(parsed))
}

/// One service's environment: `pairs` first, then the process environment for everything else.
fn overlay(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned().or_else(|| std::env::var(k).ok())
}

const LOOPBACK: [(&str, &str); 3] = [
    ("BIND_ADDRESS", "127.0.0.1"),
    ("PORT", "0"),
    ("WORKERS", "1"),
];

async fn start(args: Args) -> anyhow::Result<()> {
    let with = |extra: &[(&str, &str)]| overlay(&[&LOOPBACK[..], extra].concat());
    let standin = worldclock_standin::build(worldclock_standin::Config::from_lookup(with(&[]))?)?;
    let time_url = format!("http://127.0.0.1:{}/api/json/cet/now", standin.port());
    let time_url = std::env::var("WORLDCLOCK_URL").unwrap_or(time_url);
    let rec_host = format!("recommendation-{}-local", args.version);
    let recommendation = recommendation::build(recommendation::Config::from_lookup(with(&[
        ("HOSTNAME", &rec_host),
        ("RECOMMENDATION_VERSION", &args.version),
        ("WORLDCLOCK_URL", &time_url),
    ]))?)?;
    let rec_url = format!("http://127.0.0.1:{}", recommendation.port());
    let preference = preference::build(preference::Config::from_lookup(with(&[
        ("HOSTNAME", "preference-v1-local"),
        ("RECOMMENDATION_URL", &rec_url),
    ]))?)?;
    let pref_url = format!("http://127.0.0.1:{}", preference.port());
    let customer = customer::build(customer::Config::from_lookup(with(&[
        ("HOSTNAME", "customer-local"),
        ("PREFERENCE_URL", &pref_url),
        ("PORT", &args.port),
    ]))?)?;
    println!(
        "\nlocal chain up: customer => preference => recommendation {}\n  curl http://localhost:{}\n  \
         recommendation: {rec_url} (GET /misbehave, GET /behave)\n  time API: {time_url}\n  Ctrl-C stops everything.\n",
        args.version,
        customer.port(),
    );
    let run = |s: Server| s.run_until_stopped();
    tokio::try_join!(
        run(customer),
        run(preference),
        run(recommendation),
        run(standin)
    )?;
    Ok(())
}

#[global_allocator]
static GLOBAL: tutorial_common::boot::Allocator = tutorial_common::boot::ALLOCATOR;

fn main() -> ExitCode {
    tutorial_common::boot::install_crypto_provider();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("local-chain: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let format = match LogFormat::from_env(&tutorial_common::config::Env::new(|k| {
        std::env::var(k).ok()
    })) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("local-chain: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _telemetry = match telemetry::init("local-chain", format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("local-chain: cannot set up telemetry: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match actix_web::rt::System::new().block_on(start(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<ConfigError>().is_some() => {
            eprintln!("local-chain: configuration error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e) => {
            eprintln!("local-chain: {e:#}");
            ExitCode::FAILURE
        }
    }
}
