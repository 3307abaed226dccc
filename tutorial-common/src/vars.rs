//! The one table of environment variables: who reads each, its default, what it means.
//!
//! Everything else comes from [`VARS`]: `config::Env` parses a variable and falls back to its default from
//! here, each binary's `--help` lists [`help`] for it, the README's configuration table is [`readme_table`] (a
//! test keeps them equal), and the manifest validator's contract (`mesh-manifests/src/contract.rs`) allows exactly the
//! variables the three services read.

/// One environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    /// The binaries that read it.
    pub read_by: &'static [&'static str],
    /// The value used when it is unset or empty, in the form the variable takes; `None`: unset means off.
    pub default: Option<&'static str>,
    /// One line for `--help` and the README.
    pub meaning: &'static str,
}

/// The three services of the chain, in calling order.
pub const CHAIN: &[&str] = &["customer", "preference", "recommendation"];
/// Every service binary: the chain and the stand-in time API.
pub const ALL: &[&str] = &[
    "customer",
    "preference",
    "recommendation",
    "worldclock-standin",
];

pub const PORT: Var = Var {
    name: "PORT",
    read_by: ALL,
    default: Some("8080"),
    meaning: "port to listen on (0: any free one)",
};
pub const BIND_ADDRESS: Var = Var {
    name: "BIND_ADDRESS",
    read_by: ALL,
    default: Some("0.0.0.0"),
    meaning: "IP address to listen on",
};
pub const HOSTNAME: Var = Var {
    name: "HOSTNAME",
    read_by: ALL,
    default: Some("unknown"),
    meaning: "name shown in bodies: the pod name in Kubernetes",
};
pub const WORKERS: Var = Var {
    name: "WORKERS",
    read_by: ALL,
    default: Some("1"),
    meaning: "HTTP worker threads",
};
pub const SHUTDOWN_TIMEOUT: Var = Var {
    name: "SHUTDOWN_TIMEOUT",
    read_by: ALL,
    default: Some("10s"),
    meaning: "how long in-flight requests may take to finish after SIGTERM (below the pods' 30 s grace)",
};
pub const LOG_FORMAT: Var = Var {
    name: "LOG_FORMAT",
    read_by: ALL,
    default: Some("text"),
    meaning: "text, or json for one JSON object a line",
};
pub const RUST_LOG: Var = Var {
    name: "RUST_LOG",
    read_by: ALL,
    default: Some("info,actix_server=warn"),
    meaning: "log filter (tracing-subscriber's EnvFilter syntax)",
};
pub const OTEL_EXPORTER_OTLP_ENDPOINT: Var = Var {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    read_by: ALL,
    default: None,
    meaning: "export spans by OTLP/HTTP protobuf to this URL (unset: no export); the other OTEL_* apply",
};
pub const PREFERENCE_URL: Var = Var {
    name: "PREFERENCE_URL",
    read_by: &["customer"],
    default: Some("http://preference:8080"),
    meaning: "preference, customer's next hop",
};
pub const RECOMMENDATION_URL: Var = Var {
    name: "RECOMMENDATION_URL",
    read_by: &["preference"],
    default: Some("http://recommendation:8080"),
    meaning: "recommendation, preference's next hop",
};
pub const DOWNSTREAM_TIMEOUT: Var = Var {
    name: "DOWNSTREAM_TIMEOUT",
    read_by: &["customer", "preference"],
    default: Some("30s"),
    meaning: "how long a call to the next hop may take: generous, so the mesh's timeouts are what users see",
};
pub const RECOMMENDATION_VERSION: Var = Var {
    name: "RECOMMENDATION_VERSION",
    read_by: &["recommendation"],
    default: Some("v1"),
    meaning: "v1, v2 or v3 (v3 adds the time from the time API)",
};
pub const RESPONSE_DELAY: Var = Var {
    name: "RESPONSE_DELAY",
    read_by: &["recommendation"],
    default: Some("0s"),
    meaning: "wait before answering (the timeout lab's slow v2: 3s)",
};
pub const WORLDCLOCK_URL: Var = Var {
    name: "WORLDCLOCK_URL",
    read_by: &["recommendation"],
    default: Some("http://worldclockapi.com/api/json/cet/now"),
    meaning: "v3's time API (a live one: http://worldtimeapi.org/api/timezone/Europe/Madrid)",
};
pub const WORLDCLOCK_TIMEOUT: Var = Var {
    name: "WORLDCLOCK_TIMEOUT",
    read_by: &["recommendation"],
    default: Some("5s"),
    meaning: "v3's own timeout for the time API, above the lab's 3 s mesh timeout",
};
pub const WORLDCLOCK_PROXY: Var = Var {
    name: "WORLDCLOCK_PROXY",
    read_by: &["recommendation"],
    default: None,
    meaning: "HTTP proxy for the time lookup only (the local mesh's sidecar; unset: direct)",
};
pub const STANDIN_NOW: Var = Var {
    name: "STANDIN_NOW",
    read_by: &["worldclock-standin"],
    default: None,
    meaning: "freeze the clock, e.g. 2020-04-06T18:31+02:00 (unset: the real time, CET/CEST)",
};
pub const STANDIN_FAULT: Var = Var {
    name: "STANDIN_FAULT",
    read_by: &["worldclock-standin"],
    default: Some("none"),
    meaning: "none, slow (slow:3s for another delay), error, malformed, missing-field or bad-time",
};

/// Every variable, in the order `--help` and the README list them.
pub const VARS: &[Var] = &[
    PORT,
    BIND_ADDRESS,
    HOSTNAME,
    WORKERS,
    SHUTDOWN_TIMEOUT,
    LOG_FORMAT,
    RUST_LOG,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    PREFERENCE_URL,
    RECOMMENDATION_URL,
    DOWNSTREAM_TIMEOUT,
    RECOMMENDATION_VERSION,
    RESPONSE_DELAY,
    WORLDCLOCK_URL,
    WORLDCLOCK_TIMEOUT,
    WORLDCLOCK_PROXY,
    STANDIN_NOW,
    STANDIN_FAULT,
];

/// The variables `service` reads.
pub fn read_by(service: &str) -> impl Iterator<Item = &'static Var> {
    VARS.iter().filter(move |v| v.read_by.contains(&service))
}

/// Whether one of the chain's three services reads `name`: what a manifest may set.
pub fn read_by_the_chain(name: &str) -> bool {
    VARS.iter()
        .any(|v| v.name == name && v.read_by.iter().any(|s| CHAIN.contains(s)))
}

/// The `Environment:` lines of `service`'s `--help`.
pub fn help(service: &str) -> String {
    read_by(service)
        .map(|v| {
            let default = match v.default {
                Some(d) => format!(" (default {d})"),
                None => String::new(),
            };
            format!("  {:<28}{}{default}\n", v.name, v.meaning)
        })
        .collect()
}

/// The README's configuration table, in Markdown.
pub fn readme_table() -> String {
    let mut table = String::from("| variable | used by | default | meaning |\n|---|---|---|---|\n");
    for v in VARS {
        let used_by = if v.read_by == ALL {
            "all".to_owned()
        } else {
            v.read_by.join(", ")
        };
        let default = v.default.map_or("unset".to_owned(), |d| format!("`{d}`"));
        table.push_str(&format!(
            "| `{}` | {used_by} | {default} | {} |\n",
            v.name, v.meaning
        ));
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once_and_read_by_a_known_binary() {
        for (i, v) in VARS.iter().enumerate() {
            assert!(
                !VARS[..i].iter().any(|w| w.name == v.name),
                "{} listed twice",
                v.name
            );
            assert!(!v.read_by.is_empty(), "{} read by nobody", v.name);
            for s in v.read_by {
                assert!(ALL.contains(s), "{}: unknown binary {s}", v.name);
            }
        }
    }

    #[test]
    fn the_readme_configuration_table_is_this_table() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("### Configuration (environment)")
            .nth(1)
            .expect("README has a \"Configuration (environment)\" section");
        let shown: String = section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .map(|l| format!("{l}\n"))
            .collect();
        let wanted = readme_table();
        assert_eq!(
            shown, wanted,
            "the README's configuration table differs from tutorial-common/src/vars.rs; paste this:\n{wanted}"
        );
    }

    #[test]
    fn help_lists_what_a_service_reads_with_its_default() {
        let customer = help("customer");
        assert!(customer.contains("PREFERENCE_URL"), "{customer}");
        assert!(customer.contains("(default 30s)"), "{customer}");
        assert!(customer.contains("BIND_ADDRESS"), "{customer}");
        assert!(!customer.contains("WORLDCLOCK_URL"), "{customer}");
        assert!(read_by_the_chain("BIND_ADDRESS"));
        assert!(
            !read_by_the_chain("STANDIN_FAULT"),
            "the stand-in is not deployed"
        );
    }
}
