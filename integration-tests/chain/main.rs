//! Black-box tests of the chain over real loopback sockets.
mod configuration;
mod error_chain;
mod happy_path;
mod operations;
mod process;
mod propagation;
mod tracing_otlp;
