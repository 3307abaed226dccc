//! Authorization: AuthorizationPolicy → Envoy's `envoy.filters.http.rbac`, and the inbound HTTP filters
//! of a pod in istiod's order (JWT authentication, then the RBAC filters), built as Envoy's types
//! (`RBAC`, `JwtAuthentication`, the connection manager's `HttpFilter`, ECDS's `TypedExtensionConfig`).
//!
//! Read from istiod's source:
//! - which policies apply: pilot/pkg/model/authorization.go `ListAuthorizationPolicies` (the pod's
//!   namespace; no selector = every workload, else `matchLabels` ⊆ the pod's labels), grouped by action;
//! - the RBAC filter of each action: [`builder`] (pilot/pkg/security/authz/builder/builder.go);
//! - a rule's principals and permissions: [`model`] (pilot/pkg/security/authz/model), with the
//!   Envoy matchers of `matcher` (pilot/pkg/security/authz/matcher);
//! - the filter order on the inbound HTTP connection manager: pilot/pkg/networking/core/listener_builder.go
//!   (metadata exchange, CUSTOM, authn = jwt_authn, authz = RBAC, …, router).
//!
//! A denied request gets Envoy's local reply 403 `RBAC: access denied`.

pub mod builder;
mod matcher;
pub mod model;

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::TypedExtensionConfig;
use envoy_types::pb::envoy::config::rbac::v3::rbac::Action;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3::JwtAuthentication;
use envoy_types::pb::envoy::extensions::filters::http::rbac::v3::Rbac;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter::ConfigType;
use envoy_types::util::pack_any;
use kcr_security_istio_io::v1::authorizationpolicies::AuthorizationPolicyAction;
use mesh_manifests::{Resource, kcr_security_istio_io};
use prost::{Message, Name};

use crate::model::policy;
use crate::security::authn::jwt;
use builder::{RBAC_FILTER, RBAC_TYPE_URL, rbac_filters};

/// Does a security policy (AuthorizationPolicy, RequestAuthentication) select the pod with `pod_labels`
/// (authorization.go `ListAuthorizationPolicies`)? Other kinds select nothing.
fn selects(r: &Resource, pod_labels: &BTreeMap<String, String>) -> bool {
    let (meta, match_labels) = match r {
        Resource::AuthorizationPolicy(ap) => (
            &ap.metadata,
            ap.spec
                .selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref()),
        ),
        Resource::RequestAuthentication(ra) => (
            &ra.metadata,
            ra.spec
                .selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref()),
        ),
        _ => return false,
    };
    policy::selects(meta.namespace.as_deref(), match_labels, pod_labels)
}

/// A pod's security filters from the applied objects: the jwt_authn configuration when a
/// RequestAuthentication selects the pod, and the RBAC configurations (AUDIT, DENY, ALLOW).
struct PodFilters {
    jwt: Option<JwtAuthentication>,
    rbac: Vec<Rbac>,
}

fn pod_filters(
    resources: &[Resource],
    pod_labels: &BTreeMap<String, String>,
    jwks: &dyn Fn(&str, &str) -> String,
) -> Result<PodFilters, String> {
    let mut request_authns = Vec::new();
    let mut policies = Vec::new();
    for r in resources {
        match r {
            Resource::RequestAuthentication(ra) if selects(r, pod_labels) => {
                jwt::check_request_authentication(ra).map_err(|e| {
                    format!(
                        "RequestAuthentication {}: {e}",
                        ra.metadata.name.as_deref().unwrap_or_default()
                    )
                })?;
                request_authns.push(&**ra);
            }
            Resource::AuthorizationPolicy(ap) if selects(r, pod_labels) => policies.push(&**ap),
            _ => {}
        }
    }
    Ok(PodFilters {
        jwt: jwt::jwt_authentication(&request_authns, jwks),
        rbac: rbac_filters(&policies)?,
    })
}

/// An HTTP filter of the connection manager named `name` with its configuration `config`.
fn http_filter<M: Message + Name>(name: &str, config: M) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(ConfigType::TypedConfig(pack_any(config))),
        ..Default::default()
    }
}

/// A pod's inbound HTTP filters from the applied objects, to go before the router: the jwt_authn filter
/// when a RequestAuthentication selects the pod, then the RBAC filters (listener_builder.go's order).
/// `jwks(issuer, jwksUri)` answers for every `jwksUri` (the lab: its own key set).
pub fn inbound_http_filters(
    resources: &[Resource],
    pod_labels: &BTreeMap<String, String>,
    jwks: &dyn Fn(&str, &str) -> String,
) -> Result<Vec<HttpFilter>, String> {
    let PodFilters { jwt, rbac } = pod_filters(resources, pod_labels, jwks)?;
    let jwt = jwt.map(|c| http_filter(jwt::JWT_FILTER, c));
    Ok(jwt
        .into_iter()
        .chain(rbac.into_iter().map(|c| http_filter(RBAC_FILTER, c)))
        .collect())
}

/// The security policies in force on a pod with `pod_labels`, for `show`: each AuthorizationPolicy
/// (`AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing)`) and RequestAuthentication of the
/// namespace that selects it, in apply order.
pub fn policies_for(resources: &[Resource], pod_labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        match r {
            Resource::AuthorizationPolicy(ap) if selects(r, pod_labels) => {
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
            Resource::RequestAuthentication(ra) if selects(r, pod_labels) => {
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
/// (name on the connection manager, RBAC action, type URL). istiod puts the filters a workload needs
/// inline in its inbound listener and calls every RBAC filter `envoy.filters.http.rbac`; the lab keeps the
/// four places on every sidecar and hands each its configuration by ECDS — the same configurations, but a
/// change is in force for the next request, also on connections opened before it (a listener change
/// leaves those on the old filters until they drain) — so the places need names of their own.
pub const INBOUND_SLOTS: &[(&str, Option<Action>, &str)] = &[
    (jwt::JWT_FILTER, None, jwt::JWT_AUTHN_TYPE_URL),
    (
        "envoy.filters.http.rbac.audit",
        Some(Action::Log),
        RBAC_TYPE_URL,
    ),
    (
        "envoy.filters.http.rbac.deny",
        Some(Action::Deny),
        RBAC_TYPE_URL,
    ),
    (
        "envoy.filters.http.rbac.allow",
        Some(Action::Allow),
        RBAC_TYPE_URL,
    ),
];

/// Each of [`INBOUND_SLOTS`] with its configuration: the filter [`inbound_http_filters`] gives for it,
/// else one that lets every request through (jwt_authn without providers, RBAC without rules: Envoy
/// enforces nothing).
pub fn inbound_filter_slots(
    resources: &[Resource],
    pod_labels: &BTreeMap<String, String>,
    jwks: &dyn Fn(&str, &str) -> String,
) -> Result<Vec<TypedExtensionConfig>, String> {
    let PodFilters { jwt, rbac } = pod_filters(resources, pod_labels, jwks)?;
    Ok(INBOUND_SLOTS
        .iter()
        .map(|(name, slot_action, _)| {
            let config = match slot_action {
                None => pack_any(jwt.clone().unwrap_or_default()),
                Some(a) => pack_any(
                    rbac.iter()
                        .find(|f| builder::action_of(f) == *a)
                        .cloned()
                        .unwrap_or_default(),
                ),
            };
            TypedExtensionConfig {
                name: (*name).to_owned(),
                typed_config: Some(config),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests;
