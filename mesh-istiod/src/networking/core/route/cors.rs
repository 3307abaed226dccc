//! A VirtualService `http[].corsPolicy` → the CORS filter's per-route policy, after istiod's
//! pilot/pkg/networking/core/route/route.go `TranslateCORSPolicy` / `forwardNotMatchingPreflights` (origins
//! through pilot/pkg/networking/util/util.go `ConvertToEnvoyMatch`), and its admission after
//! pkg/config/validation/validation.go `validateCORSPolicy`, `validateAllowOrigins`, `validateCORSHTTPMethod`,
//! `ValidateCORSHTTPHeaderName`. The filter itself sits in every HTTP connection manager after the fault
//! filter (pilot/pkg/networking/core/listener_builder.go: `xdsfilters.Fault, xdsfilters.Cors`).
//!
//! Origins exact/prefix/regex in order; methods, allowed and exposed headers joined with `,`; `maxAge` in whole
//! seconds; `allowCredentials` only when given; the filter enabled for every request; preflights no origin
//! matches forwarded to the app unless `unmatchedPreflights: IGNORE`.

use envoy_types::pb::envoy::config::core::v3::RuntimeFractionalPercent;
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::CorsPolicy;
use envoy_types::pb::envoy::r#type::v3::FractionalPercent;
use envoy_types::pb::envoy::r#type::v3::fractional_percent::DenominatorType;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttpCorsPolicy, VirtualServiceHttpCorsPolicyUnmatchedPreflights,
};

use crate::networking::core::route::duration::parse_duration;
use crate::networking::core::route::{bool_value, string_match};

/// The CORS filter's name, in a listener's filter chain and in a route's per-filter config.
pub const CORS_FILTER: &str = "envoy.filters.http.cors";
/// The type of the CORS filter in a filter chain.
pub const CORS_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors";
/// The type of its per-route policy.
pub const CORS_POLICY_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

/// validation.go `supportedCORSMethods`.
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*",
];

/// `TranslateCORSPolicy`.
pub fn cors_policy(c: &VirtualServiceHttpCorsPolicy) -> Result<CorsPolicy, String> {
    let forward = !matches!(
        c.unmatched_preflights,
        Some(VirtualServiceHttpCorsPolicyUnmatchedPreflights::Ignore)
    );
    let joined = |list: &Option<Vec<String>>| list.as_deref().unwrap_or_default().join(",");
    let max_age = match &c.max_age {
        Some(m) => parse_duration(m)?.as_secs().to_string(),
        None => String::new(),
    };
    Ok(CorsPolicy {
        forward_not_matching_preflights: bool_value(forward),
        filter_enabled: Some(RuntimeFractionalPercent {
            default_value: Some(FractionalPercent {
                numerator: 100,
                denominator: DenominatorType::Hundred.into(),
            }),
            ..RuntimeFractionalPercent::default()
        }),
        allow_origin_string_match: c
            .allow_origins
            .iter()
            .flatten()
            .filter_map(|o| string_match(o.exact.as_ref(), o.prefix.as_ref(), o.regex.as_ref()))
            .collect(),
        allow_credentials: c.allow_credentials.and_then(bool_value),
        allow_headers: joined(&c.allow_headers),
        allow_methods: joined(&c.allow_methods),
        expose_headers: joined(&c.expose_headers),
        max_age,
        ..CorsPolicy::default()
    })
}

/// A header name as RFC 7230 `token` (validation.go `validHeaderNameRegex`).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `validateCORSPolicy` for the policy at `field` (`spec.http.<i>.corsPolicy`).
pub fn check_cors(field: &str, c: &VirtualServiceHttpCorsPolicy) -> Result<(), String> {
    for (i, o) in c.allow_origins.iter().flatten().enumerate() {
        let at = format!("{field}.allowOrigins.{i}");
        let given = [&o.exact, &o.prefix, &o.regex];
        if given.iter().all(|v| v.as_deref().unwrap_or("").is_empty()) {
            return Err(format!("{at}: give a non-empty exact, prefix or regex"));
        }
    }
    for m in c.allow_methods.iter().flatten() {
        if !METHODS.contains(&m.as_str()) {
            return Err(format!(
                "{field}.allowMethods {m:?}: not one of {METHODS:?}"
            ));
        }
    }
    for (key, list) in [
        ("allowHeaders", &c.allow_headers),
        ("exposeHeaders", &c.expose_headers),
    ] {
        for h in list.iter().flatten() {
            if h != "*" && !is_token(h) {
                return Err(format!("{field}.{key} {h:?}: not a header name"));
            }
        }
    }
    if let Some(m) = &c.max_age {
        let d = parse_duration(m).map_err(|e| format!("{field}.maxAge: {e}"))?;
        if d.subsec_nanos() != 0 {
            return Err(format!(
                "{field}.maxAge {m:?}: whole seconds only (browsers cache preflights by the second)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
