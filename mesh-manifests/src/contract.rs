//! The configuration contract (the README's "Configuration (environment)"): the variables manifests may set
//! and the facts about the services that manifests must match, all taken from `tutorial_common::vars`.

use tutorial_common::vars;

/// Prefix of the standard OpenTelemetry variables, all allowed.
pub const OTEL_PREFIX: &str = "OTEL_";

/// The port every service listens on by default (`PORT`), declared in manifests as a container port named `http`.
pub const APP_PORT: i32 = 8080;

/// Default of `WORLDCLOCK_URL`, the external host the egress lab's ServiceEntry must name.
pub const DEFAULT_WORLDCLOCK_URL: &str = match vars::WORLDCLOCK_URL.default {
    Some(url) => url,
    None => panic!("WORLDCLOCK_URL has a default"),
};

/// Is `name` a variable of the contract: one the three services read, or `OTEL_*`?
pub fn is_contract_env(name: &str) -> bool {
    vars::read_by_the_chain(name) || name.starts_with(OTEL_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_is_what_the_services_read() {
        for name in [
            "PORT",
            "BIND_ADDRESS",
            "PREFERENCE_URL",
            "RUST_LOG",
            "OTEL_SERVICE_NAME",
        ] {
            assert!(is_contract_env(name), "{name}");
        }
        for name in ["PREFERENCE_ULR", "STANDIN_FAULT"] {
            assert!(!is_contract_env(name), "{name}");
        }
        assert_eq!(Some(APP_PORT.to_string().as_str()), vars::PORT.default);
    }
}
