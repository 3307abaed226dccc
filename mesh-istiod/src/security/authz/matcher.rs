//! Envoy's string, header and metadata matchers as istiod writes them for RBAC
//! (pilot/pkg/security/authz/matcher: string.go, header.go, metadata.go; the JWT payload's claims as
//! pilot/pkg/security/authz/model/util.go puts them).

use serde_json::{Value, json};

use crate::security::authn::jwt;

/// Go's `regexp.QuoteMeta` (escapes exactly `\.+*?()|[]{}^$`).
pub(super) fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn regex(r: &str) -> Value {
    json!({"safe_regex": {"regex": r}})
}

fn with_case(mut m: Value, ignore_case: bool) -> Value {
    if ignore_case {
        m["ignore_case"] = json!(true);
    }
    m
}

/// string.go `StringMatcherWithPrefix`: `*` → `.+`; `*x` → suffix (or a regex with a prefix); `x*` → prefix.
pub(super) fn string_matcher_with_prefix(v: &str, prefix: &str) -> Value {
    if v == "*" {
        regex(".+")
    } else if let Some(rest) = v.strip_prefix('*') {
        if prefix.is_empty() {
            json!({"suffix": rest})
        } else {
            regex(&format!("{prefix}.*{}", quote_meta(rest)))
        }
    } else if let Some(rest) = v.strip_suffix('*') {
        json!({"prefix": format!("{prefix}{rest}")})
    } else {
        json!({"exact": format!("{prefix}{v}")})
    }
}

/// header.go `HeaderMatcher` (and `HostMatcher` with `ignore_case`).
pub(super) fn header_matcher(name: &str, v: &str, ignore_case: bool) -> Value {
    if v == "*" {
        return json!({"name": name, "present_match": true});
    }
    let m = if let Some(rest) = v.strip_prefix('*') {
        json!({"suffix": rest})
    } else if let Some(rest) = v.strip_suffix('*') {
        json!({"prefix": rest})
    } else {
        json!({"exact": v})
    };
    json!({"name": name, "string_match": with_case(m, ignore_case)})
}

pub(super) fn exact(v: &str) -> Value {
    json!({"exact": v})
}

/// A principal on the jwt_authn `payload` metadata at `path` (model/util.go
/// `MetadataValueMatcherForJWTClaim`, `MetadataListValueMatcherForJWTClaims`).
fn jwt_payload<'a>(path: impl IntoIterator<Item = &'a str>, value: Value) -> Value {
    let keys: Vec<Value> = std::iter::once(jwt::PAYLOAD_KEY)
        .chain(path)
        .map(|k| json!({"key": k}))
        .collect();
    json!({"metadata": {"filter": jwt::JWT_FILTER, "path": keys, "value": value}})
}

/// model/util.go `MetadataStringMatcherForJWTClaim`: the top-level `claim` as a string.
pub(super) fn jwt_claim(claim: &str, m: Value) -> Value {
    jwt_payload([claim], json!({"string_match": m}))
}

/// string.go `StringOrMatcher`: each value's [`string_matcher_with_prefix`], ORed when there are several.
fn string_or_matcher(values: &[String]) -> Value {
    let mut or: Vec<Value> = values
        .iter()
        .map(|v| json!({"string_match": string_matcher_with_prefix(v, "")}))
        .collect();
    if or.len() == 1 {
        or.remove(0)
    } else {
        json!({"or_match": {"value_matchers": or}})
    }
}

/// model/util.go `MetadataListValueMatcherForJWTClaims` (metadata.go `MetadataListValueMatcher` with
/// `useExtendedJwt`): the jwt_authn `payload` at the claim's `path`, matching the values as a string or
/// any element of a list (`OR{list one_of, value}`), as a principal.
pub(super) fn jwt_claims(path: &[String], values: &[String]) -> Value {
    let value = string_or_matcher(values);
    jwt_payload(
        path.iter().map(String::as_str),
        json!({"or_match": {"value_matchers": [{"list_match": {"one_of": value}}, value]}}),
    )
}

#[cfg(test)]
mod tests;
