//! `istioctl analyze` for what the tutorial can get wrong (pkg/config/analysis): the applied objects in,
//! istioctl's messages out, each with its code, level and text from pkg/config/analysis/msg/messages.yaml.
//! Pure: the caller gathers the objects (the running lab's, files, or both) and prints.
//!
//! The analyzers, each following its upstream file:
//! - IST0101 ReferencedResourceNotFound: a destination's subset no DestinationRule defines
//!   (analyzers/virtualservice/destinationrules.go), a destination host no Service or ServiceEntry declares
//!   (analyzers/virtualservice/destinationhosts.go), a gateway that does not exist
//!   (analyzers/virtualservice/gateways.go);
//! - IST0132 VirtualServiceHostNotFoundInGateway (analyzers/virtualservice/gateways.go);
//! - IST0130 VirtualServiceUnreachableRule and IST0131 VirtualServiceIneffectiveMatch: rules after a
//!   catch-all and repeated matches (pkg/config/validation/validation.go `analyzeUnreachableHTTPRules`,
//!   reported by analyzers/schema/validation.go).

use std::fmt;

use mesh_manifests::Resource;
use serde_json::Value;

use crate::model::registry::NAMESPACE;

mod gateways;
mod lines;
mod routes;
mod rules;
#[cfg(test)]
mod tests;

/// A message's level (pkg/config/analysis/diag/level.go), in istioctl's sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "Error",
            Level::Warning => "Warning",
            Level::Info => "Info",
        })
    }
}

/// One finding, on one object (pkg/config/analysis/diag/message.go).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub code: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The template of messages.yaml filled in.
    pub text: String,
    /// The field the message is about, as upstream's `util.ErrorLine` keys name it
    /// (`{.spec.http[0].route[0].destination.host}`).
    pub field: Option<String>,
    /// Where a file's object was written, `FILE:LINE` ([`locate`]); `None` for a cluster's (the lab's).
    pub reference: Option<String>,
}

impl Message {
    fn at(mut self, field: String) -> Self {
        self.field = Some(field);
        self
    }
}

impl fmt::Display for Message {
    /// `Error [IST0101] (VirtualService tutorial/recommendation) Referenced …`, as `Message.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reference = self
            .reference
            .as_deref()
            .map(|r| format!(" {r}"))
            .unwrap_or_default();
        write!(
            f,
            "{} [{}] ({} {}/{}{reference}) {}",
            self.level, self.code, self.kind, self.namespace, self.name, self.text
        )
    }
}

/// One object as the analyzers read it: its spec as JSON with Istio's field names.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub spec: Value,
}

impl Object {
    /// `resource` as analysed; `None` for kinds no analyzer reads or an object without a name.
    pub fn of(resource: &Resource) -> Option<Self> {
        let spec = match resource {
            Resource::VirtualService(r) => serde_json::to_value(&r.spec),
            Resource::DestinationRule(r) => serde_json::to_value(&r.spec),
            Resource::ServiceEntry(r) => serde_json::to_value(&r.spec),
            Resource::Gateway(r) => serde_json::to_value(&r.spec),
            Resource::Service(r) => serde_json::to_value(&r.spec),
            _ => return None,
        };
        let meta = resource.metadata()?;
        Some(Self {
            kind: resource.kind(),
            namespace: meta.namespace.clone().unwrap_or_else(|| NAMESPACE.into()),
            name: meta.name.clone()?,
            spec: spec.ok()?,
        })
    }

    fn message(&self, level: Level, code: &'static str, text: String) -> Message {
        Message {
            level,
            code,
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            text,
            field: None,
            reference: None,
        }
    }

    /// IST0101 ReferencedResourceNotFound: `Referenced %s not found: %q`.
    fn not_found(&self, reftype: &str, refval: &str) -> Message {
        let text = format!("Referenced {reftype} not found: {}", quote(refval));
        self.message(Level::Error, "IST0101", text)
    }
}

/// Go's `%q` of a string.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The objects of `resources` the analyzers read; a later object of the same kind, namespace and name
/// replaces an earlier one (files given with `-f` over the cluster's, as istioctl merges them).
pub fn objects(resources: &[Resource]) -> Vec<Object> {
    let mut out: Vec<Object> = Vec::new();
    for o in resources.iter().filter_map(Object::of) {
        match out
            .iter_mut()
            .find(|p| (p.kind, &p.namespace, &p.name) == (o.kind, &o.namespace, &o.name))
        {
            Some(p) => *p = o,
            None => out.push(o),
        }
    }
    out
}

pub use lines::{Source, locate};

/// Every analyzer on `resources`: istioctl's messages, sorted and deduplicated as it prints them
/// (`Messages.SortedDedupedCopy`: level, code, then the object).
pub fn analyze(resources: &[Resource]) -> Vec<Message> {
    let objects = objects(resources);
    let mut messages = Vec::new();
    for vs in objects.iter().filter(|o| o.kind == "VirtualService") {
        messages.extend(rules::destination_subsets(vs, &objects));
        messages.extend(rules::destination_hosts(vs, &objects));
        messages.extend(gateways::analyze(vs, &objects));
        messages.extend(routes::unreachable(vs));
    }
    sort(&mut messages);
    messages
}

/// `istioctl analyze -f FILE…`: the objects of `sources` over `cluster`'s (none with `--use-kube=false`),
/// analysed, each message on a file's object naming its `FILE:LINE`. `Err` names a file that does not parse.
pub fn analyze_files(
    mut cluster: Vec<Resource>,
    sources: &[Source],
) -> Result<Vec<Message>, mesh_manifests::LoadError> {
    for s in sources {
        let docs = mesh_manifests::parse_str(std::path::Path::new(&s.file), &s.text)?;
        cluster.extend(docs.into_iter().map(|d| d.resource));
    }
    let mut messages = analyze(&cluster);
    locate(&mut messages, sources);
    Ok(messages)
}

/// istioctl analyze's line when it finds nothing: the files it read (`names`), else the namespace.
pub fn no_issues(names: &[String]) -> String {
    match names {
        [] => format!("✔ No validation issues found when analyzing namespace: {NAMESPACE}."),
        [one] => format!("✔ No validation issues found when analyzing {one}."),
        many => format!(
            "✔ No validation issues found when analyzing:\n  - {}",
            many.join("\n  - ")
        ),
    }
}

/// istioctl's order, duplicates dropped (`Messages.SortedDedupedCopy`): level, code, the object, then the line.
fn sort(messages: &mut Vec<Message>) {
    messages.sort_by(|a, b| {
        (
            a.level,
            a.code,
            a.kind,
            &a.name,
            &a.namespace,
            a.to_string(),
        )
            .cmp(&(
                b.level,
                b.code,
                b.kind,
                &b.name,
                &b.namespace,
                b.to_string(),
            ))
    });
    messages.dedup_by(|a, b| a.to_string() == b.to_string());
}

/// Whether istioctl exits non-zero for `messages`: one at `--failure-threshold`'s default, Error, or worse
/// (istioctl/pkg/analyze/analyze.go `errorIfMessagesExceedThreshold`).
pub fn fails(messages: &[Message]) -> bool {
    messages.iter().any(|m| m.level == Level::Error)
}

/// The exit status istioctl gives when analyzers found issues (istioctl/cmd/sysexits.go
/// `ExitAnalyzerFoundIssues`).
pub const EXIT_FOUND_ISSUES: u8 = 79;

/// The namespace a VirtualService's short host names, as `util.GetResourceNameFromHost`:
/// `reviews.prod.svc.cluster.local` is prod's reviews, `reviews` the object's own namespace's.
fn resource_name(namespace: &str, host: &str) -> (String, String) {
    match host
        .strip_suffix(".svc.cluster.local")
        .and_then(|rest| rest.split_once('.'))
    {
        Some((name, ns)) => (ns.to_owned(), name.to_owned()),
        None => (namespace.to_owned(), host.to_owned()),
    }
}

/// Does host `a` match `b`, either a wildcard (`*`, `*.example.com`) (pkg/config/host `Name.Matches`)?
fn hosts_match(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(sa), Some(sb)) => sa.ends_with(sb) || sb.ends_with(sa),
        (Some(sa), None) => b.ends_with(sa),
        (None, Some(sb)) => a.ends_with(sb),
        (None, None) => a == b,
    }
}
