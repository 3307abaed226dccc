//! Envoy's string, header and metadata matchers, as Envoy's types, as istiod writes them for RBAC
//! (pilot/pkg/security/authz/matcher: string.go, header.go, metadata.go; the JWT payload's claims as
//! pilot/pkg/security/authz/model/util.go puts them).

use envoy_types::pb::envoy::config::rbac::v3::Principal;
use envoy_types::pb::envoy::config::rbac::v3::principal::Identifier;
use envoy_types::pb::envoy::config::route::v3::HeaderMatcher;
use envoy_types::pb::envoy::config::route::v3::header_matcher::HeaderMatchSpecifier;
use envoy_types::pb::envoy::r#type::matcher::v3::metadata_matcher::{PathSegment, path_segment};
use envoy_types::pb::envoy::r#type::matcher::v3::string_matcher::MatchPattern;
use envoy_types::pb::envoy::r#type::matcher::v3::{
    ListMatcher, MetadataMatcher, OrMatcher, RegexMatcher, StringMatcher, ValueMatcher,
    list_matcher, value_matcher,
};

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

fn string(pattern: MatchPattern) -> StringMatcher {
    StringMatcher {
        ignore_case: false,
        match_pattern: Some(pattern),
    }
}

pub(super) fn regex(r: &str) -> StringMatcher {
    string(MatchPattern::SafeRegex(RegexMatcher {
        regex: r.to_owned(),
        engine_type: None,
    }))
}

pub(super) fn exact(v: &str) -> StringMatcher {
    string(MatchPattern::Exact(v.to_owned()))
}

pub(super) fn prefix(v: &str) -> StringMatcher {
    string(MatchPattern::Prefix(v.to_owned()))
}

pub(super) fn suffix(v: &str) -> StringMatcher {
    string(MatchPattern::Suffix(v.to_owned()))
}

/// string.go `StringMatcherWithPrefix`: `*` → `.+`; `*x` → suffix (or a regex with a prefix); `x*` → prefix.
pub(super) fn string_matcher_with_prefix(v: &str, leading: &str) -> StringMatcher {
    if v == "*" {
        regex(".+")
    } else if let Some(rest) = v.strip_prefix('*') {
        if leading.is_empty() {
            suffix(rest)
        } else {
            regex(&format!("{leading}.*{}", quote_meta(rest)))
        }
    } else if let Some(rest) = v.strip_suffix('*') {
        prefix(&format!("{leading}{rest}"))
    } else {
        exact(&format!("{leading}{v}"))
    }
}

/// header.go `HeaderMatcher` (and `HostMatcher` with `ignore_case`).
pub(super) fn header_matcher(name: &str, v: &str, ignore_case: bool) -> HeaderMatcher {
    let specifier = if v == "*" {
        HeaderMatchSpecifier::PresentMatch(true)
    } else {
        let m = if let Some(rest) = v.strip_prefix('*') {
            suffix(rest)
        } else if let Some(rest) = v.strip_suffix('*') {
            prefix(rest)
        } else {
            exact(v)
        };
        HeaderMatchSpecifier::StringMatch(StringMatcher { ignore_case, ..m })
    };
    HeaderMatcher {
        name: name.to_owned(),
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

fn value(pattern: value_matcher::MatchPattern) -> ValueMatcher {
    ValueMatcher {
        match_pattern: Some(pattern),
    }
}

fn string_value(m: StringMatcher) -> ValueMatcher {
    value(value_matcher::MatchPattern::StringMatch(m))
}

fn or_value(value_matchers: Vec<ValueMatcher>) -> ValueMatcher {
    value(value_matcher::MatchPattern::OrMatch(OrMatcher {
        value_matchers,
    }))
}

/// A principal on the jwt_authn `payload` metadata at `path` (model/util.go
/// `MetadataValueMatcherForJWTClaim`, `MetadataListValueMatcherForJWTClaims`). Envoy's API deprecates the
/// principal's `metadata` for `sourced_metadata`; istiod writes `metadata`, and so does the lab.
#[allow(deprecated)]
fn jwt_payload<'a>(path: impl IntoIterator<Item = &'a str>, value: ValueMatcher) -> Principal {
    let key = |k: &str| PathSegment {
        segment: Some(path_segment::Segment::Key(k.to_owned())),
    };
    let path = std::iter::once(jwt::PAYLOAD_KEY)
        .chain(path)
        .map(key)
        .collect();
    Principal {
        identifier: Some(Identifier::Metadata(MetadataMatcher {
            filter: jwt::JWT_FILTER.to_owned(),
            path,
            value: Some(value),
            invert: false,
        })),
    }
}

/// model/util.go `MetadataStringMatcherForJWTClaim`: the top-level `claim` as a string.
pub(super) fn jwt_claim(claim: &str, m: StringMatcher) -> Principal {
    jwt_payload([claim], string_value(m))
}

/// string.go `StringOrMatcher`: each value's [`string_matcher_with_prefix`], ORed when there are several.
fn string_or_matcher(values: &[String]) -> ValueMatcher {
    let mut or: Vec<ValueMatcher> = values
        .iter()
        .map(|v| string_value(string_matcher_with_prefix(v, "")))
        .collect();
    if or.len() == 1 {
        or.remove(0)
    } else {
        or_value(or)
    }
}

/// model/util.go `MetadataListValueMatcherForJWTClaims` (metadata.go `MetadataListValueMatcher` with
/// `useExtendedJwt`): the jwt_authn `payload` at the claim's `path`, matching the values as a string or
/// any element of a list (`OR{list one_of, value}`), as a principal.
pub(super) fn jwt_claims(path: &[String], values: &[String]) -> Principal {
    let one = string_or_matcher(values);
    let list = value(value_matcher::MatchPattern::ListMatch(Box::new(
        ListMatcher {
            match_pattern: Some(list_matcher::MatchPattern::OneOf(Box::new(one.clone()))),
        },
    )));
    jwt_payload(path.iter().map(String::as_str), or_value(vec![list, one]))
}

#[cfg(test)]
mod tests;
