//! The tutorial's error chain in one type: which failure maps to which status, and the one-line bodies.
//!
//! customer and preference answer **503** when their next hop answered non-2xx
//! (`customer => Error: 503 - <next hop's body>`) or could not be reached (`customer => <reason>`);
//! recommendation answers **503** while misbehaving and **500** when the v3 time lookup fails.
//! A next hop's body is embedded through [`embed`]: trailing whitespace trimmed, control characters replaced,
//! at most [`MAX_EMBEDDED_BODY`] bytes.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

/// Bytes of a next hop's body kept when it is embedded in a reply; longer bodies end with [`TRUNCATED`].
pub const MAX_EMBEDDED_BODY: usize = 4096;
/// Marker that ends a body cut at [`MAX_EMBEDDED_BODY`] bytes.
pub const TRUNCATED: &str = "[truncated]";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The next hop answered, with a non-2xx status; `caller` is the service answering now.
    #[error("{caller} => Error: {status} - {body}")]
    NextHopAnswered {
        caller: &'static str,
        status: u16,
        body: String,
    },
    /// The next hop could not be reached or did not answer in time.
    #[error("{caller} => {reason}")]
    NextHopUnreachable {
        caller: &'static str,
        reason: String,
    },
    /// recommendation after `GET /misbehave`.
    #[error("recommendation misbehavior from '{host}'")]
    Misbehaving { host: String },
    /// recommendation v3 could not get the time from `url`; `what` says what went wrong.
    #[error("time lookup {url} failed: {what}")]
    TimeLookupFailed { url: String, what: String },
}

impl ResponseError for ChainError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NextHopAnswered { .. }
            | Self::NextHopUnreachable { .. }
            | Self::Misbehaving { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TimeLookupFailed { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        crate::reply::text(self.status_code(), format!("{self}\n"))
    }
}

/// Makes a next hop's body fit on the caller's one line: lossy UTF-8, trailing whitespace trimmed, other control
/// characters (CR, LF, tabs, escapes) replaced by a space, cut at [`MAX_EMBEDDED_BODY`] bytes.
pub fn embed(raw: &[u8]) -> String {
    let cut = raw.len() > MAX_EMBEDDED_BODY;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(MAX_EMBEDDED_BODY)]);
    let mut text: &str = text.as_ref();
    if cut {
        // The cut may have split a character; drop the replacement character it left.
        text = text.trim_end_matches('\u{FFFD}');
    }
    let mut out: String = text
        .trim_end()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cut {
        out.push_str(TRUNCATED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_the_tutorial_format() {
        let cases = [
            (
                ChainError::NextHopAnswered {
                    caller: "customer",
                    status: 503,
                    body: "preference => x".into(),
                },
                503,
                "customer => Error: 503 - preference => x",
            ),
            (
                ChainError::NextHopUnreachable {
                    caller: "customer",
                    reason: "connection refused: http://preference:8080/".into(),
                },
                503,
                "customer => connection refused: http://preference:8080/",
            ),
            (
                ChainError::Misbehaving {
                    host: "rec-1".into(),
                },
                503,
                "recommendation misbehavior from 'rec-1'",
            ),
            (
                ChainError::TimeLookupFailed {
                    url: "http://time/".into(),
                    what: "connection refused".into(),
                },
                500,
                "time lookup http://time/ failed: connection refused",
            ),
        ];
        for (err, status, body) in cases {
            assert_eq!(err.status_code().as_u16(), status, "{body}");
            assert_eq!(err.to_string(), body);
        }
    }

    #[test]
    fn embed_trims_and_keeps_one_line() {
        assert_eq!(embed(b"a\n\n  "), "a");
        assert_eq!(embed(b"a\r\nb\tc\x1b[31m"), "a  b c [31m");
        assert_eq!(embed(&[0xff, b'x']), "\u{FFFD}x");
    }

    #[test]
    fn embed_caps_huge_bodies() {
        let huge = "é".repeat(MAX_EMBEDDED_BODY);
        let out = embed(huge.as_bytes());
        assert!(out.ends_with(TRUNCATED));
        assert!(out.len() <= MAX_EMBEDDED_BODY + TRUNCATED.len());
        assert!(
            !out.contains('\u{FFFD}'),
            "no half character left at the cut"
        );
    }
}
