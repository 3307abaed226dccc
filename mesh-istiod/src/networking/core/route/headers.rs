//! A VirtualService's header operations (`http[].headers` and `http[].route[].headers`), after istiod's
//! pilot/pkg/networking/core/route/route.go `TranslateHeadersOperations` / `translateAppendHeaders`, and
//! their admission after pkg/config/validation/virtualservice.go `validateHTTPRoute`,
//! `validateAuthorityRewrite` and validation.go `ValidateHTTPHeaderWithAuthorityOperationName`,
//! `ValidateHTTPHeaderOperationName`, `ValidateHTTPHeaderValue` (header_value_validator.go).
//!
//! `set` entries become `OVERWRITE_IF_EXISTS_OR_ADD`, `add` entries `APPEND_IF_EXISTS_OR_ADD`, each group
//! sorted by name, the `set` group first; `host` and `:`-prefixed names are dropped from the lists, a
//! request `host`/`:authority` value becoming the route's authority (the one in `set` wins over `add`).

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::config::route::v3::Route;
use envoy_types::pb::envoy::config::route::v3::weighted_cluster::ClusterWeight;
use mesh_manifests::kcr_networking_istio_io::v1::virtualservices::{
    VirtualServiceHttpHeaders, VirtualServiceHttpRouteHeaders,
};

/// What one `headers` block asks of Envoy: the four lists of a route (or weighted cluster) and the
/// authority a request `host`/`:authority` entry sets.
#[derive(Debug, Default, PartialEq)]
pub struct HeaderOps {
    pub request_add: Vec<HeaderValueOption>,
    pub response_add: Vec<HeaderValueOption>,
    pub request_remove: Vec<String>,
    pub response_remove: Vec<String>,
    pub authority: Option<String>,
}

/// Request headers to add, to remove; response headers to add, to remove.
pub type Lists<'a> = (
    &'a mut Vec<HeaderValueOption>,
    &'a mut Vec<String>,
    &'a mut Vec<HeaderValueOption>,
    &'a mut Vec<String>,
);

/// Envoy's resources that carry header lists: a route and a weighted cluster.
pub trait HeaderLists {
    fn lists(&mut self) -> Lists<'_>;
}

impl HeaderLists for Route {
    fn lists(&mut self) -> Lists<'_> {
        (
            &mut self.request_headers_to_add,
            &mut self.request_headers_to_remove,
            &mut self.response_headers_to_add,
            &mut self.response_headers_to_remove,
        )
    }
}

impl HeaderLists for ClusterWeight {
    fn lists(&mut self) -> Lists<'_> {
        (
            &mut self.request_headers_to_add,
            &mut self.request_headers_to_remove,
            &mut self.response_headers_to_add,
            &mut self.response_headers_to_remove,
        )
    }
}

impl HeaderOps {
    /// Appends the lists to `out`'s (a route or a weighted cluster), after any already there.
    pub fn apply(&self, out: &mut impl HeaderLists) {
        let (request_add, request_remove, response_add, response_remove) = out.lists();
        request_add.extend(self.request_add.iter().cloned());
        request_remove.extend(self.request_remove.iter().cloned());
        response_add.extend(self.response_add.iter().cloned());
        response_remove.extend(self.response_remove.iter().cloned());
    }
}

/// `isInternalHeader`: `:`-prefixed or `host`, which Envoy's header lists cannot change.
fn is_internal(name: &str) -> bool {
    name.starts_with(':') || name.eq_ignore_ascii_case("host")
}

/// `isAuthorityHeader`.
fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

/// `translateAppendHeaders`: the options (sorted by name) and the authority among them.
fn append_headers(
    headers: Option<&BTreeMap<String, String>>,
    append: bool,
) -> (Vec<HeaderValueOption>, Option<String>) {
    let action = if append {
        HeaderAppendAction::AppendIfExistsOrAdd
    } else {
        HeaderAppendAction::OverwriteIfExistsOrAdd
    };
    let mut authority = None;
    let mut out = Vec::new();
    for (key, value) in headers.into_iter().flatten() {
        if is_authority(key) {
            authority = Some(value.clone());
        }
        if !is_internal(key) {
            out.push(HeaderValueOption {
                header: Some(HeaderValue {
                    key: key.clone(),
                    value: value.clone(),
                    ..HeaderValue::default()
                }),
                append_action: action.into(),
                ..HeaderValueOption::default()
            });
        }
    }
    (out, authority)
}

fn drop_internal(names: Option<&Vec<String>>) -> Vec<String> {
    names
        .into_iter()
        .flatten()
        .filter(|n| !is_internal(n))
        .cloned()
        .collect()
}

/// `TranslateHeadersOperations`.
pub fn header_ops(h: &VirtualServiceHttpHeaders) -> HeaderOps {
    let (req, resp) = (h.request.as_ref(), h.response.as_ref());
    let (mut request_add, set_authority) = append_headers(req.and_then(|r| r.set.as_ref()), false);
    let (req_add, add_authority) = append_headers(req.and_then(|r| r.add.as_ref()), true);
    request_add.extend(req_add);
    let (mut response_add, _) = append_headers(resp.and_then(|r| r.set.as_ref()), false);
    response_add.extend(append_headers(resp.and_then(|r| r.add.as_ref()), true).0);
    HeaderOps {
        request_add,
        response_add,
        request_remove: drop_internal(req.and_then(|r| r.remove.as_ref())),
        response_remove: drop_internal(resp.and_then(|r| r.remove.as_ref())),
        authority: set_authority.or(add_authority),
    }
}

/// A destination's `headers` read as a rule's (the two types carry the same fields).
pub fn of_destination(h: &VirtualServiceHttpRouteHeaders) -> VirtualServiceHttpHeaders {
    serde_json::to_value(h)
        .and_then(serde_json::from_value)
        .unwrap_or_default()
}

/// `ValidateHTTPHeaderValue`: no control characters, and `%` either doubled (a literal `%`) or opening an
/// Envoy `%VARIABLE%` that is closed again.
fn check_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c != '\t' && c.is_control()) {
        return Err(format!("header value {value:?} has a control character"));
    }
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        let tail = &rest[at + 1..];
        if let Some(after) = tail.strip_prefix('%') {
            rest = after;
            continue;
        }
        match tail.find('%') {
            Some(end) => rest = &tail[end + 1..],
            None => {
                return Err(format!(
                    "header value {value:?} has an un-escaped %: write %% for a literal %"
                ));
            }
        }
    }
    Ok(())
}

/// `ValidateHTTPHeaderOperationName` (`with_authority`: `ValidateHTTPHeaderWithAuthorityOperationName`,
/// for request `set`/`add`, where `host`/`:authority` set the authority).
fn check_name(name: &str, with_authority: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("a header name cannot be empty".into());
    }
    if with_authority && is_authority(name) {
        return Ok(());
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!(
            "header {name:?}: the Host header cannot be changed here"
        ));
    }
    if name.starts_with(':') {
        return Err(format!(
            "header {name:?}: a header name cannot start with ':'"
        ));
    }
    Ok(())
}

/// The admission of one `headers` block at `field` (e.g. `spec.http.0.headers`), with
/// `validateAuthorityRewrite`'s rule that the authority is set in one place only (`rewrite_authority`
/// counts as one).
pub fn check_headers(
    field: &str,
    h: &VirtualServiceHttpHeaders,
    rewrite_authority: Option<&str>,
) -> Result<(), String> {
    let mut authority = rewrite_authority.map(str::to_owned);
    for (side, ops) in [
        (
            "request",
            h.request.as_ref().map(|r| (&r.set, &r.add, &r.remove)),
        ),
        (
            "response",
            h.response.as_ref().map(|r| (&r.set, &r.add, &r.remove)),
        ),
    ] {
        let Some((set, add, remove)) = ops else {
            continue;
        };
        for (verb, map) in [("set", set), ("add", add)] {
            for (name, value) in map.iter().flatten() {
                let at = format!("{field}.{side}.{verb}");
                check_name(name, side == "request").map_err(|e| format!("{at}: {e}"))?;
                check_value(value).map_err(|e| format!("{at}.{name}: {e}"))?;
                if side == "request" && is_authority(name) {
                    if let Some(have) = &authority {
                        return Err(format!(
                            "{at}.{name}: the authority is already set to {have:?}; set it in one place only"
                        ));
                    }
                    authority = Some(value.clone());
                }
            }
        }
        for name in remove.iter().flatten() {
            check_name(name, false).map_err(|e| format!("{field}.{side}.remove: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
