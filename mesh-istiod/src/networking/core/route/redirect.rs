//! A VirtualService `http[].redirect` → an Envoy redirect action, after istiod's
//! pilot/pkg/networking/core/route/route.go `ApplyRedirect`, and its admission after
//! pkg/config/validation/validation.go `validateHTTPRedirect` and virtualservice.go
//! `validateHTTPRouteConflict` (a rule redirects or routes, never both; no fault or rewrite beside a redirect).
//!
//! `authority` → `host_redirect`; `prefixRewrite` → `prefix_rewrite`, else `uri` → `path_redirect`; `scheme`
//! → `scheme_redirect`; `port` → `port_redirect`, `derivePort: FROM_REQUEST_PORT` → the listener's port
//! (`FROM_PROTOCOL_DEFAULT`: none), and a port the scheme implies (80 for http, 443 for https) left out; the
//! code 301 (default), 302, 303, 307 or 308 as Envoy's `response_code` names them.

use envoy_types::pb::envoy::config::route::v3::RedirectAction;
use envoy_types::pb::envoy::config::route::v3::redirect_action::{
    PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier,
};
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttp, VirtualServiceHttpRedirect, VirtualServiceHttpRedirectDerivePort,
};

/// Envoy's names of the redirect codes it can send.
fn response_code(code: Option<i64>) -> Result<RedirectResponseCode, String> {
    Ok(match code.unwrap_or(301) {
        0 | 301 => RedirectResponseCode::MovedPermanently,
        302 => RedirectResponseCode::Found,
        303 => RedirectResponseCode::SeeOther,
        307 => RedirectResponseCode::TemporaryRedirect,
        308 => RedirectResponseCode::PermanentRedirect,
        c => {
            return Err(format!(
                "redirectCode {c}: Envoy redirects with 301, 302, 303, 307 or 308 only"
            ));
        }
    })
}

/// A string field when given and not empty.
fn given(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

/// `ApplyRedirect` for a route served on `listen_port` (the lab's listeners are plain HTTP).
pub fn redirect_action(
    r: &VirtualServiceHttpRedirect,
    listen_port: u16,
) -> Result<RedirectAction, String> {
    let path = match (given(r.prefix_rewrite.as_deref()), given(r.uri.as_deref())) {
        (Some(p), _) => Some(PathRewriteSpecifier::PrefixRewrite(p.to_owned())),
        (None, Some(u)) => Some(PathRewriteSpecifier::PathRedirect(u.to_owned())),
        (None, None) => None,
    };
    let scheme = given(r.scheme.as_deref());
    let port = match (&r.derive_port, r.port) {
        (Some(VirtualServiceHttpRedirectDerivePort::FromRequestPort), _) => {
            Some(listen_port.into())
        }
        (Some(VirtualServiceHttpRedirectDerivePort::FromProtocolDefault), _) => Some(0),
        (None, Some(p)) => Some(p),
        (None, None) => None,
    };
    let port_redirect = match port {
        Some(p) => {
            let s = scheme.unwrap_or("http");
            let implied = (p == 80 && s == "http") || (p == 443 && s == "https");
            if implied {
                0
            } else {
                u32::try_from(p).map_err(|_| format!("redirect port {p} out of range"))?
            }
        }
        None => 0,
    };
    Ok(RedirectAction {
        host_redirect: given(r.authority.as_deref()).unwrap_or_default().to_owned(),
        path_rewrite_specifier: path,
        scheme_rewrite_specifier: scheme
            .map(|s| SchemeRewriteSpecifier::SchemeRedirect(s.to_owned())),
        port_redirect,
        response_code: response_code(r.redirect_code)?.into(),
        ..RedirectAction::default()
    })
}

/// `validateHTTPRouteConflict` and `validateHTTPRedirect` for rule `http` at `field` (`spec.http.<i>`).
pub fn check_redirect(field: &str, http: &VirtualServiceHttp) -> Result<(), String> {
    let Some(r) = &http.redirect else {
        return Ok(());
    };
    check_beside_redirect(field, http)?;
    check_redirect_fields(field, http, r)
}

/// `validateHTTPRouteConflict`: what a redirecting rule cannot have beside its redirect, and what istiod
/// takes there and then drops.
fn check_beside_redirect(field: &str, http: &VirtualServiceHttp) -> Result<(), String> {
    if !http.route.as_deref().unwrap_or_default().is_empty() {
        return Err(format!(
            "{field}: route and redirect together; a rule either redirects or routes (drop one)"
        ));
    }
    for (other, given) in [
        ("fault", http.fault.is_some()),
        ("rewrite", http.rewrite.is_some()),
    ] {
        if given {
            return Err(format!(
                "{field}: {other} and redirect together; a redirecting rule cannot have {other}"
            ));
        }
    }
    // istiod's validation takes these beside a redirect, and route.go then drops them: a redirecting route
    // has no route action, so nothing is sent upstream to time out, retry or mirror. The lab says so.
    for (other, given) in [
        ("timeout", http.timeout.is_some()),
        ("retries", http.retries.is_some()),
        ("mirror", http.mirror.is_some()),
        ("mirrorPercentage", http.mirror_percentage.is_some()),
        ("mirrorPercent", http.mirror_percent.is_some()),
    ] {
        if given {
            return Err(format!(
                "{field}.{other}: a redirecting rule sends nothing upstream, so istiod drops its {other} \
                 (route.go builds a redirect without a route action); remove {other} or route instead"
            ));
        }
    }
    Ok(())
}

/// `validateHTTPRedirect`: the redirect's own fields.
fn check_redirect_fields(
    field: &str,
    http: &VirtualServiceHttp,
    r: &VirtualServiceHttpRedirect,
) -> Result<(), String> {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if set(&r.uri) && set(&r.prefix_rewrite) {
        return Err(format!(
            "{field}.redirect: give uri or prefixRewrite, not both"
        ));
    }
    if set(&r.prefix_rewrite) {
        let non_prefix = http
            .r#match
            .iter()
            .flatten()
            .any(|m| m.uri.as_ref().is_some_and(|u| u.prefix.is_none()));
        if non_prefix {
            return Err(format!(
                "{field}.redirect.prefixRewrite: every match's uri must be a prefix match"
            ));
        }
    }
    let port_given = r.port.is_some() || r.derive_port.is_some();
    if !(set(&r.uri) || set(&r.prefix_rewrite) || set(&r.authority) || set(&r.scheme) || port_given)
    {
        return Err(format!(
            "{field}.redirect: give uri, prefixRewrite, authority, scheme or port"
        ));
    }
    if let Some(c) = r.redirect_code.filter(|c| *c != 0) {
        if !(300..=399).contains(&c) {
            return Err(format!("{field}.redirect.redirectCode {c}: not a 3xx code"));
        }
        response_code(Some(c)).map_err(|e| format!("{field}.redirect.{e}"))?;
    }
    if let Some(s) = r
        .scheme
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "http" && *s != "https")
    {
        return Err(format!(
            "{field}.redirect.scheme {s:?}: must be http or https"
        ));
    }
    if let Some(p) = r.port.filter(|p| !(1..=65535).contains(p)) {
        return Err(format!("{field}.redirect.port {p}: not a port"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
