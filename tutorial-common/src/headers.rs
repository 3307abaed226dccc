//! Headers propagated to the next hop (`docs/SERVICES.md`, "Headers propagated"): one list, one function that copies them.
//!
//! actix-web 4 speaks `http` 0.2 header types while reqwest speaks `http` 1, so values are copied as bytes.

use std::sync::LazyLock;

use actix_web::http::header::{HeaderMap as IncomingHeaders, HeaderName as IncomingName};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Header customer fills from the caller's `user-agent`; the routing labs match on it.
pub const BAGGAGE_USER_AGENT: &str = "baggage-user-agent";

/// Every header forwarded as-is when present on the incoming request.
pub const PROPAGATED_HEADERS: &[&str] = &[
    // The routing labs' user-agent rules (set by customer from `user-agent`, forwarded after that).
    BAGGAGE_USER_AGENT,
    // The header-based routing lab's explicit preference.
    "user-preference",
    // End-user credentials for the JWT lab; marked sensitive so `Debug` of the outgoing map shows
    // `Sensitive`, and never logged.
    "authorization",
    // Envoy's request id: joins access logs and traces across hops.
    "x-request-id",
    // W3C trace context (replaced by this service's own span when it exports spans).
    "traceparent",
    // W3C vendor-specific trace state, travels with `traceparent`.
    "tracestate",
    // B3 multi-header trace context, Istio's default with Zipkin/Jaeger.
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    // B3 single-header form.
    "b3",
    // Lightstep / OpenTracing span context.
    "x-ot-span-context",
];

/// [`PROPAGATED_HEADERS`] as parsed names on both sides, made once: a lookup by `&str` would parse the name
/// again on every request (docs/BENCHMARKS.md).
static NAMES: LazyLock<Vec<(IncomingName, HeaderName)>> = LazyLock::new(|| {
    PROPAGATED_HEADERS
        .iter()
        .map(|&name| {
            (
                IncomingName::from_static(name),
                HeaderName::from_static(name),
            )
        })
        .collect()
});

/// The headers to send to the next hop for `incoming`.
///
/// With `baggage_from_user_agent` (customer), `baggage-user-agent` is set from the incoming `user-agent`
/// instead of being copied. Values that are not valid header values are dropped, never altered.
pub fn propagate(incoming: &IncomingHeaders, baggage_from_user_agent: bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(4);
    for (in_name, out_name) in NAMES.iter() {
        let source = if baggage_from_user_agent && out_name == BAGGAGE_USER_AGENT {
            &actix_web::http::header::USER_AGENT
        } else {
            in_name
        };
        if let Some(mut value) = incoming
            .get(source)
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
        {
            if *out_name == reqwest::header::AUTHORIZATION {
                value.set_sensitive(true);
            }
            out.insert(out_name.clone(), value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName as InName, HeaderValue as InValue};

    fn incoming(pairs: &[(&'static str, &'static str)]) -> IncomingHeaders {
        let mut map = IncomingHeaders::new();
        for (k, v) in pairs {
            map.insert(InName::from_static(k), InValue::from_static(v));
        }
        map
    }

    #[test]
    fn customer_sets_baggage_from_user_agent() {
        let out = propagate(
            &incoming(&[
                ("user-agent", "Safari/1"),
                ("baggage-user-agent", "ignored"),
            ]),
            true,
        );
        assert_eq!(out.get(BAGGAGE_USER_AGENT).unwrap(), "Safari/1");
    }

    #[test]
    fn preference_forwards_baggage_and_the_rest_as_is() {
        let pairs: Vec<(&'static str, &'static str)> =
            PROPAGATED_HEADERS.iter().map(|h| (*h, "v")).collect();
        let out = propagate(&incoming(&pairs), false);
        assert_eq!(out.len(), PROPAGATED_HEADERS.len());
        assert!(
            out.get("user-agent").is_none(),
            "user-agent itself is not propagated"
        );
    }
}
