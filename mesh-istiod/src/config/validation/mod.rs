//! What the local mesh translates, and the clear refusal of everything else: the admission check istiod's
//! validating webhook makes (pkg/config/validation/validation.go, `ValidateVirtualService` & co.), narrowed
//! to the lab's scope.
//!
//! Every document is checked against an allow-list of field paths of its kind (on the typed object,
//! serialised back, so only fields the file really sets are seen). A field outside the list is an
//! error naming the file and the field (`spec.http.0.match`): the lab never ignores configuration
//! silently. Values the lab cannot honour (a port protocol other than HTTP, a subset other than v3,
//! …) are refused the same way. This module holds the entry point, [`check`], and the field-path
//! machinery; the kinds' checks are in `networking` and `security`.

use std::path::Path;

use mesh_manifests::{Document, Resource};
use serde_json::Value;

use crate::model::sidecar::Mode;

mod networking;
mod security;

/// How an accepted document affects the lab.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// An object the lab keeps and translates (networking objects, Deployments).
    Keep,
    /// Sets the mesh-wide outbound mode.
    MeshMode(Mode),
    /// Accepted and kept, without effect on the local mesh; the text says why.
    Noted(String),
}

/// A document the lab refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}: {kind} {name}: {message}")]
pub struct Unsupported {
    pub file: String,
    pub kind: String,
    pub name: String,
    pub message: String,
}

/// The kinds the local mesh runs: kept and translated into the proxies' configuration ([`Effect::Keep`]).
/// `show` lists them, `delete` removes them, and every text naming what the lab runs names these (tests hold
/// each to this list, and this list to `mesh_manifests::KINDS`).
pub const RUNS: &[&str] = &[
    "Deployment",
    "ServiceEntry",
    "VirtualService",
    "DestinationRule",
    "Gateway",
    "Sidecar",
    "PeerAuthentication",
    "AuthorizationPolicy",
    "RequestAuthentication",
];

/// The mesh-config kinds (merge patches of istio/) whose outbound traffic policy is the mesh mode
/// ([`Effect::MeshMode`]).
pub const MESH_CONFIG: &[&str] = &["ServiceMeshControlPlane", "Istio"];

/// Kinds kept without effect on the local mesh ([`Effect::Noted`], which says why).
pub const NOTED: &[&str] = &["Service", "ServiceAccount"];

const SCOPE: &str = "the local mesh translates ServiceEntry hosts/ports (protocol HTTP), VirtualServices \
(match on headers and uri, weighted routes, mirror, retries, timeout, fault, rewrite), DestinationRule subsets and \
trafficPolicy (loadBalancer, connectionPool, outlierDetection), Gateways, Sidecar outboundTrafficPolicy, \
PeerAuthentication mtls.mode and selector.matchLabels, AuthorizationPolicy ALLOW/DENY rules, RequestAuthentication \
jwtRules, Deployments and the mesh-config files of istio/";

fn norm(path: &[String]) -> String {
    path.join(".")
}

fn pattern_matches(pattern: &str, path: &[String]) -> bool {
    let parts: Vec<&str> = pattern.split('.').collect();
    let mut i = 0;
    for (n, p) in parts.iter().enumerate() {
        if *p == "**" {
            return path.len() > n;
        }
        let Some(seg) = path.get(i) else { return false };
        if *p != "*" && p != seg {
            return false;
        }
        i += 1;
    }
    i == path.len()
}

/// Is `path` (a leaf or an inner node) allowed: a pattern equals it or extends it?
fn allowed(patterns: &[&str], path: &[String], leaf: bool) -> bool {
    patterns.iter().any(|pat| {
        if leaf {
            return pattern_matches(pat, path);
        }
        // an inner node: some pattern must go through it
        let parts: Vec<&str> = pat.split('.').collect();
        if parts.len() <= path.len() {
            return parts.last() == Some(&"**") && pattern_matches(pat, path);
        }
        path.iter()
            .zip(&parts)
            .all(|(seg, p)| *p == "**" || *p == "*" || p == seg)
    })
}

/// The first field under `value` (at `path`) no pattern allows.
fn first_unsupported(value: &Value, path: &mut Vec<String>, patterns: &[&str]) -> Option<String> {
    match value {
        Value::Object(map) => {
            if !path.is_empty() && !allowed(patterns, path, false) {
                return Some(norm(path));
            }
            for (k, v) in map {
                path.push(k.clone());
                let found = first_unsupported(v, path, patterns);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        Value::Array(items) => {
            if !allowed(patterns, path, false) && !items.is_empty() {
                return Some(norm(path));
            }
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                let found = first_unsupported(v, path, patterns);
                path.pop();
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        Value::Null => None,
        _ => (!allowed(patterns, path, true)).then(|| norm(path)),
    }
}

/// Checks `spec` (and the namespace) of a serialised object against `patterns`.
fn check_fields(object: &Value, patterns: &[&str]) -> Result<(), String> {
    if let Some(ns) = object["metadata"]["namespace"].as_str()
        && ns != crate::model::registry::NAMESPACE
    {
        return Err(format!(
            "metadata.namespace {ns:?}: the lab plays namespace {:?} only",
            crate::model::registry::NAMESPACE
        ));
    }
    let mut path = vec!["spec".to_owned()];
    match first_unsupported(&object["spec"], &mut path, patterns) {
        Some(field) => Err(format!(
            "field {field} is not supported by the local mesh ({SCOPE}); remove it or run this step on a cluster"
        )),
        None => Ok(()),
    }
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// Checks one document; `Ok` says how it affects the lab.
pub fn check(doc: &Document) -> Result<Effect, Unsupported> {
    let file = doc.location();
    check_resource(&doc.file, &doc.resource).map_err(|message| Unsupported {
        file,
        kind: doc.resource.kind().to_owned(),
        name: doc.resource.name().unwrap_or("<unnamed>").to_owned(),
        message,
    })
}

fn check_resource(file: &Path, resource: &Resource) -> Result<Effect, String> {
    match resource {
        Resource::ServiceEntry(se) => networking::check_service_entry(se).map(|()| Effect::Keep),
        Resource::VirtualService(vs) => networking::check_virtual_service(vs).map(|()| Effect::Keep),
        Resource::DestinationRule(dr) => {
            networking::check_destination_rule(dr).map(|()| Effect::Keep)
        }
        Resource::Gateway(g) => networking::check_gateway(g).map(|()| Effect::Keep),
        Resource::Deployment(d) => {
            crate::model::registry::from_deployment(d, &file.display().to_string(), 0)?;
            Ok(Effect::Keep)
        }
        Resource::Service(_) => Ok(Effect::Noted(
            "kept; the local mesh reads its registry from */kubernetes/Service.yml when it starts"
                .into(),
        )),
        Resource::ServiceAccount(_) => Ok(Effect::Noted(
            "kept; a workload's identity comes from its pod template's serviceAccountName \
             (spiffe://cluster.local/ns/tutorial/sa/NAME), which needs no ServiceAccount object in the lab"
                .into(),
        )),
        Resource::AuthorizationPolicy(ap) => {
            security::check_authorization_policy(ap).map(|()| Effect::Keep)
        }
        Resource::RequestAuthentication(ra) => {
            security::check_request_authentication(ra).map(|()| Effect::Keep)
        }
        Resource::PeerAuthentication(pa) => {
            security::check_peer_authentication(pa).map(|()| Effect::Keep)
        }
        Resource::Sidecar(sc) => networking::check_sidecar(sc).map(|()| Effect::Keep),
        Resource::ServiceMeshControlPlane(smcp) => Ok(Effect::MeshMode(
            smcp.spec
                .proxy
                .networking
                .traffic_control
                .outbound
                .policy
                .into(),
        )),
        Resource::Istio(istio) => match istio
            .spec
            .values
            .as_ref()
            .and_then(|v| v.mesh_config.as_ref())
            .and_then(|m| m.outbound_traffic_policy.as_ref())
        {
            Some(p) => Ok(Effect::MeshMode(p.mode.into())),
            None => Ok(Effect::Noted(
                "no spec.values.meshConfig.outboundTrafficPolicy: the mesh mode is unchanged"
                    .into(),
            )),
        },
        other => Err(format!(
            "kind {} is not part of the local mesh: it runs {} and takes the mesh mode from the mesh-config files \
             of istio/ ({}); apply it on a cluster",
            other.kind(),
            RUNS.join(", "),
            MESH_CONFIG.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests;
