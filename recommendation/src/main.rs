//! `RECOMMENDATION_VERSION=v1 cargo run -p recommendation`: the tutorial's recommendation on $PORT.
//! `recommendation --help` lists its settings.

use std::process::ExitCode;

use tutorial_common::boot;

use recommendation::{ABOUT, SERVICE, build};

#[global_allocator]
static GLOBAL: boot::Allocator = boot::ALLOCATOR;

fn main() -> ExitCode {
    boot::install_crypto_provider();
    tutorial_common::cli::serve(SERVICE, ABOUT, build)
}
