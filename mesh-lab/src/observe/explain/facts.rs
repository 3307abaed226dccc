//! What an explanation reads: the objects applied (as Istio's YAML names their fields), the repository's
//! files that could fix a mistake (istio/ and the Services' kubernetes/ directories), the running pods and
//! the Deployments with their replicas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mesh_manifests::{Document, Resource};
use serde_json::Value;

/// One object, its spec as JSON with Istio's field names (`http`, `subsets`, `connectionPool`).
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub kind: &'static str,
    pub name: String,
    /// For a shipped object, its file as the tutorial writes it (`istio/...yml`); for an applied one, where
    /// it came from.
    pub file: String,
    pub spec: Value,
}

impl Object {
    /// `resource` from `file`, if it has a name and a spec.
    pub fn of(resource: &Resource, file: String) -> Option<Self> {
        let value = match resource {
            Resource::VirtualService(r) => serde_json::to_value(&r.spec),
            Resource::DestinationRule(r) => serde_json::to_value(&r.spec),
            Resource::ServiceEntry(r) => serde_json::to_value(&r.spec),
            Resource::AuthorizationPolicy(r) => serde_json::to_value(&r.spec),
            Resource::RequestAuthentication(r) => serde_json::to_value(&r.spec),
            Resource::Gateway(r) => serde_json::to_value(&r.spec),
            Resource::Deployment(r) => serde_json::to_value(&r.spec),
            _ => return None,
        };
        Some(Self {
            kind: resource.kind(),
            name: resource.metadata()?.name.clone()?,
            file,
            spec: value.ok()?,
        })
    }
}

/// A running pod: its Deployment, name, labels and the addresses it is reached at (app and sidecar).
#[derive(Clone, Debug, PartialEq)]
pub struct PodFacts {
    pub deployment: String,
    pub pod: String,
    pub labels: BTreeMap<String, String>,
    pub addrs: Vec<String>,
}

/// Everything the fixes are read from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// What is applied.
    pub applied: Vec<Object>,
    /// The repository's files a learner can apply.
    pub shipped: Vec<Object>,
    pub pods: Vec<PodFacts>,
    /// The applied AuthorizationPolicies and RequestAuthentications in force per Deployment's pods.
    pub policies: BTreeMap<String, Vec<String>>,
    /// The time API's fault (`mesh-lab fault`), none when it behaves.
    pub fault: Option<String>,
}

/// The directories whose files a fix may name.
pub const SHIPPED_DIRS: &[&str] = &[
    "istio",
    "customer/kubernetes",
    "preference/kubernetes",
    "recommendation/kubernetes",
];

/// The objects of the repository's files under [`SHIPPED_DIRS`], each named by its path from `repo`.
pub fn shipped(repo: &Path) -> Vec<Object> {
    let dirs: Vec<PathBuf> = SHIPPED_DIRS.iter().map(|d| repo.join(d)).collect();
    let (docs, _unreadable) =
        mesh_manifests::load_paths_collecting(dirs.iter().filter(|d| d.is_dir()));
    docs.iter()
        .filter_map(|d: &Document| Object::of(&d.resource, from_repo(repo, &d.file)))
        .collect()
}

/// `file` as the tutorial writes it: relative to the repository root.
fn from_repo(repo: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(repo).unwrap_or(file);
    rel.display()
        .to_string()
        .trim_start_matches("./")
        .to_owned()
}

/// A host as written in a VirtualService or DestinationRule, or a cluster's FQDN, by its short name
/// (`recommendation.tutorial.svc.cluster.local` and `recommendation` are one Service).
pub fn short(host: &str) -> &str {
    match host.strip_suffix(".svc.cluster.local") {
        Some(h) => h.split('.').next().unwrap_or(h),
        None => host,
    }
}

impl Facts {
    /// The applied objects of `kind`.
    pub fn applied(&self, kind: &str) -> impl Iterator<Item = &Object> {
        self.applied.iter().filter(move |o| o.kind == kind)
    }

    /// The applied objects of `kind` whose `host`/`hosts` name `host`.
    pub fn for_host<'a>(
        &'a self,
        kind: &'a str,
        host: &'a str,
    ) -> impl Iterator<Item = &'a Object> {
        self.applied(kind)
            .filter(move |o| names_host(&o.spec, host))
    }

    /// The labels a DestinationRule subset `subset` of `host` selects, and the rule defining it.
    pub fn subset<'a>(
        &'a self,
        host: &'a str,
        subset: &str,
    ) -> Option<(&'a Object, BTreeMap<String, String>)> {
        self.for_host("DestinationRule", host)
            .find_map(|o| subset_labels(&o.spec, subset).map(|l| (o, l)))
    }

    /// The running pods whose labels include `labels` (all of `service`'s pods when empty).
    pub fn pods_with(&self, service: &str, labels: &BTreeMap<String, String>) -> Vec<&PodFacts> {
        self.pods
            .iter()
            .filter(|p| p.labels.get("app").map(String::as_str) == Some(service))
            .filter(|p| labels.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
            .collect()
    }

    /// The pod listening at `addr` (an access log's `upstream_host`).
    pub fn pod_at(&self, addr: &str) -> Option<&PodFacts> {
        self.pods.iter().find(|p| p.addrs.iter().any(|a| a == addr))
    }
}

/// Whether a spec's `host` or `hosts` names `host` (short names compared).
pub fn names_host(spec: &Value, host: &str) -> bool {
    let one = spec["host"].as_str().into_iter();
    let many = spec["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    one.chain(many).any(|h| short(h) == short(host))
}

/// The labels of the subset `name` of a DestinationRule's spec.
pub fn subset_labels(spec: &Value, name: &str) -> Option<BTreeMap<String, String>> {
    let s = spec["subsets"]
        .as_array()?
        .iter()
        .find(|s| s["name"].as_str() == Some(name))?;
    Some(
        s["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
    )
}

/// A Deployment spec's pod template labels.
pub fn template_labels(spec: &Value) -> BTreeMap<String, String> {
    spec["template"]["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}
