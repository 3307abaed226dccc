//! The expectations follow istiod's pilot/pkg/networking/core/route/route.go `TranslateCORSPolicy` and
//! pkg/config/validation/validation.go `validateCORSPolicy`.

use serde_json::json;

use super::{CORS_FILTER, check_cors};
use crate::networking::core::route::tests::{TO_SERVICE, routes_of, rules};

/// The policy rides on the route as the CORS filter's per-route config, next to the fault filter's.
#[test]
fn a_cors_policy_is_the_routes_per_filter_config() {
    let routes = routes_of(&format!(
        "corsPolicy: {{allowOrigins: [{{exact: 'https://a.example.com'}}, {{prefix: 'https://b.'}}, \
         {{regex: 'https://.*\\.c\\.example\\.com'}}], allowMethods: [GET, POST], \
         allowHeaders: [x-token, content-type], exposeHeaders: [x-version], maxAge: 24h, \
         allowCredentials: false}}, fault: {{abort: {{httpStatus: 503, percentage: {{value: 0}}}}}}, {TO_SERVICE}"
    ))
    .unwrap();
    let per_filter = &routes[0]["typed_per_filter_config"];
    assert_eq!(
        per_filter[CORS_FILTER],
        json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy",
            "allow_origin_string_match": [
                {"exact": "https://a.example.com"},
                {"prefix": "https://b."},
                {"safe_regex": {"regex": "https://.*\\.c\\.example\\.com"}},
            ],
            "allow_methods": "GET,POST",
            "allow_headers": "x-token,content-type",
            "expose_headers": "x-version",
            "max_age": "86400",
            "allow_credentials": false,
            "filter_enabled": {"default_value": {"numerator": 100}},
            "forward_not_matching_preflights": true,
        })
    );
    assert!(
        per_filter["envoy.filters.http.fault"].is_object(),
        "{per_filter}"
    );
}

/// `unmatchedPreflights: IGNORE` keeps unmatched preflights from the app; FORWARD (or nothing) forwards them.
#[test]
fn unmatched_preflights_are_forwarded_unless_ignored() {
    for (given, forward) in [("IGNORE", false), ("FORWARD", true), ("UNSPECIFIED", true)] {
        let routes = routes_of(&format!(
            "corsPolicy: {{allowOrigins: [{{exact: x}}], unmatchedPreflights: {given}}}, {TO_SERVICE}"
        ))
        .unwrap();
        let policy = &routes[0]["typed_per_filter_config"][CORS_FILTER];
        assert_eq!(
            policy["forward_not_matching_preflights"], forward,
            "{given}"
        );
        assert!(policy.get("allow_methods").is_none(), "{policy}");
    }
}

#[test]
fn cors_policies_are_checked_like_istiods_validation() {
    let check = |policy: &str| {
        let http = &rules(&format!("  - {{corsPolicy: {policy}, {TO_SERVICE}}}\n"))[0];
        check_cors("c", http.cors_policy.as_ref().unwrap())
    };
    assert_eq!(
        check("{allowOrigins: [{exact: x}], allowMethods: ['*'], allowHeaders: ['*'], maxAge: 1m}"),
        Ok(())
    );
    let refused = [
        (
            "{allowOrigins: [{exact: ''}]}",
            "c.allowOrigins.0: give a non-empty exact, prefix or regex",
        ),
        (
            "{allowMethods: [get]}",
            "c.allowMethods \"get\": not one of [\"GET\", \"HEAD\", \"POST\", \"PUT\", \"PATCH\", \"DELETE\", \"CONNECT\", \"OPTIONS\", \"TRACE\", \"*\"]",
        ),
        (
            "{allowHeaders: ['x token']}",
            "c.allowHeaders \"x token\": not a header name",
        ),
        (
            "{exposeHeaders: ['']}",
            "c.exposeHeaders \"\": not a header name",
        ),
        (
            "{maxAge: 1.5s}",
            "c.maxAge \"1.5s\": whole seconds only (browsers cache preflights by the second)",
        ),
    ];
    for (policy, want) in refused {
        assert_eq!(check(policy), Err(want.to_owned()), "{policy}");
    }
}
