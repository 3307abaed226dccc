//! What every service's `main` does: `--help`, `--healthcheck`, config from the environment (exit 64 naming the
//! bad variable), telemetry before the runtime starts, then the service until SIGTERM (exit 0).

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::ExitCode,
    time::Duration,
};

use crate::{
    config::{Env, FromEnv},
    telemetry::{self, LogFormat},
    vars,
};

/// Exit status for a configuration the service cannot start with (BSD `EX_USAGE`).
pub const EXIT_CONFIG: u8 = 64;

/// A service's `--help`: `about` (what it does), the variables it reads from [`vars`], the options.
pub fn help(service: &str, about: &str) -> String {
    format!(
        "{about}\n\nEnvironment:\n{}\nOptions:\n  \
         --help          this text\n  \
         --healthcheck   GET http://127.0.0.1:$PORT/health/ready; exit 0 when it answers 200 (container healthchecks)\n",
        vars::help(service)
    )
}

/// Runs a service binary. `about` says what the service does (the first lines of its `--help`); its config `C`
/// is read from the process environment; `run` serves until stopped.
pub fn main<C: FromEnv, Fut>(
    service: &'static str,
    about: &str,
    run: impl FnOnce(C) -> Fut,
) -> ExitCode
where
    Fut: Future<Output = anyhow::Result<()>>,
{
    let env: Env<fn(&str) -> Option<String>> = Env::new(|k| std::env::var(k).ok());
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("--help" | "-h") => {
            print!("{}", help(service, about));
            return ExitCode::SUCCESS;
        }
        Some("--healthcheck") => return healthcheck(&env),
        Some(other) => {
            eprintln!("{service}: unknown argument {other:?}; see --help");
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let (config, format) = match C::from_env(&env).and_then(|c| Ok((c, LogFormat::from_env(&env)?)))
    {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("{service}: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _telemetry = match start_telemetry(service, format) {
        Ok(guard) => guard,
        Err(code) => return code,
    };
    match actix_web::rt::System::new().block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{service} failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// [`main`] for a service whose `build` returns a bound [`Server`](crate::server::Server): serves it until
/// SIGTERM/SIGINT, then drains.
pub fn serve<C: FromEnv>(
    service: &'static str,
    about: &str,
    build: impl FnOnce(C) -> anyhow::Result<crate::server::Server>,
) -> ExitCode {
    main(service, about, |config| async move {
        build(config)?.run_until_stopped().await?;
        Ok(())
    })
}

/// [`telemetry::init`] for a binary's `main`: on failure, says why on stderr and gives the exit status.
pub fn start_telemetry(
    binary: &'static str,
    format: LogFormat,
) -> Result<telemetry::TelemetryGuard, ExitCode> {
    telemetry::init(binary, format).map_err(|e| {
        eprintln!("{binary}: cannot set up telemetry: {e:#}");
        ExitCode::FAILURE
    })
}

/// `--healthcheck`: a plain HTTP/1.0 request to our own readiness endpoint, no runtime, no TLS.
fn healthcheck<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> ExitCode {
    let port = match env.number(&vars::PORT, "port") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match probe(port) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: /health/ready answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: 127.0.0.1:{port}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn probe(port: u16) -> std::io::Result<u16> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))
}
