//! What the local mesh translates, and the clear refusal of everything else: the admission check istiod's
//! validating webhook makes (pkg/config/validation/validation.go, `ValidateVirtualService` & co.), narrowed
//! to the lab's scope.
//!
//! Every document is checked against an allow-list of field paths of its kind (on the typed object,
//! serialised back, so only fields the file really sets are seen). A field outside the list is an
//! error naming the file and the field (`spec.http.0.match`): the lab never ignores configuration
//! silently. Values the lab cannot honour (a port protocol other than HTTP, a subset other than v3,
//! …) are refused the same way. This module holds the entry point, [`check`], and the field-path
//! machinery; what the lab does with each kind is the table of [`kinds`], the checks of the kinds it runs are in
//! `networking` and `security`.

use std::path::Path;

use mesh_manifests::{Document, Resource};
use serde_json::Value;

use crate::model::policy;
use crate::model::sidecar::Mode;
use kinds::Does;

pub mod kinds;
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
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => {
            if !path.is_empty() && !allowed(patterns, path, false) {
                return Some(norm(path));
            }
            map.iter().map(|(k, v)| (k.clone(), v)).collect()
        }
        Value::Array(items) => {
            if !allowed(patterns, path, false) && !items.is_empty() {
                return Some(norm(path));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect()
        }
        Value::Null => return None,
        _ => return (!allowed(patterns, path, true)).then(|| norm(path)),
    };
    children.into_iter().find_map(|(segment, v)| {
        path.push(segment);
        let found = first_unsupported(v, path, patterns);
        path.pop();
        found
    })
}

/// Checks `spec` (and the namespace) of a serialised object against `patterns`.
fn check_fields(object: &Value, patterns: &[&str]) -> Result<(), String> {
    policy::check_namespace(object["metadata"]["namespace"].as_str())?;
    policy::check_export_to(&object["spec"]["exportTo"])?;
    let mut path = vec!["spec".to_owned()];
    match first_unsupported(&object["spec"], &mut path, patterns) {
        Some(field) => Err(policy::refuse(&field, &kinds::scope())),
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

/// What the table says the lab does with the kind; the kinds it runs and the mesh-config kinds are checked
/// by their own rules.
fn check_resource(file: &Path, resource: &Resource) -> Result<Effect, String> {
    match kinds::does(resource.kind()) {
        Does::Notes { note } => Ok(Effect::Noted(note.to_owned())),
        Does::Refuses { fix } => Err(kinds::refusal(resource.kind(), fix)),
        Does::Runs { .. } => check_run(file, resource).map(|()| Effect::Keep),
        Does::MeshConfig { .. } => mesh_config(resource),
    }
}

/// A kind the lab runs, by its rules (refused when it has none).
fn check_run(file: &Path, resource: &Resource) -> Result<(), String> {
    match resource {
        Resource::Deployment(d) => {
            crate::model::registry::from_deployment(d, &file.display().to_string(), 0).map(|_| ())
        }
        Resource::ServiceEntry(se) => networking::check_service_entry(se),
        Resource::VirtualService(vs) => networking::check_virtual_service(vs),
        Resource::DestinationRule(dr) => networking::check_destination_rule(dr),
        Resource::Gateway(g) => networking::check_gateway(g),
        Resource::Sidecar(sc) => networking::check_sidecar(sc),
        Resource::PeerAuthentication(pa) => security::check_peer_authentication(pa),
        Resource::AuthorizationPolicy(ap) => security::check_authorization_policy(ap),
        Resource::RequestAuthentication(ra) => security::check_request_authentication(ra),
        other => Err(kinds::refusal(other.kind(), kinds::ON_A_CLUSTER)),
    }
}

/// A mesh-config file: its outbound traffic policy is the mesh mode.
fn mesh_config(resource: &Resource) -> Result<Effect, String> {
    match resource {
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
        other => Err(kinds::refusal(other.kind(), kinds::ON_A_CLUSTER)),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod walk;
