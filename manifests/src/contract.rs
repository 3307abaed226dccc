//! The configuration contract (the README's "Configuration (environment)"): the variable names manifests may set.

/// Variables the services read. Manifests may set these and `OTEL_*`, nothing else.
pub const ENV_NAMES: &[&str] = &[
    "PORT",
    "HOSTNAME",
    "PREFERENCE_URL",
    "RECOMMENDATION_URL",
    "RECOMMENDATION_VERSION",
    "WORLDCLOCK_URL",
    "WORLDCLOCK_TIMEOUT",
    "WORLDCLOCK_PROXY",
    "RESPONSE_DELAY",
    "DOWNSTREAM_TIMEOUT",
    "LOG_FORMAT",
    "RUST_LOG",
    "WORKERS",
    "SHUTDOWN_TIMEOUT",
];

/// Prefix of the standard OpenTelemetry variables, all allowed.
pub const OTEL_PREFIX: &str = "OTEL_";

/// The port every service listens on, declared in manifests as a container port named `http`.
pub const APP_PORT: i32 = 8080;

/// Image repositories of the three services; containers using them are "app containers".
pub const APP_IMAGE_PREFIX: &str = "istio-tutorial-rs/";

/// Default of `WORLDCLOCK_URL`, the external host the egress lab's ServiceEntry must name.
pub const DEFAULT_WORLDCLOCK_URL: &str = "http://worldclockapi.com/api/json/cet/now";

/// Is `name` a variable of the contract?
pub fn is_contract_env(name: &str) -> bool {
    ENV_NAMES.contains(&name) || name.starts_with(OTEL_PREFIX)
}
