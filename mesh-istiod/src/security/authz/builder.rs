//! One `envoy.filters.http.rbac` filter per action (pilot/pkg/security/authz/builder/builder.go `build`,
//! `buildHTTP`): AUDIT (`LOG`), DENY, ALLOW in that order; each rule becomes the policy
//! `ns[<ns>]-policy[<name>]-rule[<i>]`; a policy without rules becomes one that never matches;
//! `shadow_rules_stat_prefix` as `shadowRuleStatPrefix` of the absent shadow rules (`istio_dry_run_allow_`).

use kcr_security_istio_io::v1::authorizationpolicies::{
    AuthorizationPolicy, AuthorizationPolicyAction,
};
use mesh_manifests::kcr_security_istio_io;
use serde_json::{Map, Value, json};

use super::model::{check_authorization_policy, rule_policy};

/// The filter's name (pkg/wellknown `HTTPRoleBasedAccessControl`).
pub const RBAC_FILTER: &str = "envoy.filters.http.rbac";
/// Its configuration's type.
pub const RBAC_TYPE_URL: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
/// What `shadowRuleStatPrefix` gives for absent shadow rules (the ALLOW default of a nil RBAC).
const SHADOW_STAT_PREFIX: &str = "istio_dry_run_allow_";

/// builder.go `rbacPolicyMatchNever`: the policy of an ALLOW/DENY/AUDIT policy without rules.
fn match_never() -> Value {
    json!({"permissions": [{"not_rule": {"any": true}}], "principals": [{"not_id": {"any": true}}]})
}

/// builder.go `policyName`.
pub fn policy_name(namespace: &str, name: &str, rule: usize) -> String {
    format!("ns[{namespace}]-policy[{name}]-rule[{rule}]")
}

/// The RBAC filters for the AuthorizationPolicies that select a pod (`policies`): AUDIT, DENY, ALLOW, each
/// only if some policy has that action (builder.go `build`). Policies are taken in the order given (istiod
/// sorts by creation time; the policy map is keyed by name, so the order does not change the result).
pub fn rbac_filters(policies: &[&AuthorizationPolicy]) -> Result<Vec<Value>, String> {
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
        }) {
            any = true;
            let name = ap.metadata.name.as_deref().unwrap_or_default();
            let named = |e: String| format!("AuthorizationPolicy {name}: {e}");
            check_authorization_policy(ap).map_err(named)?;
            let rules = ap.spec.rules.as_deref().unwrap_or_default();
            for (i, rule) in rules.iter().enumerate() {
                let policy = rule_policy(rule).map_err(named)?;
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
                "@type": RBAC_TYPE_URL,
                "rules": rules,
                "shadow_rules_stat_prefix": SHADOW_STAT_PREFIX
            }
        }));
    }
    Ok(filters)
}

#[cfg(test)]
mod tests;
