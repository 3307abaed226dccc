//! `cargo run -p worldclock-standin`: the local stand-in time API on $PORT (default 8080). `--help` lists faults.

use std::process::ExitCode;

use worldclock_standin::{Config, HELP, SERVICE, build};

fn main() -> ExitCode {
    tutorial_common::cli::serve(SERVICE, HELP, Config::from_env, build)
}
