//! One `envoy.filters.http.rbac` configuration (Envoy's `RBAC` type) per action
//! (pilot/pkg/security/authz/builder/builder.go `build`, `buildHTTP`): AUDIT (`LOG`), DENY, ALLOW in that
//! order; each rule becomes the policy `ns[<ns>]-policy[<name>]-rule[<i>]`; a policy without rules
//! becomes one that never matches; `shadow_rules_stat_prefix` as `shadowRuleStatPrefix` of the absent
//! shadow rules (`istio_dry_run_allow_`).

use std::collections::HashMap;

use envoy_types::pb::envoy::config::rbac::v3::rbac::Action;
use envoy_types::pb::envoy::config::rbac::v3::{Policy, Rbac as RbacRules};
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac;
use kcr_security_istio_io::v1::authorizationpolicies::{
    AuthorizationPolicy, AuthorizationPolicyAction,
};
use mesh_manifests::kcr_security_istio_io;

use super::model::{any_id, any_rule, check_authorization_policy, not_id, not_rule, rule_policy};

/// The filter's name (pkg/wellknown `HTTPRoleBasedAccessControl`).
pub const RBAC_FILTER: &str = "envoy.filters.http.rbac";
/// Its configuration's type ([`Rbac`]'s type URL).
pub const RBAC_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
/// What `shadowRuleStatPrefix` gives for absent shadow rules (the ALLOW default of a nil RBAC).
const SHADOW_STAT_PREFIX: &str = "istio_dry_run_allow_";

/// builder.go `rbacPolicyMatchNever`: the policy of an ALLOW/DENY/AUDIT policy without rules.
fn match_never() -> Policy {
    Policy {
        permissions: vec![not_rule(any_rule())],
        principals: vec![not_id(any_id())],
        ..Default::default()
    }
}

/// builder.go `policyName`.
pub fn policy_name(namespace: &str, name: &str, rule: usize) -> String {
    format!("ns[{namespace}]-policy[{name}]-rule[{rule}]")
}

/// The action of an RBAC filter's rules (ALLOW, the enum's zero value, when it has none).
pub fn action_of(rbac: &Rbac) -> Action {
    rbac.rules.as_ref().map_or(Action::Allow, RbacRules::action)
}

/// The RBAC filters' configurations for the AuthorizationPolicies that select a pod (`policies`): AUDIT,
/// DENY, ALLOW, each only if some policy has that action (builder.go `build`). Policies are taken in the
/// order given (istiod sorts by creation time; the policy map is keyed by name, so the order does not
/// change the result).
pub fn rbac_filters(policies: &[&AuthorizationPolicy]) -> Result<Vec<Rbac>, String> {
    let mut filters = Vec::new();
    for (action, rbac_action) in [
        (AuthorizationPolicyAction::Audit, Action::Log),
        (AuthorizationPolicyAction::Deny, Action::Deny),
        (AuthorizationPolicyAction::Allow, Action::Allow),
    ] {
        let of_action: Vec<&AuthorizationPolicy> = policies
            .iter()
            .copied()
            .filter(|ap| {
                ap.spec
                    .action
                    .clone()
                    .unwrap_or(AuthorizationPolicyAction::Allow)
                    == action
            })
            .collect();
        if of_action.is_empty() {
            continue;
        }
        let mut map = HashMap::new();
        for ap in of_action {
            map.extend(named_policies(ap)?);
        }
        filters.push(Rbac {
            rules: Some(RbacRules {
                action: rbac_action.into(),
                policies: map,
                ..Default::default()
            }),
            shadow_rules_stat_prefix: SHADOW_STAT_PREFIX.to_owned(),
            ..Default::default()
        });
    }
    Ok(filters)
}

/// An AuthorizationPolicy's RBAC policies by name: one per rule, or one that never matches.
fn named_policies(ap: &AuthorizationPolicy) -> Result<Vec<(String, Policy)>, String> {
    let name = ap.metadata.name.as_deref().unwrap_or_default();
    let named = |e: String| format!("AuthorizationPolicy {name}: {e}");
    check_authorization_policy(ap).map_err(named)?;
    let key = |i| policy_name(crate::model::registry::NAMESPACE, name, i);
    let rules = ap.spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() {
        return Ok(vec![(key(0), match_never())]);
    }
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| Ok((key(i), rule_policy(rule).map_err(named)?)))
        .collect()
}

#[cfg(test)]
mod tests;
