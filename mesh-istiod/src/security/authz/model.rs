//! An AuthorizationPolicy rule → one RBAC policy of principals and permissions (Envoy's `Policy`,
//! `Principal` and `Permission` types), and the check of what the lab translates.
//!
//! Read from istiod's source:
//! - a rule's principals and permissions, their order and the and/or/not nesting:
//!   pilot/pkg/security/authz/model/model.go `New`, `Generate`, `rule.principal`, `rule.permission`;
//! - each field's matcher: pilot/pkg/security/authz/model/generator.go (principals →
//!   `authenticated.principal_name` with the `spiffe://` prefix, namespaces → a regex, requestPrincipals →
//!   jwt_authn `payload` iss/sub metadata, paths → `url_path`, methods → `:method`, `request.headers[…]` →
//!   a header), with the matchers of `matcher` for `*` prefix/suffix forms;
//! - the `when` keys: model.go `New`, pilot/pkg/security/authz/model/util.go `extractNameInBrackets`,
//!   `extractNameInNestedBrackets` (`request.auth.claims[a][b]`);
//! - `request.auth.claims[…]`: generator.go `requestClaimGenerator` (an extended generator: all values
//!   at once), util.go `MetadataListValueMatcherForJWTClaims`: the jwt_authn `payload` metadata at the
//!   claim's path, matching a string claim or any element of a list claim;
//! - sidecars match the mTLS peer by `authenticated` (`UseFilterState` off: listener_builder.go);
//! - the trust domain is [`TRUST_DOMAIN`](crate::model::identity::TRUST_DOMAIN) with no aliases, so
//!   pilot/pkg/security/trustdomain `ReplaceTrustDomainAliases` leaves every principal as written.

use envoy_types::pb::envoy::config::rbac::v3::permission::{self, Rule};
use envoy_types::pb::envoy::config::rbac::v3::principal::{self, Identifier};
use envoy_types::pb::envoy::config::rbac::v3::{Permission, Policy, Principal};
use envoy_types::pb::envoy::r#type::matcher::v3::{PathMatcher, StringMatcher, path_matcher};
use kcr_security_istio_io::v1::authorizationpolicies::{
    AuthorizationPolicy, AuthorizationPolicyAction, AuthorizationPolicyRules,
    AuthorizationPolicyRulesFromSource,
};
use mesh_manifests::kcr_security_istio_io;

use super::matcher::{
    exact, header_matcher, jwt_claim, jwt_claims, prefix, quote_meta, regex,
    string_matcher_with_prefix, suffix,
};
use crate::model::identity::SPIFFE_URI_PREFIX;
use crate::model::policy::{self, refuse};

const DRY_RUN: &str = "istio.io/dry-run";
/// model.go `attrRequestClaims`.
const CLAIMS: &str = "request.auth.claims";

/// `security.ContainsPathTemplate`: `{*}` or `{**}`.
fn is_path_template(p: &str) -> bool {
    p.contains("{*}") || p.contains("{**}")
}

/// The `when` keys the lab translates (model.go `New`), the rest refused by name.
#[derive(Clone, Debug, PartialEq)]
enum WhenKey {
    Header(String),
    SourcePrincipal,
    SourceNamespace,
    RequestPrincipal,
    /// `request.auth.claims[a][b]…`: the claim's path in the token's payload.
    Claim(Vec<String>),
}

/// The API's check of a bracketed key (pkg/config/security/security.go `validateMapKey`): `a[b]`, a
/// name of at least one character.
fn validate_map_key(key: &str) -> Result<(), String> {
    match key.find('[') {
        Some(open) if key.ends_with(']') && open > 0 && open + 2 < key.len() => Ok(()),
        _ => Err(format!("bad key ({key}): should have format a[b]")),
    }
}

/// util.go `extractNameInBrackets`: `[NAME]` → `NAME`.
fn name_in_brackets(s: &str) -> Result<String, String> {
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(name) => Ok(name.to_owned()),
        None => Err(format!("expecting format [<NAME>], but found {s}")),
    }
}

/// util.go `extractNameInNestedBrackets`: `[a][b]` → `[a, b]`; a text that is not a run of `[…]`
/// falls back to [`name_in_brackets`] of the whole (`[a[b]` → `a[b`).
fn names_in_nested_brackets(s: &str) -> Result<Vec<String>, String> {
    let end_bracket = |begin: usize| -> Option<usize> {
        if s.as_bytes().get(begin) != Some(&b'[') {
            return None;
        }
        let rest = &s.as_bytes()[begin + 1..];
        let end = rest.iter().position(|&c| c == b'[' || c == b']')?;
        (rest[end] == b']').then_some(begin + 1 + end)
    };
    let mut names = Vec::new();
    let mut begin = 0;
    while begin < s.len() {
        let Some(end) = end_bracket(begin) else {
            return Ok(vec![name_in_brackets(s)?]);
        };
        names.push(s[begin + 1..end].to_owned());
        begin = end + 1;
    }
    Ok(names)
}

fn when_key(key: &str) -> Result<WhenKey, String> {
    match key {
        "source.principal" => Ok(WhenKey::SourcePrincipal),
        "source.namespace" => Ok(WhenKey::SourceNamespace),
        "request.auth.principal" => Ok(WhenKey::RequestPrincipal),
        k if k.starts_with(CLAIMS) => {
            validate_map_key(k)?;
            names_in_nested_brackets(&k[CLAIMS.len()..]).map(WhenKey::Claim)
        }
        k if k.starts_with("request.headers") => {
            // util.go extractNameInBrackets
            let rest = &k["request.headers".len()..];
            match rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                Some(name) if !name.is_empty() => Ok(WhenKey::Header(name.to_owned())),
                _ => Err(format!("expecting request.headers[<NAME>], found {k:?}")),
            }
        }
        k => Err(format!(
            "key {k:?} is not supported by the local mesh (it translates request.headers[NAME], source.principal, \
             source.namespace, request.auth.principal and request.auth.claims[NAME]; the lab's peers have no \
             real addresses or ports); remove it or run this step on a cluster"
        )),
    }
}

/// Checks an AuthorizationPolicy against what [`rbac_filters`] translates; the error names the field.
pub fn check_authorization_policy(ap: &AuthorizationPolicy) -> Result<(), String> {
    policy::check_namespace(ap.metadata.namespace.as_deref())?;
    if ap
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(DRY_RUN))
    {
        return Err(refuse(
            &format!("metadata.annotations.{DRY_RUN}"),
            "dry-run policies only feed shadow statistics, which the lab does not show",
        ));
    }
    let spec = &ap.spec;
    if spec.action == Some(AuthorizationPolicyAction::Custom) {
        return Err(
            "spec.action CUSTOM is not supported by the local mesh (it delegates to an external authorizer, \
             an ext_authz extension provider the lab does not run); use ALLOW, DENY or AUDIT or run this step on a cluster"
                .into(),
        );
    }
    if spec.provider.is_some() {
        return Err(refuse("spec.provider", "it belongs to the CUSTOM action"));
    }
    policy::check_no_targets(&spec.target_ref, &spec.target_refs)?;
    for (i, rule) in spec.rules.iter().flatten().enumerate() {
        check_rule(i, rule)?;
    }
    Ok(())
}

fn check_rule(i: usize, rule: &AuthorizationPolicyRules) -> Result<(), String> {
    const NO_ADDRESSES: &str =
        "every peer of the local mesh is 127.0.0.1, so addresses identify no workload";
    for (j, from) in rule.from.iter().flatten().enumerate() {
        let Some(s) = &from.source else { continue };
        let at = |f: &str| format!("spec.rules.{i}.from.{j}.source.{f}");
        for (field, set) in [
            ("ipBlocks", &s.ip_blocks),
            ("notIpBlocks", &s.not_ip_blocks),
            ("remoteIpBlocks", &s.remote_ip_blocks),
            ("notRemoteIpBlocks", &s.not_remote_ip_blocks),
        ] {
            if set.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(refuse(&at(field), NO_ADDRESSES));
            }
        }
    }
    for (j, to) in rule.to.iter().flatten().enumerate() {
        let Some(o) = &to.operation else { continue };
        let at = |f: &str| format!("spec.rules.{i}.to.{j}.operation.{f}");
        for (field, set) in [("ports", &o.ports), ("notPorts", &o.not_ports)] {
            if set.as_ref().is_some_and(|v| !v.is_empty()) {
                return Err(refuse(
                    &at(field),
                    "the lab's inbound listeners are on ephemeral loopback ports, not the pod's port",
                ));
            }
        }
        for (field, set) in [("paths", &o.paths), ("notPaths", &o.not_paths)] {
            if let Some(p) = set.iter().flatten().find(|p| is_path_template(p)) {
                return Err(refuse(
                    &at(field),
                    &format!(
                        "path template {p:?}: the lab translates exact, prefix* and *suffix paths"
                    ),
                ));
            }
        }
    }
    for (j, when) in rule.when.iter().flatten().enumerate() {
        when_key(&when.key).map_err(|e| format!("field spec.rules.{i}.when.{j}.key: {e}"))?;
        if when.values.as_deref().unwrap_or_default().is_empty()
            && when.not_values.as_deref().unwrap_or_default().is_empty()
        {
            return Err(format!(
                "spec.rules.{i}.when.{j}: at least one of values or notValues must be set"
            ));
        }
    }
    Ok(())
}

// ---- Envoy's principal and permission sets ----

fn principal(identifier: Identifier) -> Principal {
    Principal {
        identifier: Some(identifier),
    }
}

fn permission(rule: Rule) -> Permission {
    Permission { rule: Some(rule) }
}

/// The principal every peer matches.
pub(super) fn any_id() -> Principal {
    principal(Identifier::Any(true))
}

/// The permission every request matches.
pub(super) fn any_rule() -> Permission {
    permission(Rule::Any(true))
}

pub(super) fn not_id(p: Principal) -> Principal {
    principal(Identifier::NotId(Box::new(p)))
}

pub(super) fn not_rule(p: Permission) -> Permission {
    permission(Rule::NotRule(Box::new(p)))
}

fn and_ids(ids: Vec<Principal>) -> Principal {
    principal(Identifier::AndIds(principal::Set { ids }))
}

fn or_ids(ids: Vec<Principal>) -> Principal {
    principal(Identifier::OrIds(principal::Set { ids }))
}

fn and_rules(rules: Vec<Permission>) -> Permission {
    permission(Rule::AndRules(permission::Set { rules }))
}

fn or_rules(rules: Vec<Permission>) -> Permission {
    permission(Rule::OrRules(permission::Set { rules }))
}

fn authenticated(m: StringMatcher) -> Principal {
    principal(Identifier::Authenticated(principal::Authenticated {
        principal_name: Some(m),
    }))
}

// ---- generators (model/generator.go) ----

#[derive(Clone, Debug)]
enum Gen {
    /// `principals`, `source.principal`: the peer's SPIFFE id.
    Principal,
    /// `namespaces`, `source.namespace`.
    Namespace,
    /// `serviceAccounts` (`<sa>` or `<ns>/<sa>`), in the policy's namespace by default.
    ServiceAccount,
    /// `trustDomains`.
    TrustDomain,
    /// `requestPrincipals`, `request.auth.principal` (an extended generator: all values at once).
    RequestPrincipal,
    /// `request.headers[NAME]`.
    Header(String),
    /// `request.auth.claims[…]` (an extended generator: all values at once).
    Claim(Vec<String>),
    Host,
    Method,
    Path,
}

impl Gen {
    fn principal(&self, v: &str) -> Principal {
        match self {
            Gen::Principal => authenticated(string_matcher_with_prefix(v, SPIFFE_URI_PREFIX)),
            Gen::Namespace => {
                let ns: Vec<String> = v.split('*').map(quote_meta).collect();
                authenticated(regex(&format!(".*/ns/{}/.*", ns.join(".*"))))
            }
            Gen::ServiceAccount => {
                let (ns, sa) = v
                    .split_once('/')
                    .unwrap_or((crate::model::registry::NAMESPACE, v));
                authenticated(regex(&format!(
                    "{SPIFFE_URI_PREFIX}.+/ns/{}/(.+/|)sa/{}(/.+)?",
                    quote_meta(ns),
                    quote_meta(sa)
                )))
            }
            Gen::TrustDomain => authenticated(if v == "*" {
                prefix(SPIFFE_URI_PREFIX)
            } else if !v.contains('*') {
                prefix(&format!("{SPIFFE_URI_PREFIX}{v}/"))
            } else {
                let (a, b) = v.split_once('*').unwrap_or((v, ""));
                regex(&format!(
                    "{SPIFFE_URI_PREFIX}{}[^/]*{}/.*",
                    quote_meta(a),
                    quote_meta(b)
                ))
            }),
            Gen::Header(name) => principal(Identifier::Header(header_matcher(name, v, false))),
            Gen::RequestPrincipal | Gen::Claim(_) | Gen::Host | Gen::Method | Gen::Path => {
                unreachable!("not a principal generator")
            }
        }
    }

    fn permission(&self, v: &str) -> Permission {
        match self {
            Gen::Host => permission(Rule::Header(header_matcher(":authority", v, true))),
            Gen::Method => permission(Rule::Header(header_matcher(":method", v, false))),
            Gen::Path => permission(Rule::UrlPath(PathMatcher {
                rule: Some(path_matcher::Rule::Path(string_matcher_with_prefix(v, ""))),
            })),
            _ => unreachable!("not a permission generator"),
        }
    }

    /// `requestPrincipalGenerator.extendedPrincipal`: each value's `iss/sub` matchers ANDed; several
    /// values ORed.
    fn request_principals(values: &[String]) -> Principal {
        let mut or: Vec<Principal> = values
            .iter()
            .map(|value| {
                let (iss, sub) = iss_sub_matchers(value);
                and_ids(vec![jwt_claim("iss", iss), jwt_claim("sub", sub)])
            })
            .collect();
        if or.len() == 1 {
            or.remove(0)
        } else {
            or_ids(or)
        }
    }
}

/// A request principal `iss/sub` split at the last `/`, each side with istiod's `*` handling
/// (`requestPrincipalGenerator.extendedPrincipal`).
fn iss_sub_matchers(value: &str) -> (StringMatcher, StringMatcher) {
    let any = || regex(".+");
    let (iss, sub, found) = match value.rfind('/') {
        Some(i) => (&value[..i], &value[i + 1..], true),
        None => (value, "", false),
    };
    if value == "*" {
        (any(), any())
    } else if let Some(rest) = value.strip_prefix('*') {
        if !found {
            return (any(), suffix(rest));
        }
        let mi = match iss.strip_prefix('*') {
            Some("") => any(),
            Some(tail) => suffix(tail),
            None => exact(iss),
        };
        (mi, exact(sub))
    } else if let Some(rest) = value.strip_suffix('*') {
        if !found {
            return (prefix(rest), any());
        }
        let ms = match sub.strip_suffix('*') {
            Some("") => any(),
            Some(head) => prefix(head),
            None => exact(sub),
        };
        (exact(iss), ms)
    } else {
        (exact(iss), exact(sub))
    }
}

struct Cond {
    g: Gen,
    values: Vec<String>,
    not_values: Vec<String>,
}

fn cond(g: Gen, values: &Option<Vec<String>>, not_values: &Option<Vec<String>>) -> Option<Cond> {
    let values = values.clone().unwrap_or_default();
    let not_values = not_values.clone().unwrap_or_default();
    (!values.is_empty() || !not_values.is_empty()).then_some(Cond {
        g,
        values,
        not_values,
    })
}

/// `rule.principal`: values ORed, notValues as NOT(OR); the extended generator takes all values at once.
fn principal_of(c: &Cond) -> Vec<Principal> {
    match c.g {
        Gen::RequestPrincipal => with_not(c, not_id, Gen::request_principals),
        Gen::Claim(ref path) => with_not(c, not_id, |vs| jwt_claims(path, vs)),
        _ => with_not(c, not_id, |vs| {
            or_ids(vs.iter().map(|v| c.g.principal(v)).collect())
        }),
    }
}

/// `rule.permission`: values ORed, notValues as NOT(OR).
fn permission_of(c: &Cond) -> Vec<Permission> {
    with_not(c, not_rule, |vs| {
        or_rules(vs.iter().map(|v| c.g.permission(v)).collect())
    })
}

/// The values' matcher `of(values)`, then the negation (`not`: [`not_id`] or [`not_rule`]) of
/// `of(notValues)`; each only when there are such values.
fn with_not<T>(c: &Cond, not: fn(T) -> T, of: impl Fn(&[String]) -> T) -> Vec<T> {
    let mut out = Vec::new();
    if !c.values.is_empty() {
        out.push(of(&c.values));
    }
    if !c.not_values.is_empty() {
        out.push(not(of(&c.not_values)));
    }
    out
}

/// A rule's `when` conditions, in their order (model.go `New`: appended last to every principal);
/// the lab translates principal-side keys only.
fn when_conditions(rule: &AuthorizationPolicyRules) -> Result<Vec<Cond>, String> {
    let mut conds = Vec::new();
    for w in rule.when.iter().flatten() {
        let g = match when_key(&w.key)? {
            WhenKey::Header(h) => Gen::Header(h),
            WhenKey::SourcePrincipal => Gen::Principal,
            WhenKey::SourceNamespace => Gen::Namespace,
            WhenKey::RequestPrincipal => Gen::RequestPrincipal,
            WhenKey::Claim(path) => Gen::Claim(path),
        };
        conds.extend(cond(g, &w.values, &w.not_values));
    }
    Ok(conds)
}

/// One source's conditions: insertFront in the order ip, remoteIp, namespaces, trustDomains,
/// serviceAccounts, requestPrincipals, principals, so the last inserted comes first.
fn source_conditions(s: &AuthorizationPolicyRulesFromSource) -> Vec<Cond> {
    let mut front = Vec::new();
    front.extend(cond(Gen::Principal, &s.principals, &s.not_principals));
    front.extend(cond(
        Gen::RequestPrincipal,
        &s.request_principals,
        &s.not_request_principals,
    ));
    front.extend(cond(
        Gen::ServiceAccount,
        &s.service_accounts,
        &s.not_service_accounts,
    ));
    front.extend(cond(
        Gen::TrustDomain,
        &s.trust_domains,
        &s.not_trust_domains,
    ));
    front.extend(cond(Gen::Namespace, &s.namespaces, &s.not_namespaces));
    front
}

/// One rule → one RBAC policy (model.go `New` + `Generate`). The rule must have passed [`check_rule`].
pub(super) fn rule_policy(rule: &AuthorizationPolicyRules) -> Result<Policy, String> {
    let base_principal = when_conditions(rule)?;
    let mut principals = Vec::new();
    for from in rule.from.iter().flatten() {
        let front = from.source.as_ref().map(source_conditions);
        principals.push(and_ids_of(front.iter().flatten().chain(&base_principal)));
    }
    if rule.from.as_deref().unwrap_or_default().is_empty() {
        principals.push(and_ids_of(base_principal.iter()));
    }
    let mut permissions = Vec::new();
    for to in rule.to.iter().flatten() {
        let mut front = Vec::new();
        if let Some(o) = &to.operation {
            front.extend(cond(Gen::Host, &o.hosts, &o.not_hosts));
            front.extend(cond(Gen::Method, &o.methods, &o.not_methods));
            front.extend(cond(Gen::Path, &o.paths, &o.not_paths));
        }
        permissions.push(and_rules_of(front.iter()));
    }
    if rule.to.as_deref().unwrap_or_default().is_empty() {
        permissions.push(and_rules_of([].iter()));
    }
    Ok(Policy {
        permissions,
        principals,
        ..Default::default()
    })
}

fn and_ids_of<'a>(conds: impl Iterator<Item = &'a Cond>) -> Principal {
    let mut ids: Vec<Principal> = conds.flat_map(principal_of).collect();
    if ids.is_empty() {
        ids.push(any_id());
    }
    and_ids(ids)
}

fn and_rules_of<'a>(conds: impl Iterator<Item = &'a Cond>) -> Permission {
    let mut rules: Vec<Permission> = conds.flat_map(permission_of).collect();
    if rules.is_empty() {
        rules.push(any_rule());
    }
    and_rules(rules)
}

#[cfg(test)]
mod tests;
