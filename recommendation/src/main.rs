//! `RECOMMENDATION_VERSION=v1 cargo run -p recommendation`: the tutorial's recommendation on $PORT (default
//! 8080). `recommendation --help` lists its settings.

use std::process::ExitCode;

use recommendation::{Config, HELP, SERVICE, build};

fn main() -> ExitCode {
    tutorial_common::cli::serve(SERVICE, HELP, Config::from_env, build)
}
