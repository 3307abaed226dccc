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

use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttpCorsPolicy, VirtualServiceHttpCorsPolicyUnmatchedPreflights,
};
use serde_json::{Value, json};

use crate::networking::core::route::duration::parse_duration;

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
pub fn cors_policy(c: &VirtualServiceHttpCorsPolicy) -> Result<Value, String> {
    let forward = !matches!(
        c.unmatched_preflights,
        Some(VirtualServiceHttpCorsPolicyUnmatchedPreflights::Ignore)
    );
    let mut out = json!({
        "@type": CORS_POLICY_TYPE,
        "forward_not_matching_preflights": forward,
        "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
    });
    let origins: Vec<Value> = c
        .allow_origins
        .iter()
        .flatten()
        .filter_map(|o| {
            if let Some(v) = &o.exact {
                Some(json!({"exact": v}))
            } else if let Some(v) = &o.prefix {
                Some(json!({"prefix": v}))
            } else {
                o.regex
                    .as_ref()
                    .map(|v| json!({"safe_regex": {"regex": v}}))
            }
        })
        .collect();
    if c.allow_origins.is_some() {
        out["allow_origin_string_match"] = json!(origins);
    }
    if let Some(b) = c.allow_credentials {
        out["allow_credentials"] = json!(b);
    }
    for (key, list) in [
        ("allow_headers", &c.allow_headers),
        ("allow_methods", &c.allow_methods),
        ("expose_headers", &c.expose_headers),
    ] {
        let joined = list.as_deref().unwrap_or_default().join(",");
        if !joined.is_empty() {
            out[key] = json!(joined);
        }
    }
    if let Some(m) = &c.max_age {
        out["max_age"] = json!(parse_duration(m)?.as_secs().to_string());
    }
    Ok(out)
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
