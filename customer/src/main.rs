//! `cargo run -p customer`: the tutorial's customer on $PORT. `customer --help` lists its settings.

use std::process::ExitCode;

use tutorial_common::boot;

use customer::{ABOUT, SERVICE, build};

#[global_allocator]
static GLOBAL: boot::Allocator = boot::ALLOCATOR;

fn main() -> ExitCode {
    boot::install_crypto_provider();
    tutorial_common::cli::serve(SERVICE, ABOUT, build)
}
