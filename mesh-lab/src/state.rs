//! The lab's state: what has been applied (like the cluster's API server) and the mesh-wide mode.

use std::collections::BTreeMap;

use anyhow::anyhow;
use mesh_manifests::{Document, Resource};
use serde::Serialize;

use mesh_istiod::config::validation::kinds::{self, Does, LAB_KINDS};
use mesh_istiod::config::validation::{self, Effect, Unsupported};
use mesh_istiod::model::registry::{self, Workload};
use mesh_istiod::model::sidecar::Mode;

/// One applied object.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub kind: &'static str,
    pub name: String,
    pub file: String,
    /// The apiVersion it was applied at (the object is the same at each version Istio serves).
    pub api_version: String,
    pub resource: Resource,
    pub note: Option<String>,
}

/// Applied objects in apply order, and the mesh-wide outbound mode.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabState {
    pub objects: Vec<Applied>,
    pub mesh_mode: Mode,
    /// Where the mesh mode came from (`default`, `mesh-lab mode`, a file).
    pub mesh_mode_source: String,
}

/// What `kubectl get` would list, for `show`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ObjectSummary {
    pub kind: String,
    pub name: String,
    pub file: String,
    pub summary: String,
}

/// kubectl's resource name for a kind (`serviceentry.networking.istio.io`), from its group in
/// `mesh_manifests::KINDS`.
pub fn kubectl_kind(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match mesh_manifests::KINDS.iter().find(|k| k.kind == kind) {
        Some(k) if !k.group.is_empty() => format!("{lower}.{}", k.group),
        _ => lower,
    }
}

/// kubectl's plural (`serviceentries`, `sidecars`).
fn plural(lower: &str) -> String {
    match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    }
}

/// The kinds the lab runs, as kubectl writes them (`deployment`, `serviceentry`, …).
fn runs_lowercase() -> Vec<String> {
    kinds::runs_kinds().map(str::to_ascii_lowercase).collect()
}

/// `delete`'s help: the kinds it removes, every kind the lab runs.
pub fn delete_kinds_help() -> String {
    let mut runs = runs_lowercase();
    let last = runs.pop().unwrap_or_default();
    format!(
        "{} or {last} (short names and plurals work)",
        runs.join(", ")
    )
}

/// A kind of the table whose treatment `what` accepts, from `serviceentry`, `serviceentries`, `se`,
/// `ServiceEntry`, `serviceentry.networking.istio.io`, ….
fn parse_kind_that(s: &str, what: fn(&Does) -> bool) -> Option<&'static str> {
    let s = s.to_ascii_lowercase();
    let s = s.split('.').next().unwrap_or_default();
    LAB_KINDS
        .iter()
        .filter(|k| what(&k.does))
        .find(|k| {
            let lower = k.kind.to_ascii_lowercase();
            k.short_names.contains(&s) || s == lower || s == plural(&lower)
        })
        .map(|k| k.kind)
}

/// A kind the lab runs, by name, plural, short name or kubectl's full name.
pub fn parse_kind(s: &str) -> Option<&'static str> {
    parse_kind_that(s, |d| matches!(d, Does::Runs { .. }))
}

/// A kind the lab keeps without running, by name, plural, short name or kubectl's full name.
fn parse_noted_kind(s: &str) -> Option<&'static str> {
    parse_kind_that(s, |d| matches!(d, Does::Notes { .. }))
}

impl LabState {
    pub fn new() -> Self {
        Self {
            mesh_mode_source: "default".into(),
            ..Self::default()
        }
    }

    /// The applied resources, in order.
    pub fn resources(&self) -> Vec<Resource> {
        self.objects.iter().map(|o| o.resource.clone()).collect()
    }

    /// Applies every document (all or nothing), answering one kubectl-style line per document.
    /// The caller checks the result translates before keeping it.
    pub fn apply(&mut self, docs: &[Document]) -> Result<Vec<String>, Unsupported> {
        let mut next = self.clone();
        let mut lines = Vec::new();
        for doc in docs {
            let effect = validation::check(doc)?;
            let kind = doc.resource.kind();
            // Mesh-config files are merge patches without a name: the object `oc patch` names.
            let name = doc.resource.name().unwrap_or(match kinds::does(kind) {
                Does::MeshConfig { object } => object,
                _ => "<unnamed>",
            });
            let name = name.to_owned();
            let file = doc.file.display().to_string();
            match effect {
                Effect::MeshMode(mode) => {
                    let verb = if next.mesh_mode == mode {
                        "patched (no change)"
                    } else {
                        "patched"
                    };
                    next.mesh_mode = mode;
                    next.mesh_mode_source = file;
                    lines.push(format!(
                        "{}/{name} {verb} (mesh outboundTrafficPolicy mode: {mode})",
                        kubectl_kind(kind)
                    ));
                }
                Effect::Keep | Effect::Noted(_) => {
                    let note = match &effect {
                        Effect::Noted(n) => Some(n.clone()),
                        _ => None,
                    };
                    let applied = Applied {
                        kind,
                        name: name.clone(),
                        file,
                        api_version: doc.api_version.clone(),
                        resource: doc.resource.clone(),
                        note: note.clone(),
                    };
                    let verb = match next
                        .objects
                        .iter()
                        .position(|o| o.kind == kind && o.name == name)
                    {
                        // The same object at another apiVersion is `configured`, as kubectl apply says:
                        // its last-applied-configuration annotation records the apiVersion.
                        Some(i)
                            if next.objects[i].resource == doc.resource
                                && next.objects[i].api_version == doc.api_version =>
                        {
                            "unchanged"
                        }
                        Some(i) => {
                            next.objects[i] = applied;
                            "configured"
                        }
                        None => {
                            next.objects.push(applied);
                            "created"
                        }
                    };
                    let suffix = note.map(|n| format!(" ({n})")).unwrap_or_default();
                    lines.push(format!("{}/{name} {verb}{suffix}", kubectl_kind(kind)));
                }
            }
        }
        *self = next;
        Ok(lines)
    }

    /// Deletes `kind/name`; `Err` with kubectl's NotFound wording.
    pub fn delete(&mut self, kind: &str, name: &str) -> Result<String, String> {
        if let Some(noted) = parse_noted_kind(kind) {
            return Err(format!(
                "error: {} \"{name}\": the local mesh keeps {noted}s as applied without running them (the \
                 registry is read from */kubernetes/Service.yml when it starts, identities from the pod \
                 templates), so deleting one is not in its scope; run this step on a cluster",
                kubectl_kind(noted)
            ));
        }
        let Some(k) = parse_kind(kind) else {
            return Err(format!(
                "error: the server doesn't have a resource type \"{kind}\" (the lab knows {})",
                runs_lowercase().join(", ")
            ));
        };
        match self
            .objects
            .iter()
            .position(|o| o.kind == k && o.name == name)
        {
            Some(i) => {
                self.objects.remove(i);
                Ok(format!("{} \"{name}\" deleted", kubectl_kind(k)))
            }
            None => Err(format!(
                "Error from server (NotFound): {}s \"{name}\" not found",
                kubectl_kind(k)
            )),
        }
    }

    /// `oc patch deployment NAME --type merge -p PATCH`: the Deployment with the JSON merge patch (RFC 7386)
    /// applied, as a document to [`LabState::apply`].
    pub fn patched(&self, kind: &str, name: &str, patch: &str) -> Result<Document, String> {
        if parse_kind(kind) != Some("Deployment") {
            return Err(format!(
                "the local mesh patches deployments only, not {kind:?}"
            ));
        }
        let patch: serde_json::Value =
            serde_json::from_str(patch).map_err(|e| format!("the patch is not JSON: {e}"))?;
        let Some(Resource::Deployment(d)) = self
            .objects
            .iter()
            .find(|o| o.kind == "Deployment" && o.name == name)
            .map(|o| &o.resource)
        else {
            return Err(format!(
                "Error from server (NotFound): deployments.apps \"{name}\" not found"
            ));
        };
        let mut value = serde_json::to_value(&**d).map_err(|e| e.to_string())?;
        merge_patch(&mut value, &patch);
        let patched = serde_json::from_value(value)
            .map_err(|e| format!("the patched Deployment is invalid: {e}"))?;
        Ok(Document {
            file: format!("oc patch deployment {name}").into(),
            index: 0,
            api_version: "apps/v1".into(),
            resource: Resource::Deployment(Box::new(patched)),
        })
    }

    /// Sets the mesh-wide mode (the `istio` ConfigMap / SMCP / Istio resource on a cluster).
    pub fn set_mode(&mut self, mode: Mode, source: &str) -> String {
        let before = self.mesh_mode;
        self.mesh_mode = mode;
        self.mesh_mode_source = source.into();
        let sidecar = self.objects.iter().any(
            |o| matches!(&o.resource, Resource::Sidecar(s) if mesh_istiod::model::sidecar::sidecar_mode(s).is_some()),
        );
        format!(
            "mesh outboundTrafficPolicy mode: {before} -> {mode}{}",
            if sidecar {
                " (a Sidecar's outboundTrafficPolicy keeps the workloads it selects in its own mode)"
            } else {
                ""
            }
        )
    }

    /// The applied Deployments.
    pub fn deployments(&self) -> impl Iterator<Item = &Applied> {
        self.objects.iter().filter(|o| o.kind == "Deployment")
    }

    /// The workloads the applied Deployments describe, keyed by Deployment name.
    pub fn workloads(&self, nonce: u64) -> anyhow::Result<BTreeMap<String, Workload>> {
        let mut out = BTreeMap::new();
        for o in self.deployments() {
            if let Resource::Deployment(d) = &o.resource {
                let w = registry::from_deployment(d, &o.file, nonce)
                    .map_err(|e| anyhow!("{}: {e}", o.file))?;
                out.insert(w.name.clone(), w);
            }
        }
        Ok(out)
    }

    /// One line per applied object, for `show`.
    pub fn summaries(&self) -> Vec<ObjectSummary> {
        self.objects
            .iter()
            .map(|o| ObjectSummary {
                kind: o.kind.to_owned(),
                name: o.name.clone(),
                file: o.file.clone(),
                summary: summarise(o),
            })
            .collect()
    }
}

fn summarise(o: &Applied) -> String {
    if let Some(n) = &o.note {
        return n.clone();
    }
    match &o.resource {
        Resource::ServiceEntry(se) => {
            let ports: Vec<String> = se
                .spec
                .ports
                .iter()
                .flatten()
                .map(|p| format!("{}/{}", p.number, p.protocol.as_deref().unwrap_or("?")))
                .collect();
            format!(
                "hosts {} ports {}",
                se.spec.hosts.join(","),
                ports.join(",")
            )
        }
        Resource::VirtualService(vs) => {
            let hosts = vs.spec.hosts.clone().unwrap_or_default().join(",");
            let timeouts: Vec<String> = vs
                .spec
                .http
                .iter()
                .flatten()
                .filter_map(|h| h.timeout.clone())
                .collect();
            if timeouts.is_empty() {
                format!("hosts {hosts}")
            } else {
                format!("hosts {hosts} timeout {}", timeouts.join(","))
            }
        }
        Resource::PeerAuthentication(pa) => {
            let mode = pa
                .spec
                .mtls
                .as_ref()
                .and_then(|m| m.mode.as_ref())
                .map_or("UNSET".to_owned(), |m| {
                    to_value_string(m).unwrap_or_else(|| "UNSET".into())
                });
            match pa
                .spec
                .selector
                .as_ref()
                .and_then(|s| s.match_labels.as_ref())
            {
                Some(l) if !l.is_empty() => {
                    let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    format!("mtls {mode} for pods {}", l.join(","))
                }
                _ => format!("mtls {mode} for the namespace"),
            }
        }
        Resource::Sidecar(s) => match mesh_istiod::model::sidecar::sidecar_mode(s) {
            Some(m) => format!("outboundTrafficPolicy {m}"),
            None => "no outboundTrafficPolicy".into(),
        },
        Resource::Deployment(d) => {
            let labels = d
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("pod labels {}", labels.join(","))
        }
        other => other.kind().into(),
    }
}

fn to_value_string<T: Serialize>(t: &T) -> Option<String> {
    serde_json::to_value(t).ok()?.as_str().map(str::to_owned)
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::json!({});
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
        }
    }
}

#[cfg(test)]
mod tests;
