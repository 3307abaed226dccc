//! Envoy's string, header and metadata matchers as istiod writes them for RBAC
//! (pilot/pkg/security/authz/matcher: string.go, header.go, metadata.go).

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

pub(super) fn jwt_claim(claim: &str, m: Value) -> Value {
    json!({"metadata": {
        "filter": jwt::JWT_FILTER,
        "path": [{"key": jwt::PAYLOAD_KEY}, {"key": claim}],
        "value": {"string_match": m}
    }})
}

#[cfg(test)]
mod tests;
