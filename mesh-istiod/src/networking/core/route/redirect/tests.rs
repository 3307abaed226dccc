//! The expectations follow istiod's pilot/pkg/networking/core/route/route.go `ApplyRedirect` and
//! pkg/config/validation/validation.go `validateHTTPRedirect`, virtualservice.go `validateHTTPRouteConflict`.

use serde_json::json;

use super::check_redirect;
use crate::networking::core::route::tests::{routes_of, rules};

/// A redirecting rule's route: a `redirect` action, no `route` (so no timeout or retry policy).
#[test]
fn a_redirect_rule_gives_envoys_redirect_action() {
    let cases = [
        (
            "{uri: /v1/customer}",
            json!({"path_redirect": "/v1/customer"}),
        ),
        (
            "{uri: /new, authority: new.example.com, redirectCode: 302}",
            json!({"host_redirect": "new.example.com", "path_redirect": "/new", "response_code": "FOUND"}),
        ),
        (
            "{prefixRewrite: /v2, redirectCode: 308}",
            json!({"prefix_rewrite": "/v2", "response_code": "PERMANENT_REDIRECT"}),
        ),
        (
            "{scheme: https, port: 443}",
            json!({"scheme_redirect": "https"}),
        ),
        (
            "{scheme: https, port: 8443, redirectCode: 307}",
            json!({"scheme_redirect": "https", "port_redirect": 8443, "response_code": "TEMPORARY_REDIRECT"}),
        ),
        (
            "{authority: a.example.com, port: 80}",
            json!({"host_redirect": "a.example.com"}),
        ),
        (
            "{authority: a.example.com, port: 9090, redirectCode: 303}",
            json!({"host_redirect": "a.example.com", "port_redirect": 9090, "response_code": "SEE_OTHER"}),
        ),
        // The sidecar's listener port: 8080 (`FROM_REQUEST_PORT` without a proxy reads as the mesh port).
        (
            "{authority: a.example.com, derivePort: FROM_REQUEST_PORT}",
            json!({"host_redirect": "a.example.com", "port_redirect": 8080}),
        ),
        (
            "{authority: a.example.com, derivePort: FROM_PROTOCOL_DEFAULT}",
            json!({"host_redirect": "a.example.com"}),
        ),
    ];
    for (redirect, want) in cases {
        let routes = routes_of(&format!("redirect: {redirect}")).unwrap();
        assert_eq!(
            routes,
            vec![json!({"match": {"prefix": "/"}, "redirect": want})],
            "{redirect}"
        );
    }
}

/// The admission refuses what istiod's validation refuses, and the codes Envoy cannot send.
#[test]
fn redirects_are_checked_like_istiods_validation() {
    let check =
        |fields: &str| check_redirect("spec.http.0", &rules(&format!("  - {{{fields}}}\n"))[0]);
    assert_eq!(check("redirect: {uri: /x}"), Ok(()));
    assert_eq!(
        check("match: [{uri: {prefix: /a}}], redirect: {prefixRewrite: /b}"),
        Ok(())
    );
    let refused = [
        (
            "redirect: {uri: /x}, route: [{destination: {host: recommendation}}]",
            "spec.http.0: route and redirect together; a rule either redirects or routes (drop one)",
        ),
        (
            "redirect: {uri: /x}, fault: {abort: {httpStatus: 500}}",
            "spec.http.0: fault and redirect together; a redirecting rule cannot have fault",
        ),
        (
            "redirect: {uri: /x}, rewrite: {uri: /y}",
            "spec.http.0: rewrite and redirect together; a redirecting rule cannot have rewrite",
        ),
        (
            "redirect: {uri: /x, prefixRewrite: /y}",
            "spec.http.0.redirect: give uri or prefixRewrite, not both",
        ),
        (
            "match: [{uri: {exact: /a}}], redirect: {prefixRewrite: /b}",
            "spec.http.0.redirect.prefixRewrite: every match's uri must be a prefix match",
        ),
        (
            "redirect: {redirectCode: 302}",
            "spec.http.0.redirect: give uri, prefixRewrite, authority, scheme or port",
        ),
        (
            "redirect: {uri: /x, redirectCode: 200}",
            "spec.http.0.redirect.redirectCode 200: not a 3xx code",
        ),
        (
            "redirect: {uri: /x, redirectCode: 304}",
            "spec.http.0.redirect.redirectCode 304: Envoy redirects with 301, 302, 303, 307 or 308 only",
        ),
        (
            "redirect: {uri: /x, scheme: ftp}",
            "spec.http.0.redirect.scheme \"ftp\": must be http or https",
        ),
        (
            "redirect: {uri: /x, port: 70000}",
            "spec.http.0.redirect.port 70000: not a port",
        ),
    ];
    for (fields, want) in refused {
        assert_eq!(check(fields), Err(want.to_owned()), "{fields}");
    }
}
