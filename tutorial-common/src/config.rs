//! Configuration from the environment ([`crate::vars`] is the table), parsed once at start.
//!
//! Services call [`Env::new`] with a lookup function (`|k| std::env::var(k).ok()` in `main`, a `HashMap` in
//! tests) and read typed values; a value that does not parse is a [`ConfigError`] naming the variable and value.

use std::{fmt::Display, str::FromStr, time::Duration};

use url::Url;

use crate::vars::{self, Var};

/// A configuration value that could not be used. Its message names the variable and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?} {problem}")]
pub struct ConfigError {
    pub var: String,
    pub value: String,
    pub problem: String,
}

/// A configuration read from the environment: each service's `Config`.
pub trait FromEnv: Sized {
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError>;

    /// From a lookup function: `|k| std::env::var(k).ok()` in `main`, a map in tests (never `set_var`).
    fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Result<Self, ConfigError> {
        Self::from_env(&Env::new(lookup))
    }
}

/// Typed access to the environment through a lookup function; defaults come from [`crate::vars`].
pub struct Env<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Self { lookup }
    }

    /// The raw value, `None` when unset. An empty value counts as unset, as in a shell's `${X:-default}`.
    pub fn raw(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// Parses `var` with `parse`, whose error text follows the value: `PORT="x" is not a valid port: …`.
    /// Unset, its default is parsed the same way; `None` when it has none.
    pub fn optional<T>(
        &self,
        var: &Var,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.raw(var.name) else {
            return Ok(var.default.map(|d| {
                parse(d).unwrap_or_else(|e| panic!("the default {}={d:?} {e}", var.name))
            }));
        };
        parse(value.trim())
            .map(Some)
            .map_err(|problem| ConfigError {
                var: var.name.to_owned(),
                value,
                problem,
            })
    }

    /// [`Env::optional`] for a variable with a default.
    pub fn parse<T>(
        &self,
        var: &Var,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let value = self.optional(var, parse)?;
        Ok(value.unwrap_or_else(|| {
            panic!("{} has no default in tutorial-common/src/vars.rs", var.name)
        }))
    }

    pub fn string(&self, var: &Var) -> String {
        self.parse(var, |v| Ok(v.to_owned()))
            .expect("any string is a string")
    }

    pub fn url(&self, var: &Var) -> Result<Url, ConfigError> {
        self.parse(var, parse_http_url)
    }

    pub fn duration(&self, var: &Var) -> Result<Duration, ConfigError> {
        self.parse(var, parse_duration)
    }

    pub fn number<T: FromStr>(&self, var: &Var, what: &str) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        self.parse(var, |v| {
            v.parse::<T>()
                .map_err(|e| format!("is not a valid {what}: {e}"))
        })
    }

    /// Settings every service shares: port, host name, workers, drain time, bind address.
    pub fn server(&self) -> Result<ServerSettings, ConfigError> {
        let workers = self.number(&vars::WORKERS, "worker count")?;
        if workers == 0 {
            return Err(ConfigError {
                var: vars::WORKERS.name.into(),
                value: "0".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(ServerSettings {
            bind_address: self.number(&vars::BIND_ADDRESS, "IP address")?,
            port: self.number(&vars::PORT, "port")?,
            hostname: self.string(&vars::HOSTNAME),
            workers,
            shutdown_timeout: self.duration(&vars::SHUTDOWN_TIMEOUT)?,
        })
    }
}

/// A lookup that answers from `pairs` (the last pair naming a variable wins), then from `base`: one service's
/// environment in the in-process chain and the tests (`base` is `|_| None` there, or the process environment).
pub fn overlay<B>(pairs: Vec<(String, String)>, base: B) -> impl Fn(&str) -> Option<String> + use<B>
where
    B: Fn(&str) -> Option<String>,
{
    let map: std::collections::HashMap<String, String> = pairs.into_iter().collect();
    move |k: &str| map.get(k).cloned().or_else(|| base(k))
}

/// Where and how a service listens. `port: 0` asks the OS for a free port (tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    pub bind_address: std::net::IpAddr,
    pub port: u16,
    /// Shown in bodies (`from '<host>'`): the pod name in Kubernetes.
    pub hostname: String,
    pub workers: usize,
    pub shutdown_timeout: Duration,
}

/// `500ms`, `3s`, `1m`, `1m30s`, `0s` (humantime syntax). A bare number is refused: the unit must be said.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value)
        .map_err(|e| format!("is not a valid duration ({e}); use a form like 500ms, 3s or 1m"))
}

/// An absolute `http` or `https` URL.
pub fn parse_http_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("is not a valid URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        "http" | "https" => Err("is not a valid URL: it has no host".into()),
        other => Err(format!(
            "is not a valid URL: scheme {other:?} is not http or https"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::new(move |k: &str| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let s = env(&[("PORT", "")]).server().unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.hostname, "unknown");
        assert_eq!(s.workers, 1);
    }

    #[test]
    fn durations_accept_the_contract_forms() {
        for (text, want) in [
            ("500ms", Duration::from_millis(500)),
            ("3s", Duration::from_secs(3)),
            ("1m", Duration::from_secs(60)),
            ("0s", Duration::ZERO),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        assert!(parse_duration("3").is_err(), "a bare number has no unit");
    }

    #[test]
    fn config_error_names_the_bad_variable_and_value() {
        let cases = [
            ("PORT", "eighty", "not a valid port"),
            ("PORT", "70000", "not a valid port"),
            ("WORKERS", "0", "at least 1"),
            ("SHUTDOWN_TIMEOUT", "soon", "not a valid duration"),
            ("BIND_ADDRESS", "localhost", "not a valid IP"),
        ];
        for (var, value, reason) in cases {
            let err = env(&[(var, value)]).server().unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{var}=\"{value}\"")),
                "{var}: {text}"
            );
            assert!(text.contains(reason), "{var}: {text}");
        }
    }

    #[test]
    fn urls_must_be_absolute_http() {
        let e = env(&[("PREFERENCE_URL", "htp:/x")]);
        let err = e.url(&vars::PREFERENCE_URL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PREFERENCE_URL=\"htp:/x\" is not a valid URL: scheme \"htp\" is not http or https"
        );
        assert!(e.url(&vars::RECOMMENDATION_URL).is_ok());
    }
}
