//! `cargo run -p preference`: the tutorial's preference on $PORT (default 8080). `preference --help` lists its settings.

use std::process::ExitCode;

use preference::{Config, HELP, SERVICE, build};

fn main() -> ExitCode {
    tutorial_common::cli::serve(SERVICE, HELP, Config::from_env, build)
}
