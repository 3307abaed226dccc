//! The lab's state: what has been applied (like the cluster's API server), the mesh-wide mode, and what
//! kubectl's verbs (apply, create, replace, delete, patch) do to it, answered in kubectl's words.

use anyhow::anyhow;
use mesh_manifests::{Document, Resource};
use serde::{Deserialize, Serialize};

use mesh_istiod::config::validation::kinds::{self, Does, LAB_KINDS};
use mesh_istiod::config::validation::{self, Effect, Unsupported};
use mesh_istiod::model::registry::{self, Workload};
use mesh_istiod::model::sidecar::Mode;

pub mod injection;
pub mod patch;
use patch::PatchType;

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

/// An applied Deployment, as a ReplicaSet sees it: how many pods, and its template.
pub struct Wanted<'a> {
    pub replicas: u32,
    deployment: &'a mesh_manifests::k8s_openapi::api::apps::v1::Deployment,
    file: &'a str,
}

impl Wanted<'_> {
    /// One pod of the template, named with `nonce` (another nonce, another pod name suffix).
    pub fn pod(&self, nonce: u64) -> anyhow::Result<Workload> {
        registry::from_deployment(self.deployment, self.file, nonce)
            .map_err(|e| anyhow!("{}: {e}", self.file))
    }
}

/// What `kubectl get` would list, for `show`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ObjectSummary {
    pub kind: String,
    pub name: String,
    pub file: String,
    pub summary: String,
}

/// `name` with the group of `kind` in `mesh_manifests::KINDS` (`name.networking.istio.io`), as kubectl writes it.
fn with_group(kind: &str, name: String) -> String {
    match mesh_manifests::KINDS.iter().find(|k| k.kind == kind) {
        Some(k) if !k.group.is_empty() => format!("{name}.{}", k.group),
        _ => name,
    }
}

/// kubectl's resource name for a kind (`serviceentry.networking.istio.io`).
pub fn kubectl_kind(kind: &str) -> String {
    with_group(kind, kind.to_ascii_lowercase())
}

/// The API server's resource for a kind, as its errors name it (`serviceentries.networking.istio.io`).
pub fn kubectl_resource(kind: &str) -> String {
    with_group(kind, plural(&kind.to_ascii_lowercase()))
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

/// What `kubectl create|replace|delete -f` does with each object of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileVerb {
    Create,
    Replace,
    Delete,
}

impl FileVerb {
    /// kubectl's `error when <doing> "FILE"`.
    fn doing(self) -> &'static str {
        match self {
            Self::Create => "creating",
            Self::Replace => "replacing",
            Self::Delete => "deleting",
        }
    }
}

/// What a file verb answers: kubectl's lines for the objects it changed, its errors for the others.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub lines: Vec<String>,
    pub errors: Vec<String>,
}

/// A document's object name; a mesh-config file (a merge patch without a name) names the object
/// `oc patch` patches.
fn object_name(doc: &Document) -> &str {
    doc.resource
        .name()
        .unwrap_or(match kinds::does(doc.resource.kind()) {
            Does::MeshConfig { object } => object,
            _ => "<unnamed>",
        })
}

/// The API server's NotFound, with `source` (kubectl's `error when … "FILE": `) before the object.
fn not_found(kind: &str, name: &str, source: &str) -> String {
    format!(
        "Error from server (NotFound): {source}{} \"{name}\" not found",
        kubectl_resource(kind)
    )
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
        let lines = docs
            .iter()
            .map(|doc| next.apply_document(doc, None))
            .collect::<Result<_, _>>()?;
        *self = next;
        Ok(lines)
    }

    /// Where `kind/name` is among the applied objects.
    fn position(&self, kind: &str, name: &str) -> Option<usize> {
        self.objects
            .iter()
            .position(|o| o.kind == kind && o.name == name)
    }

    /// Applies one document; `say` is the verb of its line for a kept object instead of apply's
    /// `created`/`configured`/`unchanged` (`create` and `replace` say `created` and `replaced`).
    fn apply_document(&mut self, doc: &Document, say: Option<&str>) -> Result<String, Unsupported> {
        let effect = validation::check(doc)?;
        let kind = doc.resource.kind();
        let name = object_name(doc).to_owned();
        let file = doc.file.display().to_string();
        let note = match effect {
            Effect::MeshMode(mode) => {
                let verb = if self.mesh_mode == mode {
                    "patched (no change)"
                } else {
                    "patched"
                };
                self.mesh_mode = mode;
                self.mesh_mode_source = file;
                return Ok(format!(
                    "{}/{name} {verb} (mesh outboundTrafficPolicy mode: {mode})",
                    kubectl_kind(kind)
                ));
            }
            Effect::Keep => None,
            Effect::Noted(n) => Some(n),
        };
        let applied = Applied {
            kind,
            name: name.clone(),
            file,
            api_version: doc.api_version.clone(),
            resource: doc.resource.clone(),
            note: note.clone(),
        };
        let verb = match self.position(kind, &name) {
            // The same object at another apiVersion is `configured`, as kubectl apply says: its
            // last-applied-configuration annotation records the apiVersion.
            Some(i)
                if self.objects[i].resource == doc.resource
                    && self.objects[i].api_version == doc.api_version =>
            {
                "unchanged"
            }
            Some(i) => {
                self.objects[i] = applied;
                "configured"
            }
            None => {
                self.objects.push(applied);
                "created"
            }
        };
        let suffix = note.map(|n| format!(" ({n})")).unwrap_or_default();
        Ok(format!(
            "{}/{name} {}{suffix}",
            kubectl_kind(kind),
            say.unwrap_or(verb)
        ))
    }

    /// `kubectl create|replace|delete -f FILE` of the file's documents, each object on its own as kubectl
    /// does it: an existing object is not created, a missing one neither replaced nor deleted, each with the
    /// API server's error, while the others go ahead. A document the lab cannot take refuses the whole file
    /// first, as `apply` does. The caller checks the result translates before keeping it.
    pub fn file_verb(&mut self, verb: FileVerb, docs: &[Document]) -> Result<Outcome, Unsupported> {
        if verb != FileVerb::Delete {
            for doc in docs {
                validation::check(doc)?;
            }
        }
        let mut out = Outcome::default();
        for doc in docs {
            let kind = doc.resource.kind();
            let name = object_name(doc);
            let source = format!(
                "error when {} {:?}: ",
                verb.doing(),
                doc.file.display().to_string()
            );
            let exists = matches!(kinds::does(kind), Does::MeshConfig { .. })
                || self.position(kind, name).is_some();
            let done = match (verb, exists) {
                (FileVerb::Create, true) => Err(format!(
                    "Error from server (AlreadyExists): {source}{} \"{name}\" already exists",
                    kubectl_resource(kind)
                )),
                (FileVerb::Create, false) => Ok(self.apply_document(doc, Some("created"))?),
                (FileVerb::Replace, true) => Ok(self.apply_document(doc, Some("replaced"))?),
                (FileVerb::Replace, false) => Err(not_found(kind, name, &source)),
                (FileVerb::Delete, _) => self.delete_object(kind, name, &source),
            };
            match done {
                Ok(line) => out.lines.push(line),
                Err(e) => out.errors.push(e),
            }
        }
        Ok(out)
    }

    /// Deletes `kind/name` (`kind` by name, plural, short name or kubectl's full name); `Err` in kubectl's
    /// words.
    pub fn delete(&mut self, kind: &str, name: &str) -> Result<String, String> {
        match parse_noted_kind(kind).or_else(|| parse_kind(kind)) {
            Some(k) => self.delete_object(k, name, ""),
            None => Err(format!(
                "error: the server doesn't have a resource type \"{kind}\" (the lab knows {})",
                runs_lowercase().join(", ")
            )),
        }
    }

    /// Deletes the object `kind/name` of a kind the lab runs; `source` is kubectl's `error when deleting
    /// "FILE": ` of `delete -f`, empty otherwise.
    fn delete_object(&mut self, kind: &str, name: &str, source: &str) -> Result<String, String> {
        match kinds::does(kind) {
            Does::Runs { .. } => match self.position(kind, name) {
                Some(i) => {
                    self.objects.remove(i);
                    Ok(format!("{} \"{name}\" deleted", kubectl_kind(kind)))
                }
                None => Err(not_found(kind, name, source)),
            },
            Does::Notes { .. } => Err(format!(
                "error: {} \"{name}\": the local mesh keeps {kind}s as applied without running them (the \
                 registry is read from */kubernetes/Service.yml when it starts, identities from the pod \
                 templates), so deleting one is not in its scope; run this step on a cluster",
                kubectl_kind(kind)
            )),
            Does::MeshConfig { .. } => Err(format!(
                "error: {} \"{name}\": the local mesh's mesh config is not deleted; `mesh-lab mode \
                 ALLOW_ANY` puts the outbound mode back",
                kubectl_kind(kind)
            )),
            Does::Refuses { fix } => Err(kinds::refusal(kind, fix)),
        }
    }

    /// `kubectl patch deployment NAME -p PATCH [--type strategic|merge|json]`: the Deployment with the patch
    /// applied, as a document to [`LabState::apply`]; `None` when it changes nothing (kubectl's
    /// `patched (no change)`).
    pub fn patched(
        &self,
        kind: &str,
        name: &str,
        patch: &str,
        how: PatchType,
    ) -> Result<Option<Document>, String> {
        if parse_kind(kind) != Some("Deployment") {
            return Err(format!(
                "the local mesh patches deployments only, not {kind:?}"
            ));
        }
        let Some(Resource::Deployment(d)) = self
            .position("Deployment", name)
            .map(|i| &self.objects[i].resource)
        else {
            return Err(not_found("Deployment", name, ""));
        };
        let mut value = serde_json::to_value(&**d).map_err(|e| e.to_string())?;
        patch::apply_patch(&mut value, patch, how)?;
        let mut patched = d.clone();
        *patched = serde_json::from_value(value)
            .map_err(|e| format!("the patched Deployment is invalid: {e}"))?;
        if patched == *d {
            return Ok(None);
        }
        Ok(Some(Document {
            file: format!("oc patch deployment {name}").into(),
            index: 0,
            api_version: "apps/v1".into(),
            resource: Resource::Deployment(patched),
        }))
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

    /// The applied Deployments as the lab runs them: each one's replica count and its pod template.
    pub fn wanted(&self) -> anyhow::Result<Vec<Wanted<'_>>> {
        let mut out = Vec::new();
        for o in self.deployments() {
            if let Resource::Deployment(d) = &o.resource {
                let replicas = registry::replicas(d).map_err(|e| anyhow!("{}: {e}", o.file))?;
                out.push(Wanted {
                    replicas,
                    deployment: d,
                    file: &o.file,
                });
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

#[cfg(test)]
mod tests;
