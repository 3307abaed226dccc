//! `cargo run -p worldclock-standin`: the local stand-in time API on $PORT. `--help` lists faults.

use std::process::ExitCode;

use tutorial_common::boot;

use worldclock_standin::{ABOUT, SERVICE, build};

#[global_allocator]
static GLOBAL: boot::Allocator = boot::ALLOCATOR;

fn main() -> ExitCode {
    boot::install_crypto_provider();
    tutorial_common::cli::serve(SERVICE, ABOUT, build)
}
