//! Authorization: AuthorizationPolicy → Envoy's `envoy.filters.http.rbac`, and the inbound HTTP filters
//! of a pod in istiod's order (JWT authentication, then the RBAC filters).
//!
//! Read from istiod's source:
//! - which policies apply: pilot/pkg/model/authorization.go `ListAuthorizationPolicies` (the pod's
//!   namespace; no selector = every workload, else `matchLabels` ⊆ the pod's labels), grouped by action;
//! - one RBAC filter per action, AUDIT (`LOG`), DENY, ALLOW in that order; each rule becomes the policy
//!   `ns[<ns>]-policy[<name>]-rule[<i>]`; a policy without rules becomes one that never matches;
//!   `shadow_rules_stat_prefix` as `shadowRuleStatPrefix` of the absent shadow rules
//!   (`istio_dry_run_allow_`): pilot/pkg/security/authz/builder/builder.go `build`, `buildHTTP`;
//! - a rule's principals and permissions, their order and the and/or/not nesting:
//!   pilot/pkg/security/authz/model/model.go `New`, `Generate`, `rule.principal`, `rule.permission`;
//! - each field's matcher: model/generator.go (principals → `authenticated.principal_name` with the
//!   `spiffe://` prefix, namespaces → a regex, requestPrincipals → jwt_authn `payload` iss/sub metadata,
//!   paths → `url_path`, methods → `:method`, `request.headers[…]` → a header), with
//!   pilot/pkg/security/authz/matcher (string.go, header.go) for `*` prefix/suffix forms;
//! - sidecars match the mTLS peer by `authenticated` (`UseFilterState` off: listener_builder.go);
//! - the trust domain is `cluster.local` with no aliases, so pilot/pkg/security/trustdomain
//!   `ReplaceTrustDomainAliases` leaves every principal as written;
//! - the filter order on the inbound HTTP connection manager: pilot/pkg/networking/core/listener_builder.go
//!   (metadata exchange, CUSTOM, authn = jwt_authn, authz = RBAC, …, router).
//!
//! A denied request gets Envoy's local reply 403 `RBAC: access denied`.

use std::collections::BTreeMap;

use kcr_security_istio_io::v1::authorizationpolicies::{
    AuthorizationPolicy, AuthorizationPolicyAction, AuthorizationPolicyRules,
};
use kcr_security_istio_io::v1::requestauthentications::RequestAuthentication;
use mesh_manifests::{Resource, kcr_security_istio_io};
use serde_json::{Map, Value, json};

use crate::model::policy::{self, refuse};
use crate::security::authn::jwt;

/// The filter's name (pkg/wellknown `HTTPRoleBasedAccessControl`).
pub const RBAC_FILTER: &str = "envoy.filters.http.rbac";
/// The lab's trust domain (mesh config's default `trustDomain`).
pub const TRUST_DOMAIN: &str = "cluster.local";
const SPIFFE: &str = "spiffe://";
/// What `shadowRuleStatPrefix` gives for absent shadow rules (the ALLOW default of a nil RBAC).
const SHADOW_STAT_PREFIX: &str = "istio_dry_run_allow_";
const DRY_RUN: &str = "istio.io/dry-run";

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
}

fn when_key(key: &str) -> Result<WhenKey, String> {
    match key {
        "source.principal" => Ok(WhenKey::SourcePrincipal),
        "source.namespace" => Ok(WhenKey::SourceNamespace),
        "request.auth.principal" => Ok(WhenKey::RequestPrincipal),
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
             source.namespace and request.auth.principal; the lab's peers have no real addresses, ports or \
             claims matching); remove it or run this step on a cluster"
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
    policy::check_no_targets(
        spec.target_ref.is_some(),
        spec.target_refs.as_ref().is_some_and(|t| !t.is_empty()),
    )?;
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

// ---- matchers (pilot/pkg/security/authz/matcher) ----

/// Go's `regexp.QuoteMeta` (escapes exactly `\.+*?()|[]{}^$`).
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn regex(r: &str) -> Value {
    json!({"safe_regex": {"regex": r}})
}

fn with_case(mut m: Value, ignore_case: bool) -> Value {
    if ignore_case {
        m["ignore_case"] = json!(true);
    }
    m
}

/// string.go `StringMatcherWithPrefix`: `*` → `.+`; `*x` → suffix (or a regex with a prefix); `x*` → prefix.
fn string_matcher_with_prefix(v: &str, prefix: &str) -> Value {
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
fn header_matcher(name: &str, v: &str, ignore_case: bool) -> Value {
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

fn exact(v: &str) -> Value {
    json!({"exact": v})
}

fn jwt_claim(claim: &str, m: Value) -> Value {
    json!({"metadata": {
        "filter": jwt::JWT_FILTER,
        "path": [{"key": jwt::PAYLOAD_KEY}, {"key": claim}],
        "value": {"string_match": m}
    }})
}

fn authenticated(m: Value) -> Value {
    json!({"authenticated": {"principal_name": m}})
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
    Host,
    Method,
    Path,
}

impl Gen {
    fn principal(&self, v: &str) -> Value {
        match self {
            Gen::Principal => authenticated(string_matcher_with_prefix(v, SPIFFE)),
            Gen::Namespace => {
                let ns: Vec<String> = v.split('*').map(quote_meta).collect();
                authenticated(regex(&format!(".*/ns/{}/.*", ns.join(".*"))))
            }
            Gen::ServiceAccount => {
                let (ns, sa) = v
                    .split_once('/')
                    .unwrap_or((crate::model::registry::NAMESPACE, v));
                authenticated(regex(&format!(
                    "spiffe://.+/ns/{}/(.+/|)sa/{}(/.+)?",
                    quote_meta(ns),
                    quote_meta(sa)
                )))
            }
            Gen::TrustDomain => authenticated(if v == "*" {
                json!({"prefix": SPIFFE})
            } else if !v.contains('*') {
                json!({"prefix": format!("{SPIFFE}{v}/")})
            } else {
                let (a, b) = v.split_once('*').unwrap_or((v, ""));
                regex(&format!(
                    "spiffe://{}[^/]*{}/.*",
                    quote_meta(a),
                    quote_meta(b)
                ))
            }),
            Gen::Header(name) => json!({"header": header_matcher(name, v, false)}),
            Gen::RequestPrincipal | Gen::Host | Gen::Method | Gen::Path => {
                unreachable!("not a principal generator")
            }
        }
    }

    fn permission(&self, v: &str) -> Value {
        match self {
            Gen::Host => json!({"header": header_matcher(":authority", v, true)}),
            Gen::Method => json!({"header": header_matcher(":method", v, false)}),
            Gen::Path => json!({"url_path": {"path": string_matcher_with_prefix(v, "")}}),
            _ => unreachable!("not a permission generator"),
        }
    }

    /// `requestPrincipalGenerator.extendedPrincipal`: `iss/sub` split at the last `/`, each with
    /// istiod's `*` handling, ANDed; several values ORed.
    fn request_principals(values: &[String]) -> Value {
        let any = || regex(".+");
        let mut or: Vec<Value> = values
            .iter()
            .map(|value| {
                let (iss, sub, found) = match value.rfind('/') {
                    Some(i) => (&value[..i], &value[i + 1..], true),
                    None => (value.as_str(), "", false),
                };
                let (mi, ms) = if value == "*" {
                    (any(), any())
                } else if let Some(rest) = value.strip_prefix('*') {
                    if found {
                        let mi = match iss.strip_prefix('*') {
                            Some("") => any(),
                            Some(suffix) => json!({"suffix": suffix}),
                            None => exact(iss),
                        };
                        (mi, exact(sub))
                    } else {
                        (any(), json!({"suffix": rest}))
                    }
                } else if let Some(rest) = value.strip_suffix('*') {
                    if found {
                        let ms = match sub.strip_suffix('*') {
                            Some("") => any(),
                            Some(prefix) => json!({"prefix": prefix}),
                            None => exact(sub),
                        };
                        (exact(iss), ms)
                    } else {
                        (json!({"prefix": rest}), any())
                    }
                } else {
                    (exact(iss), exact(sub))
                };
                json!({"and_ids": {"ids": [jwt_claim("iss", mi), jwt_claim("sub", ms)]}})
            })
            .collect();
        if or.len() == 1 {
            or.remove(0)
        } else {
            json!({"or_ids": {"ids": or}})
        }
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
fn principal_of(c: &Cond) -> Vec<Value> {
    let mut out = Vec::new();
    if let Gen::RequestPrincipal = c.g {
        if !c.values.is_empty() {
            out.push(Gen::request_principals(&c.values));
        }
        if !c.not_values.is_empty() {
            out.push(json!({"not_id": Gen::request_principals(&c.not_values)}));
        }
        return out;
    }
    let or = |vs: &[String]| json!({"or_ids": {"ids": vs.iter().map(|v| c.g.principal(v)).collect::<Vec<_>>()}});
    if !c.values.is_empty() {
        out.push(or(&c.values));
    }
    if !c.not_values.is_empty() {
        out.push(json!({"not_id": or(&c.not_values)}));
    }
    out
}

fn permission_of(c: &Cond) -> Vec<Value> {
    let or = |vs: &[String]| json!({"or_rules": {"rules": vs.iter().map(|v| c.g.permission(v)).collect::<Vec<_>>()}});
    let mut out = Vec::new();
    if !c.values.is_empty() {
        out.push(or(&c.values));
    }
    if !c.not_values.is_empty() {
        out.push(json!({"not_rule": or(&c.not_values)}));
    }
    out
}

/// One rule → one RBAC policy (model.go `New` + `Generate`). The rule must have passed [`check_rule`].
fn rule_policy(rule: &AuthorizationPolicyRules) -> Result<Value, String> {
    // `when` conditions go last, in their order (appendLast); the lab translates principal-side keys only.
    let mut base_principal = Vec::new();
    for w in rule.when.iter().flatten() {
        let g = match when_key(&w.key)? {
            WhenKey::Header(h) => Gen::Header(h),
            WhenKey::SourcePrincipal => Gen::Principal,
            WhenKey::SourceNamespace => Gen::Namespace,
            WhenKey::RequestPrincipal => Gen::RequestPrincipal,
        };
        base_principal.extend(cond(g, &w.values, &w.not_values));
    }
    let mut principals = Vec::new();
    for from in rule.from.iter().flatten() {
        // insertFront in the order ip, remoteIp, namespaces, trustDomains, serviceAccounts,
        // requestPrincipals, principals: the last inserted comes first.
        let mut front = Vec::new();
        if let Some(s) = &from.source {
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
        }
        principals.push(and_ids(front.iter().chain(&base_principal)));
    }
    if rule.from.as_deref().unwrap_or_default().is_empty() {
        principals.push(and_ids(base_principal.iter()));
    }
    let mut permissions = Vec::new();
    for to in rule.to.iter().flatten() {
        let mut front = Vec::new();
        if let Some(o) = &to.operation {
            front.extend(cond(Gen::Host, &o.hosts, &o.not_hosts));
            front.extend(cond(Gen::Method, &o.methods, &o.not_methods));
            front.extend(cond(Gen::Path, &o.paths, &o.not_paths));
        }
        permissions.push(and_rules(front.iter()));
    }
    if rule.to.as_deref().unwrap_or_default().is_empty() {
        permissions.push(and_rules([].iter()));
    }
    Ok(json!({"permissions": permissions, "principals": principals}))
}

fn and_ids<'a>(conds: impl Iterator<Item = &'a Cond>) -> Value {
    let mut ids: Vec<Value> = conds.flat_map(principal_of).collect();
    if ids.is_empty() {
        ids.push(json!({"any": true}));
    }
    json!({"and_ids": {"ids": ids}})
}

fn and_rules<'a>(conds: impl Iterator<Item = &'a Cond>) -> Value {
    let mut rules: Vec<Value> = conds.flat_map(permission_of).collect();
    if rules.is_empty() {
        rules.push(json!({"any": true}));
    }
    json!({"and_rules": {"rules": rules}})
}

/// builder.go `rbacPolicyMatchNever`: the policy of an ALLOW/DENY/AUDIT policy without rules.
fn match_never() -> Value {
    json!({"permissions": [{"not_rule": {"any": true}}], "principals": [{"not_id": {"any": true}}]})
}

/// builder.go `policyName`.
pub fn policy_name(namespace: &str, name: &str, rule: usize) -> String {
    format!("ns[{namespace}]-policy[{name}]-rule[{rule}]")
}

fn ap_selects(ap: &AuthorizationPolicy, pod_labels: &BTreeMap<String, String>) -> bool {
    policy::selects(
        ap.metadata.namespace.as_deref(),
        ap.spec
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref()),
        pod_labels,
    )
}

fn ra_selects(ra: &RequestAuthentication, pod_labels: &BTreeMap<String, String>) -> bool {
    policy::selects(
        ra.metadata.namespace.as_deref(),
        ra.spec
            .selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref()),
        pod_labels,
    )
}

/// The RBAC filters for the AuthorizationPolicies that select a pod: AUDIT, DENY, ALLOW, each only if
/// some policy has that action (builder.go `build`). Policies are taken in the order given (istiod
/// sorts by creation time; the policy map is keyed by name, so the order does not change the result).
pub fn rbac_filters(
    policies: &[&AuthorizationPolicy],
    pod_labels: &BTreeMap<String, String>,
) -> Result<Vec<Value>, String> {
    let mut filters = Vec::new();
    for (action, rbac_action) in [
        (AuthorizationPolicyAction::Audit, Some("LOG")),
        (AuthorizationPolicyAction::Deny, Some("DENY")),
        // ALLOW is the enum's zero value, which istiod's output leaves out.
        (AuthorizationPolicyAction::Allow, None),
    ] {
        let mut map = Map::new();
        let mut any = false;
        for ap in policies.iter().filter(|ap| {
            ap.spec
                .action
                .clone()
                .unwrap_or(AuthorizationPolicyAction::Allow)
                == action
                && ap_selects(ap, pod_labels)
        }) {
            any = true;
            let name = ap.metadata.name.as_deref().unwrap_or_default();
            check_authorization_policy(ap)
                .map_err(|e| format!("AuthorizationPolicy {name}: {e}"))?;
            let rules = ap.spec.rules.as_deref().unwrap_or_default();
            for (i, rule) in rules.iter().enumerate() {
                let policy =
                    rule_policy(rule).map_err(|e| format!("AuthorizationPolicy {name}: {e}"))?;
                map.insert(
                    policy_name(crate::model::registry::NAMESPACE, name, i),
                    policy,
                );
            }
            if rules.is_empty() {
                map.insert(
                    policy_name(crate::model::registry::NAMESPACE, name, 0),
                    match_never(),
                );
            }
        }
        if !any {
            continue;
        }
        let mut rules = json!({"policies": map});
        if let Some(a) = rbac_action {
            rules["action"] = json!(a);
        }
        filters.push(json!({
            "name": RBAC_FILTER,
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                "rules": rules,
                "shadow_rules_stat_prefix": SHADOW_STAT_PREFIX
            }
        }));
    }
    Ok(filters)
}

/// A pod's inbound HTTP filters from the applied objects, to go before the router: the jwt_authn filter
/// when a RequestAuthentication selects the pod, then the RBAC filters (listener_builder.go's order).
/// `jwks(issuer, jwksUri)` answers for every `jwksUri` (the lab: its own key set).
pub fn inbound_http_filters(
    resources: &[Resource],
    pod_labels: &BTreeMap<String, String>,
    jwks: &dyn Fn(&str, &str) -> String,
) -> Result<Vec<Value>, String> {
    let mut request_authns = Vec::new();
    let mut policies = Vec::new();
    for r in resources {
        match r {
            Resource::RequestAuthentication(ra) if ra_selects(ra, pod_labels) => {
                jwt::check_request_authentication(ra).map_err(|e| {
                    format!(
                        "RequestAuthentication {}: {e}",
                        ra.metadata.name.as_deref().unwrap_or_default()
                    )
                })?;
                request_authns.push(&**ra);
            }
            Resource::AuthorizationPolicy(ap) => policies.push(&**ap),
            _ => {}
        }
    }
    let mut filters: Vec<Value> = jwt::jwt_authn_filter(&request_authns, jwks)
        .into_iter()
        .collect();
    filters.extend(rbac_filters(&policies, pod_labels)?);
    Ok(filters)
}

/// The security policies in force on a pod with `pod_labels`, for `show`: each AuthorizationPolicy
/// (`AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)`) and RequestAuthentication of the
/// namespace that selects it, in apply order.
pub fn policies_for(resources: &[Resource], pod_labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        match r {
            Resource::AuthorizationPolicy(ap) if ap_selects(ap, pod_labels) => {
                let action = match ap.spec.action.clone() {
                    Some(AuthorizationPolicyAction::Deny) => "DENY",
                    Some(AuthorizationPolicyAction::Audit) => "AUDIT",
                    Some(AuthorizationPolicyAction::Custom) => "CUSTOM",
                    _ => "ALLOW",
                };
                let rules = match ap.spec.rules.as_deref().unwrap_or_default().len() {
                    0 if action == "ALLOW" => "no rules (allows nothing)".to_owned(),
                    0 => "no rules (matches nothing)".to_owned(),
                    1 => "1 rule".to_owned(),
                    n => format!("{n} rules"),
                };
                out.push(format!(
                    "AuthorizationPolicy {}: {action}, {rules}",
                    ap.metadata.name.as_deref().unwrap_or_default()
                ));
            }
            Resource::RequestAuthentication(ra) if ra_selects(ra, pod_labels) => {
                let issuers: Vec<&str> = ra
                    .spec
                    .jwt_rules
                    .iter()
                    .flatten()
                    .filter_map(|j| j.issuer.as_deref())
                    .collect();
                out.push(format!(
                    "RequestAuthentication {}: JWT from issuer {}",
                    ra.metadata.name.as_deref().unwrap_or_default(),
                    issuers.join(", ")
                ));
            }
            _ => {}
        }
    }
    out
}

/// The inbound HTTP filters' places on a sidecar, in istiod's order (authn, then AUDIT, DENY, ALLOW):
/// (name on the connection manager, action, type URL). istiod puts the filters a workload needs inline
/// in its inbound listener and calls every RBAC filter `envoy.filters.http.rbac`; the lab keeps the four
/// places on every sidecar and hands each its configuration by ECDS — the same configurations, but a change
/// is in force for the next request, also on connections opened before it (a listener change leaves those
/// on the old filters until they drain) — so the places need names of their own.
pub const INBOUND_SLOTS: &[(&str, Option<&str>, &str)] = &[
    (
        jwt::JWT_FILTER,
        None,
        "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
    ),
    (
        "envoy.filters.http.rbac.audit",
        Some("LOG"),
        "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    ),
    (
        "envoy.filters.http.rbac.deny",
        Some("DENY"),
        "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    ),
    (
        "envoy.filters.http.rbac.allow",
        Some("ALLOW"),
        "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
    ),
];

/// Each of [`INBOUND_SLOTS`] with its configuration (`{"name", "typed_config"}`): the filter
/// [`inbound_http_filters`] gives for it, else one that lets every request through (jwt_authn without
/// providers, RBAC without rules: Envoy enforces nothing).
pub fn inbound_filter_slots(
    resources: &[Resource],
    pod_labels: &BTreeMap<String, String>,
    jwks: &dyn Fn(&str, &str) -> String,
) -> Result<Vec<Value>, String> {
    let filters = inbound_http_filters(resources, pod_labels, jwks)?;
    let action = |f: &Value| -> Option<String> {
        if f["name"] != RBAC_FILTER {
            return None;
        }
        Some(
            f["typed_config"]["rules"]["action"]
                .as_str()
                .unwrap_or("ALLOW")
                .to_owned(),
        )
    };
    Ok(INBOUND_SLOTS
        .iter()
        .map(|(name, slot_action, type_url)| {
            let found = filters.iter().find(|f| match slot_action {
                None => f["name"] == *name,
                Some(a) => action(f).as_deref() == Some(*a),
            });
            let typed_config = match found {
                Some(f) => f["typed_config"].clone(),
                None => json!({"@type": type_url}),
            };
            json!({"name": name, "typed_config": typed_config})
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn show_lists_the_policies_that_select_a_pod() {
        let mut r = fixtures::istio("authorization-policy-deny-all.yml");
        r.extend(fixtures::istio("request-authentication-customer-jwt.yml"));
        let customer = labels(&[("app", "customer"), ("version", "v1")]);
        assert_eq!(
            policies_for(&r, &customer),
            [
                "AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)",
                "RequestAuthentication customer-jwt: JWT from issuer testing@secure.istio.io",
                "AuthorizationPolicy customer: ALLOW, 1 rule",
            ]
        );
        let preference = labels(&[("app", "preference"), ("version", "v1")]);
        assert_eq!(
            policies_for(&r, &preference),
            ["AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)"]
        );
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn no_jwks(_: &str, _: &str) -> String {
        r#"{"keys":[]}"#.into()
    }

    fn filters(resources: &[Resource], app: &str) -> Vec<Value> {
        inbound_http_filters(
            resources,
            &labels(&[("app", app), ("version", "v1")]),
            &no_jwks,
        )
        .unwrap()
    }

    /// The single policy of the only (ALLOW) filter for a policy file with one rule.
    fn only_policy(yaml_rules: &str) -> Value {
        let r = fixtures::parse(&format!(
            "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: p}}\nspec:\n  rules:\n{yaml_rules}"
        ));
        let f = filters(&r, "customer");
        assert_eq!(f.len(), 1);
        f[0]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[p]-rule[0]"].clone()
    }

    fn refusal(spec: &str) -> String {
        let r = fixtures::parse(&format!(
            "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: p}}\nspec:\n{spec}"
        ));
        let Resource::AuthorizationPolicy(ap) = &r[0] else {
            panic!("an AuthorizationPolicy")
        };
        check_authorization_policy(ap).unwrap_err()
    }

    #[test]
    fn deny_all_is_an_allow_filter_that_never_matches_on_every_pod() {
        let r = fixtures::istio("authorization-policy-deny-all.yml");
        for app in ["customer", "preference", "recommendation"] {
            assert_eq!(
                filters(&r, app),
                vec![json!({
                    "name": "envoy.filters.http.rbac",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                        "rules": {"policies": {"ns[tutorial]-policy[deny-all]-rule[0]": {
                            "permissions": [{"not_rule": {"any": true}}],
                            "principals": [{"not_id": {"any": true}}]
                        }}},
                        "shadow_rules_stat_prefix": "istio_dry_run_allow_"
                    }
                })]
            );
        }
    }

    #[test]
    fn customer_allows_anything_and_only_customer() {
        let r = fixtures::istio("authorization-policy-customer.yml");
        let f = filters(&r, "customer");
        assert_eq!(
            f[0]["typed_config"]["rules"],
            json!({"policies": {"ns[tutorial]-policy[customer]-rule[0]": {
                "permissions": [{"and_rules": {"rules": [{"any": true}]}}],
                "principals": [{"and_ids": {"ids": [{"any": true}]}}]
            }}})
        );
        assert!(filters(&r, "preference").is_empty());
    }

    #[test]
    fn preference_and_recommendation_allow_one_service_account_by_spiffe_id() {
        for (file, app, sa) in [
            (
                "authorization-policy-preference.yml",
                "preference",
                "customer",
            ),
            (
                "authorization-policy-recommendation.yml",
                "recommendation",
                "preference",
            ),
        ] {
            let r = fixtures::istio(file);
            let f = filters(&r, app);
            assert_eq!(
                f[0]["typed_config"]["rules"]["policies"]
                    [format!("ns[tutorial]-policy[{app}]-rule[0]")],
                json!({
                    "permissions": [{"and_rules": {"rules": [{"any": true}]}}],
                    "principals": [{"and_ids": {"ids": [{"or_ids": {"ids": [{"authenticated": {
                        "principal_name": {"exact": format!("spiffe://cluster.local/ns/tutorial/sa/{sa}")}
                    }}]}}]}}]
                }),
                "{file}"
            );
            assert!(filters(&r, "customer").is_empty(), "{file}");
        }
    }

    #[test]
    fn the_jwt_file_puts_jwt_authn_before_rbac_with_a_request_principal_matcher() {
        let r = fixtures::istio("request-authentication-customer-jwt.yml");
        let f = filters(&r, "customer");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["name"], "envoy.filters.http.jwt_authn");
        assert_eq!(f[1]["name"], "envoy.filters.http.rbac");
        let claim = |c: &str| {
            json!({"metadata": {"filter": "envoy.filters.http.jwt_authn",
                "path": [{"key": "payload"}, {"key": c}],
                "value": {"string_match": {"exact": "testing@secure.istio.io"}}}})
        };
        assert_eq!(
            f[1]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[customer]-rule[0]"]["principals"],
            json!([{"and_ids": {"ids": [{"and_ids": {"ids": [claim("iss"), claim("sub")]}}]}}])
        );
        assert!(filters(&r, "preference").is_empty());
    }

    #[test]
    fn the_peer_authentication_file_is_not_this_module() {
        let r = fixtures::istio("peer-authentication-tutorial-strict.yml");
        assert!(filters(&r, "customer").is_empty());
    }

    #[test]
    fn deny_comes_before_allow_and_audit_before_both() {
        let r = fixtures::parse(
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow}
spec: {rules: [{}]}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: deny}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/admin*]}}]}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: audit}
spec: {action: AUDIT, rules: [{}]}
",
        );
        let f = filters(&r, "customer");
        let actions: Vec<&Value> = f
            .iter()
            .map(|f| &f["typed_config"]["rules"]["action"])
            .collect();
        assert_eq!(actions, [&json!("LOG"), &json!("DENY"), &Value::Null]);
        assert_eq!(
            f[1]["typed_config"]["rules"]["policies"]["ns[tutorial]-policy[deny]-rule[0]"]["permissions"],
            json!([{"and_rules": {"rules": [{"or_rules": {"rules": [{"url_path": {"path": {"prefix": "/admin"}}}]}}]}}])
        );
    }

    #[test]
    fn selectors_match_labels_and_no_selector_matches_all() {
        let r = fixtures::parse(
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: v2-only}
spec:
  selector: {matchLabels: {app: recommendation, version: v2}}
  rules: [{}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: empty-selector}
spec:
  selector: {}
  action: DENY
  rules: [{}]
",
        );
        let v1 = inbound_http_filters(
            &r,
            &labels(&[("app", "recommendation"), ("version", "v1")]),
            &no_jwks,
        )
        .unwrap();
        let v2 = inbound_http_filters(
            &r,
            &labels(&[("app", "recommendation"), ("version", "v2")]),
            &no_jwks,
        )
        .unwrap();
        assert_eq!(v1.len(), 1, "the selector-less one only");
        assert_eq!(v2.len(), 2);
    }

    #[test]
    fn principals_follow_istiods_wildcard_forms() {
        let p = only_policy(
            "  - from:\n    - source:\n        principals: ['*', '*/sa/x', 'cluster.local/ns/a*', 'td/ns/a.b/sa/c']\n        notPrincipals: [cluster.local/ns/tutorial/sa/bad]\n",
        );
        let pn = |m: Value| json!({"authenticated": {"principal_name": m}});
        assert_eq!(
            p["principals"],
            json!([{"and_ids": {"ids": [
                {"or_ids": {"ids": [
                    pn(json!({"safe_regex": {"regex": ".+"}})),
                    pn(json!({"safe_regex": {"regex": "spiffe://.*/sa/x"}})),
                    pn(json!({"prefix": "spiffe://cluster.local/ns/a"})),
                    pn(json!({"exact": "spiffe://td/ns/a.b/sa/c"})),
                ]}},
                {"not_id": {"or_ids": {"ids": [pn(json!({"exact": "spiffe://cluster.local/ns/tutorial/sa/bad"}))]}}}
            ]}}])
        );
    }

    #[test]
    fn namespaces_become_istiods_regex_and_sources_keep_istiods_order() {
        let p = only_policy(
            "  - from:\n    - source:\n        namespaces: [tutorial, 'istio-*']\n        notNamespaces: [a.b]\n        principals: [x]\n        serviceAccounts: [sa1, other/sa2]\n    - source: {}\n",
        );
        let pn =
            |r: &str| json!({"authenticated": {"principal_name": {"safe_regex": {"regex": r}}}});
        assert_eq!(
            p["principals"],
            json!([
                {"and_ids": {"ids": [
                    {"or_ids": {"ids": [{"authenticated": {"principal_name": {"exact": "spiffe://x"}}}]}},
                    {"or_ids": {"ids": [
                        pn(r"spiffe://.+/ns/tutorial/(.+/|)sa/sa1(/.+)?"),
                        pn(r"spiffe://.+/ns/other/(.+/|)sa/sa2(/.+)?")
                    ]}},
                    {"or_ids": {"ids": [pn(".*/ns/tutorial/.*"), pn(".*/ns/istio-.*/.*")]}},
                    {"not_id": {"or_ids": {"ids": [pn(r".*/ns/a\.b/.*")]}}}
                ]}},
                {"and_ids": {"ids": [{"any": true}]}}
            ])
        );
    }

    #[test]
    fn request_principals_follow_the_extended_generator() {
        let p = only_policy(
            "  - from:\n    - source:\n        requestPrincipals: ['*', 'iss/sub', '*/sub', '*suffix', 'https://a/b/*', 'iss/pre*', 'pre*']\n        notRequestPrincipals: [bad/user]\n",
        );
        let m = |iss: Value, sub: Value| {
            let c = |k: &str, v: Value| {
                json!({"metadata": {"filter": "envoy.filters.http.jwt_authn",
                "path": [{"key": "payload"}, {"key": k}], "value": {"string_match": v}}})
            };
            json!({"and_ids": {"ids": [c("iss", iss), c("sub", sub)]}})
        };
        let any = || json!({"safe_regex": {"regex": ".+"}});
        assert_eq!(
            p["principals"][0]["and_ids"]["ids"],
            json!([
                {"or_ids": {"ids": [
                    m(any(), any()),
                    m(json!({"exact": "iss"}), json!({"exact": "sub"})),
                    m(any(), json!({"exact": "sub"})),
                    m(any(), json!({"suffix": "suffix"})),
                    m(json!({"exact": "https://a/b"}), any()),
                    m(json!({"exact": "iss"}), json!({"prefix": "pre"})),
                    m(json!({"prefix": "pre"}), any()),
                ]}},
                {"not_id": m(json!({"exact": "bad"}), json!({"exact": "user"}))}
            ])
        );
    }

    #[test]
    fn paths_methods_and_hosts_become_istiods_permissions() {
        let p = only_policy(
            "  - to:\n    - operation:\n        hosts: ['*.example.com']\n        methods: [GET, 'P*']\n        notMethods: [DELETE]\n        paths: [/exact, '/prefix/*', '*/suffix', '*']\n        notPaths: [/private]\n",
        );
        let path = |m: Value| json!({"url_path": {"path": m}});
        let method = |m: Value| json!({"header": {"name": ":method", "string_match": m}});
        assert_eq!(
            p["permissions"],
            json!([{"and_rules": {"rules": [
                {"or_rules": {"rules": [{"header": {"name": ":authority",
                    "string_match": {"suffix": ".example.com", "ignore_case": true}}}]}},
                {"or_rules": {"rules": [method(json!({"exact": "GET"})), method(json!({"prefix": "P"}))]}},
                {"not_rule": {"or_rules": {"rules": [method(json!({"exact": "DELETE"}))]}}},
                {"or_rules": {"rules": [
                    path(json!({"exact": "/exact"})),
                    path(json!({"prefix": "/prefix/"})),
                    path(json!({"suffix": "/suffix"})),
                    path(json!({"safe_regex": {"regex": ".+"}})),
                ]}},
                {"not_rule": {"or_rules": {"rules": [path(json!({"exact": "/private"}))]}}}
            ]}}])
        );
        assert_eq!(
            p["principals"],
            json!([{"and_ids": {"ids": [{"any": true}]}}])
        );
    }

    #[test]
    fn when_headers_go_after_the_sources() {
        let p = only_policy(
            "  - from: [{source: {principals: [a]}}]\n    when:\n    - key: request.headers[x-user]\n      values: [alice, '*']\n      notValues: ['bob*']\n    - key: source.namespace\n      values: [tutorial]\n",
        );
        let h = |m: Value| {
            let mut h = json!({"name": "x-user"});
            h.as_object_mut()
                .unwrap()
                .extend(m.as_object().unwrap().clone());
            json!({"header": h})
        };
        assert_eq!(
            p["principals"][0]["and_ids"]["ids"],
            json!([
                {"or_ids": {"ids": [{"authenticated": {"principal_name": {"exact": "spiffe://a"}}}]}},
                {"or_ids": {"ids": [h(json!({"string_match": {"exact": "alice"}})), h(json!({"present_match": true}))]}},
                {"not_id": {"or_ids": {"ids": [h(json!({"string_match": {"prefix": "bob"}}))]}}},
                {"or_ids": {"ids": [{"authenticated": {"principal_name": {"safe_regex": {"regex": ".*/ns/tutorial/.*"}}}}]}}
            ])
        );
    }

    #[test]
    fn several_rules_are_several_named_policies() {
        let r = fixtures::parse(
            "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: two}\nspec:\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n  - from: [{source: {principals: [x]}}]\n",
        );
        let f = filters(&r, "customer");
        let names: Vec<&String> = f[0]["typed_config"]["rules"]["policies"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            names,
            [
                "ns[tutorial]-policy[two]-rule[0]",
                "ns[tutorial]-policy[two]-rule[1]"
            ]
        );
    }

    #[test]
    fn what_the_lab_cannot_translate_is_refused_by_field() {
        for (spec, field) in [
            (
                "  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]\n",
                "spec.action CUSTOM",
            ),
            (
                "  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]\n",
                "field spec.rules.0.from.0.source.ipBlocks is not supported by the local mesh",
            ),
            (
                "  rules: [{}, {from: [{source: {notRemoteIpBlocks: [1.2.3.4]}}]}]\n",
                "spec.rules.1.from.0.source.notRemoteIpBlocks",
            ),
            (
                "  rules: [{to: [{operation: {ports: ['8080']}}]}]\n",
                "spec.rules.0.to.0.operation.ports",
            ),
            (
                "  rules: [{to: [{operation: {paths: ['/a/{*}']}}]}]\n",
                "spec.rules.0.to.0.operation.paths",
            ),
            (
                "  rules: [{when: [{key: source.ip, values: [1.2.3.4]}]}]\n",
                "field spec.rules.0.when.0.key: key \"source.ip\"",
            ),
            (
                "  rules: [{when: [{key: 'request.auth.claims[groups]', values: [a]}]}]\n",
                "spec.rules.0.when.0.key",
            ),
            (
                "  rules: [{when: [{key: 'request.headers[]', values: [a]}]}]\n",
                "spec.rules.0.when.0.key",
            ),
            (
                "  rules: [{when: [{key: 'request.headers[x]'}]}]\n",
                "spec.rules.0.when.0: at least one",
            ),
            (
                "  targetRefs: [{kind: Service, name: s}]\n",
                "spec.targetRefs",
            ),
        ] {
            let err = refusal(spec);
            assert!(err.contains(field), "{spec}: {err}");
        }
        let r = fixtures::parse(
            "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: p, annotations: {istio.io/dry-run: 'true'}}\nspec: {}\n",
        );
        let Resource::AuthorizationPolicy(ap) = &r[0] else {
            panic!()
        };
        assert!(
            check_authorization_policy(ap)
                .unwrap_err()
                .contains("metadata.annotations.istio.io/dry-run")
        );
    }

    #[test]
    fn quote_meta_is_gos() {
        assert_eq!(
            quote_meta(r"a-b.c*d+e?f(g)h|i[j]k{l}m^n$o\p#q"),
            r"a-b\.c\*d\+e\?f\(g\)h\|i\[j\]k\{l\}m\^n\$o\\p#q"
        );
    }
}
