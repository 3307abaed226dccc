//! The faults the stand-in can show instead of a normal answer, as `STANDIN_FAULT` and
//! `POST /_standin/fault?mode=<mode>[&delay=<duration>]` spell them.

use std::{fmt, time::Duration};

use tutorial_common::config::parse_duration;

/// How long `slow` waits unless a delay is given: longer than any caller's timeout, a hung service.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(10);

/// What the stand-in does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Answer normally, after this long (longer than the caller's timeout: a hung service).
    Slow(Duration),
    /// 500 with a short body.
    Error,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 JSON without `currentDateTime` / `datetime`.
    MissingField,
    /// 200 JSON whose time cannot be read.
    BadTime,
}

impl Fault {
    /// `none`, `slow`, `slow:3s`, `error`, `malformed`, `missing-field`, `bad-time`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mode, delay) = match text.split_once(':') {
            Some((m, d)) => (m, Some(d)),
            None => (text, None),
        };
        Self::from_parts(mode, delay)
    }

    pub(crate) fn from_parts(mode: &str, delay: Option<&str>) -> Result<Self, String> {
        let fault = match mode {
            "none" => Self::None,
            "slow" => Self::Slow(match delay {
                Some(d) => parse_duration(d)?,
                None => DEFAULT_SLOW_DELAY,
            }),
            "error" => Self::Error,
            "malformed" => Self::Malformed,
            "missing-field" => Self::MissingField,
            "bad-time" => Self::BadTime,
            other => {
                return Err(format!(
                    "is not a valid fault {other:?}: use none, slow[:<duration>], error, malformed, missing-field or bad-time"
                ));
            }
        };
        if delay.is_some() && !matches!(fault, Self::Slow(_)) {
            return Err(format!(
                "is not a valid fault: only slow takes a delay, not {mode}"
            ));
        }
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Slow(d) => write!(f, "slow:{}", humantime_like(*d)),
            Self::Error => f.write_str("error"),
            Self::Malformed => f.write_str("malformed"),
            Self::MissingField => f.write_str("missing-field"),
            Self::BadTime => f.write_str("bad-time"),
        }
    }
}

fn humantime_like(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_print_back() {
        for text in [
            "none",
            "slow:3s",
            "slow:500ms",
            "error",
            "malformed",
            "missing-field",
            "bad-time",
        ] {
            assert_eq!(Fault::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Fault::parse("slow"), Ok(Fault::Slow(DEFAULT_SLOW_DELAY)));
        assert!(Fault::parse("error:3s").is_err(), "only slow takes a delay");
        assert!(Fault::parse("down").is_err());
    }
}
