//! `cargo run -p customer`: the tutorial's customer on $PORT (default 8080). `customer --help` lists its settings.

use std::process::ExitCode;

use customer::{Config, HELP, SERVICE, build};

fn main() -> ExitCode {
    tutorial_common::cli::serve(SERVICE, HELP, Config::from_env, build)
}
