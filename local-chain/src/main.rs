//! `cargo run -p local-chain`: customer → preference → recommendation and the stand-in time API on this machine,
//! wired together, customer on http://localhost:8080. Ctrl-C stops everything. `--help` for options.

use std::process::ExitCode;

use tutorial_common::{cli::EXIT_CONFIG, config::ConfigError, telemetry::LogFormat};

/// customer's port unless `--port` says otherwise: the URL the README curls.
const DEFAULT_PORT: &str = "8080";

fn help() -> String {
    let passed: Vec<&str> = tutorial_common::vars::VARS
        .iter()
        .map(|v| v.name)
        .filter(|name| !local_chain::WIRED.contains(name))
        .collect();
    format!(
        "\
local-chain: the tutorial's chain on this machine, no cluster, no containers.

Usage: cargo run -p local-chain -- [--port PORT] [--version v1|v2|v3]

  --port PORT        customer's port on 127.0.0.1 (default {DEFAULT_PORT})
  --version VERSION  recommendation's version (default v1; v3 asks the stand-in time API)
  --help             this text

The other services listen on free loopback ports, printed at start. These variables pass through
(WORLDCLOCK_URL defaults to the local stand-in; each service's --help says what they do):
{}.",
        passed.join(", ")
    )
}

struct Args {
    port: String,
    version: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        port: DEFAULT_PORT.into(),
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

async fn start(args: Args) -> anyhow::Result<()> {
    let chain = local_chain::start(local_chain::Options {
        version: args.version.clone(),
        time_url: std::env::var("WORLDCLOCK_URL")
            .ok()
            .filter(|v| !v.is_empty()),
        customer_env: vec![("PORT".into(), args.port)],
        ..local_chain::Options::default()
    })
    .await?;
    println!(
        "\nlocal chain up: customer => preference => recommendation {}\n  curl http://localhost:{}\n  \
         recommendation: {} (GET /misbehave, GET /behave)\n  time API: {}\n  Ctrl-C stops everything.\n",
        args.version, chain.customer.port, chain.recommendation.url, chain.time_url,
    );
    chain.stopped().await?;
    Ok(())
}

#[global_allocator]
static GLOBAL: tutorial_common::boot::Allocator = tutorial_common::boot::ALLOCATOR;

fn main() -> ExitCode {
    tutorial_common::boot::install_crypto_provider();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", help());
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
    let _telemetry = match tutorial_common::cli::start_telemetry("local-chain", format) {
        Ok(guard) => guard,
        Err(code) => return code,
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
