//! The field walk: every field of every Istio kind the lab runs, set one at a time on an object the lab
//! accepts, must either be refused with a message naming it (or the block holding it) or change some
//! proxy's Envoy configuration. A field accepted and left unapplied fails the walk, as does an allow-list
//! entry the walk never saw accepted and translated (a pattern naming no field, or one whose translation is
//! missing).
//!
//! The fields come from the kcr types themselves (traced with serde-reflection), so a field a new Istio
//! release adds is walked without anyone listing it. Each field gets a sample value by its type and name
//! ([`sample`]), or the kind's override where the generic one would mean nothing (a subset the
//! DestinationRule does not define, a host outside the mesh).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mesh_manifests::Resource;
use mesh_manifests::kcr_networking_istio_io::v1 as net;
use mesh_manifests::kcr_security_istio_io::v1 as sec;
use serde_json::{Value, json};
use serde_reflection::{ContainerFormat, Format, Registry, Samples, Tracer, TracerConfig};

use super::pattern_matches;
use crate::model::registry::{self, Workload};
use crate::model::release::IstioRelease;
use crate::model::sidecar::Mode;
use crate::networking::core::cluster::Endpoint;
use crate::networking::core::configgen::{MeshSettings, SidecarOf, gateway_config, sidecar_config};

mod kinds;
mod tests;

/// One step of a field's path: a struct field, the first element of a list, or an entry of a map whose
/// values are objects (`headers: {NAME: {exact: …}}`).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Field(String),
    Index,
    Key,
}

/// The key the walk gives a map's entry.
const KEY: &str = "x-walk";

/// A field of a kind: its path under `spec` and its type.
#[derive(Clone, Debug)]
struct Leaf {
    path: Vec<Seg>,
    format: Format,
    /// A map of plain values (labels, selectors): set as a whole, its pattern ends in `**`.
    map: bool,
    /// The required fields beside the ones on the path, with their least values: without them the
    /// object does not load.
    fills: Vec<(Vec<Seg>, Value)>,
}

impl Leaf {
    /// `spec.http.0.timeout`: as a message names it.
    fn dotted(&self) -> String {
        let mut s = String::from("spec");
        for seg in &self.path {
            s.push('.');
            match seg {
                Seg::Field(f) => s.push_str(f),
                Seg::Index => s.push('0'),
                Seg::Key => s.push_str(KEY),
            }
        }
        s
    }

    /// `spec.http.*.timeout`: as the allow-lists write it.
    fn pattern_path(&self) -> Vec<String> {
        let mut p = vec!["spec".to_owned()];
        p.extend(self.path.iter().map(|s| match s {
            Seg::Field(f) => f.clone(),
            Seg::Index => "0".to_owned(),
            Seg::Key => KEY.to_owned(),
        }));
        if self.map {
            p.push("key".to_owned());
        }
        p
    }

    /// The field's own name: the last struct field on its path.
    fn name(&self) -> &str {
        self.path
            .iter()
            .rev()
            .find_map(|s| match s {
                Seg::Field(f) => Some(f.as_str()),
                Seg::Index | Seg::Key => None,
            })
            .unwrap_or("")
    }
}

/// The registry of every walked spec type.
fn registry() -> Registry {
    let mut tracer = Tracer::new(TracerConfig::default().is_human_readable(true));
    let samples = Samples::new();
    macro_rules! trace {
        ($($t:ty),*) => {$(tracer.trace_type::<$t>(&samples).expect("the kcr type traces");)*};
    }
    trace!(
        net::virtualservices::VirtualServiceSpec,
        net::destinationrules::DestinationRuleSpec,
        net::gateways::GatewaySpec,
        net::serviceentries::ServiceEntrySpec,
        net::sidecars::SidecarSpec,
        sec::peerauthentications::PeerAuthenticationSpec,
        sec::authorizationpolicies::AuthorizationPolicySpec,
        sec::requestauthentications::RequestAuthenticationSpec
    );
    tracer.registry_unchecked()
}

/// Every leaf field under the type named `root`.
fn leaves(reg: &Registry, root: &str) -> Vec<Leaf> {
    let mut out = Vec::new();
    let mut at = At {
        path: Vec::new(),
        fills: Vec::new(),
    };
    walk(reg, &Format::TypeName(root.to_owned()), &mut at, &mut out);
    out
}

/// Where the walk is: the path so far and the required fields met on the way.
struct At {
    path: Vec<Seg>,
    fills: Vec<(Vec<Seg>, Value)>,
}

fn walk(reg: &Registry, format: &Format, at: &mut At, out: &mut Vec<Leaf>) {
    assert!(at.path.len() < 16, "a recursive type at {:?}", at.path);
    let leaf = |at: &At, format: &Format, map| Leaf {
        path: at.path.clone(),
        format: format.clone(),
        map,
        fills: at.fills.clone(),
    };
    match format {
        Format::Option(inner) => walk(reg, inner, at, out),
        Format::Seq(inner) => {
            at.path.push(Seg::Index);
            walk(reg, inner, at, out);
            at.path.pop();
        }
        Format::Map { value, .. } if is_object(reg, value) => {
            at.path.push(Seg::Key);
            walk(reg, value, at, out);
            at.path.pop();
        }
        Format::Map { .. } => out.push(leaf(at, format, true)),
        Format::TypeName(name) => match reg.get(name) {
            Some(ContainerFormat::Struct(fields)) if !fields.is_empty() => {
                for f in fields {
                    let fills = at.fills.len();
                    for other in fields.iter().filter(|o| o.name != f.name) {
                        if !matches!(other.value, Format::Option(_)) {
                            let mut path = at.path.clone();
                            path.push(Seg::Field(other.name.clone()));
                            let least = least(reg, &other.value, &other.name);
                            at.fills.push((path, least));
                        }
                    }
                    at.path.push(Seg::Field(f.name.clone()));
                    walk(reg, &f.value, at, out);
                    at.path.pop();
                    at.fills.truncate(fills);
                }
            }
            Some(ContainerFormat::NewTypeStruct(inner)) => walk(reg, inner, at, out),
            _ => out.push(leaf(at, format, false)),
        },
        _ => out.push(leaf(at, format, false)),
    }
}

/// Is `format` a struct with fields (a map of such values is walked into)?
fn is_object(reg: &Registry, format: &Format) -> bool {
    match format {
        Format::Option(inner) => is_object(reg, inner),
        Format::TypeName(name) => {
            matches!(reg.get(name), Some(ContainerFormat::Struct(f)) if !f.is_empty())
        }
        _ => false,
    }
}

/// The least value of a required field: its own required fields, an empty list or map, a sample scalar.
fn least(reg: &Registry, format: &Format, name: &str) -> Value {
    match format {
        Format::Option(_) => Value::Null,
        Format::Seq(_) => json!([]),
        Format::Map { .. } => json!({}),
        Format::TypeName(t) => match reg.get(t) {
            Some(ContainerFormat::Struct(fields)) => Value::Object(
                fields
                    .iter()
                    .filter(|f| !matches!(f.value, Format::Option(_)))
                    .map(|f| (f.name.clone(), least(reg, &f.value, &f.name)))
                    .collect(),
            ),
            Some(ContainerFormat::NewTypeStruct(inner)) => least(reg, inner, name),
            _ => scalar(reg, format, name),
        },
        _ => scalar(reg, format, name),
    }
}

/// A value for `leaf` that means something to istiod: by its type, and for strings by the field's name.
fn sample(reg: &Registry, leaf: &Leaf) -> Value {
    scalar(reg, &leaf.format, leaf.name())
}

/// A value of a scalar (or plain map) type; strings by the field's name.
fn scalar(reg: &Registry, format: &Format, name: &str) -> Value {
    match format {
        Format::Map { value, .. } if matches!(**value, Format::Str) => {
            json!({"app": "recommendation"})
        }
        Format::Map { value, .. } => json!({"8080": least(reg, value, name)}),
        Format::Bool => json!(true),
        Format::F32 | Format::F64 => json!(50.0),
        Format::I8
        | Format::I16
        | Format::I32
        | Format::I64
        | Format::I128
        | Format::U8
        | Format::U16
        | Format::U32
        | Format::U64
        | Format::U128 => json!(3),
        Format::TypeName(t) => match reg.get(t) {
            Some(ContainerFormat::Enum(variants)) => {
                json!(
                    variants
                        .values()
                        .next()
                        .map(|v| v.name.clone())
                        .unwrap_or_default()
                )
            }
            _ => json!({}),
        },
        _ if is_duration(name) => json!("3s"),
        _ => json!(SAMPLE),
    }
}

/// The walk's string.
const SAMPLE: &str = "x";

/// Istio's duration fields, by name.
fn is_duration(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "timeout", "time", "delay", "interval", "maxage", "ttl", "duration",
    ]
    .iter()
    .any(|d| n.ends_with(d))
}

/// `base` with `leaf` set to `value`: into the first element of lists the base already has.
fn with_field(base: &Value, leaf: &Leaf, value: Value) -> Value {
    let mut doc = base.clone();
    for (path, least) in &leaf.fills {
        let at = place(&mut doc, path);
        if at.is_null() {
            *at = least.clone();
        }
    }
    *place(&mut doc, &leaf.path) = value;
    doc
}

/// The value at `path` under the document's `spec`, made (objects, a list's first element) where missing.
fn place<'a>(doc: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    let mut at = &mut doc["spec"];
    for seg in path {
        at = match seg {
            Seg::Field(_) | Seg::Key if !at.is_object() => {
                *at = json!({});
                continue_into(at, seg)
            }
            Seg::Field(_) | Seg::Key => continue_into(at, seg),
            Seg::Index => {
                if !at.is_array() {
                    *at = json!([]);
                }
                let items = at.as_array_mut().expect("a list");
                if items.is_empty() {
                    items.push(Value::Null);
                }
                &mut items[0]
            }
        };
    }
    at
}

/// The entry `seg` names in the object `at` (made null when missing).
fn continue_into<'a>(at: &'a mut Value, seg: &Seg) -> &'a mut Value {
    let key = match seg {
        Seg::Field(f) => f.as_str(),
        _ => KEY,
    };
    at.as_object_mut()
        .expect("an object")
        .entry(key.to_owned())
        .or_insert(Value::Null)
}

/// The lab's world for the walk: the three Services and five Deployments as they ship, and the
/// objects a kind's base needs (a Gateway, subsets, a ServiceEntry).
fn world(extra: &[&str]) -> Vec<Resource> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        "customer/kubernetes/Service.yml",
        "preference/kubernetes/Service.yml",
        "recommendation/kubernetes/Service.yml",
        "customer/kubernetes/Deployment.yml",
        "preference/kubernetes/Deployment.yml",
        "recommendation/kubernetes/Deployment.yml",
        "recommendation/kubernetes/Deployment-v2.yml",
        "recommendation/kubernetes/Deployment-v3.yml",
    ];
    files
        .iter()
        .chain(extra)
        .flat_map(|f| {
            let text = std::fs::read_to_string(root.join(f)).expect("the file ships");
            crate::fixtures::parse(&text)
        })
        .collect()
}

/// The key set every `jwksUri` resolves to in the walk.
const JWKS: &str = r#"{"keys":[]}"#;

/// Every proxy's configuration for `resources`: each Deployment's sidecar and the ingress gateway.
fn translate(resources: &[Resource]) -> Result<String, String> {
    let services = registry::services(resources)?;
    let workloads: Vec<Workload> = resources
        .iter()
        .filter_map(|r| match r {
            Resource::Deployment(d) => Some(registry::from_deployment(d, "walk.yml", 0)),
            _ => None,
        })
        .collect::<Result<_, _>>()?;
    let endpoints: Vec<Endpoint> = workloads
        .iter()
        .zip(20000u16..)
        .map(|(w, port)| Endpoint {
            labels: w.labels.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            identity: w.inject.then(|| w.identity()),
        })
        .collect();
    let internet = crate::fixtures::internet();
    let mesh = MeshSettings {
        outbound: Mode::AllowAny,
        istio: IstioRelease::CURRENT,
    };
    // A key set given for the URI the walk samples (`mesh-lab jwks set`), so a jwksUri shows its effect.
    let fetched = [(
        SAMPLE.to_owned(),
        r#"{"keys":[{"kty":"oct","k":"d2Fsaw"}]}"#.to_owned(),
    )]
    .into();
    let mut out = String::new();
    for (w, e) in workloads.iter().zip(&endpoints) {
        let dir = PathBuf::from("/walk").join(&w.name);
        let me = SidecarOf {
            labels: &w.labels,
            inbound: e.addr,
            app: SocketAddr::from(([127, 0, 0, 1], 30000 + e.addr.port() % 10000)),
            dir: &dir,
            jwks: JWKS,
            fetched: &fetched,
        };
        let d = sidecar_config(resources, &mesh, &services, &endpoints, &internet, &me)?;
        out.push_str(&format!("{}: {}\n", w.name, d.to_json()));
    }
    let gw = gateway_config(resources, &mesh, &services, &endpoints)?;
    out.push_str(&format!("gateway: {}\n", gw.to_json()));
    Ok(out)
}

/// Does `message` name the field at `leaf` or a block holding it (`spec.tcp` for `spec.tcp.0.route`), as a
/// whole path (`spec.http.0.cors` names neither `spec.http` nor `spec.http.0.corsPolicy`)?
fn names_field(message: &str, leaf: &Leaf) -> bool {
    let dotted = leaf.dotted();
    let parts: Vec<&str> = dotted.split('.').collect();
    (2..=parts.len()).any(|n| {
        let prefix = parts[..n].join(".");
        message.match_indices(&prefix).any(|(i, _)| {
            let next = message[i + prefix.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        })
    })
}

/// What the walk found for one field.
#[derive(Debug, PartialEq)]
enum Outcome {
    Refused,
    Translated,
    /// Accepted, no change, and the kind says why (`no_change`).
    Exempt,
    Problem(String),
}

/// What a kind's walk starts from and knows.
struct Kind {
    /// What the walk calls it in its findings.
    name: &'static str,
    /// The kcr spec type's name.
    spec: &'static str,
    /// The object walked, as YAML the lab accepts.
    base: &'static str,
    /// Shipped files the base needs beside the Services and Deployments.
    world: &'static [&'static str],
    /// Objects of the walk's own the base needs (YAML).
    extra: &'static str,
    /// The kind's allow-list (empty when it has none): each pattern must be seen accepted and translated.
    allowed: fn() -> Vec<String>,
    /// Sample values where the generic one means nothing: `(pattern, value)`.
    samples: &'static [(&'static str, &'static str)],
    /// Fields accepted on purpose without a change in any proxy: `(pattern, why)`.
    no_change: &'static [(&'static str, &'static str)],
}

impl Kind {
    fn sample_for(&self, reg: &Registry, leaf: &Leaf) -> Value {
        let path = leaf.pattern_path();
        self.samples
            .iter()
            .find(|(pat, _)| pattern_matches(pat, &path))
            .map(|(_, v)| serde_json::from_str(v).expect("a sample is JSON"))
            .unwrap_or_else(|| sample(reg, leaf))
    }

    fn exempt(&self, leaf: &Leaf) -> bool {
        let path = leaf.pattern_path();
        self.no_change
            .iter()
            .any(|(pat, _)| pattern_matches(pat, &path))
    }

    /// Walks every field; returns each field's outcome.
    fn walk(&self, reg: &Registry) -> Vec<(Leaf, Outcome)> {
        let base: Value = serde_yaml_ng::from_str(self.base).expect("the base is YAML");
        let mut world = world(self.world);
        if !self.extra.is_empty() {
            world.extend(crate::fixtures::parse(self.extra));
        }
        let before = self
            .try_doc(&world, &base)
            .unwrap_or_else(|e| panic!("the base {} is accepted and translated: {e}", self.name));
        leaves(reg, self.spec)
            .into_iter()
            .map(|leaf| {
                let doc = with_field(&base, &leaf, self.sample_for(reg, &leaf));
                // The blocks the field sits in, without the field: what it changes is measured from there.
                let without = match leaf.path.last() {
                    Some(Seg::Field(_)) => self
                        .try_doc(&world, &with_field(&base, &leaf, Value::Null))
                        .ok(),
                    _ => Some(before.clone()),
                };
                let outcome = self.outcome(&world, &doc, &leaf, without.as_deref());
                (leaf, outcome)
            })
            .collect()
    }

    /// Admission then translation of `doc` in `world`: the proxies' configuration, or the refusal.
    fn try_doc(&self, world: &[Resource], doc: &Value) -> Result<String, String> {
        let yaml = serde_json::to_string(doc).expect("JSON");
        let docs = mesh_manifests::parse_str(Path::new("walk.yml"), &yaml)
            .map_err(|e| format!("does not load: {e}"))?;
        let mut resources = world.to_vec();
        for d in docs {
            super::check(&d).map_err(|e| e.message)?;
            resources.push(d.resource);
        }
        translate(&resources)
    }

    /// `before`: the configuration without the field (`None`: refused without it, so the field made the
    /// difference).
    fn outcome(
        &self,
        world: &[Resource],
        doc: &Value,
        leaf: &Leaf,
        before: Option<&str>,
    ) -> Outcome {
        match self.try_doc(world, doc) {
            Err(m) if names_field(&m, leaf) => Outcome::Refused,
            Err(m) => Outcome::Problem(format!("refused without naming it: {m}")),
            Ok(after) if before != Some(after.as_str()) => Outcome::Translated,
            Ok(_) if self.exempt(leaf) => Outcome::Exempt,
            Ok(_) => Outcome::Problem("accepted, and no proxy's configuration changed".into()),
        }
    }
}

/// The walk's findings for every kind: fields accepted and not translated, refusals that do not name the
/// field, allow-list patterns never seen translated (by any kind of the same type: a redirect is walked from a
/// base that redirects, the rest of a rule's fields from one that routes).
fn problems(reg: &Registry) -> Vec<String> {
    let mut problems = Vec::new();
    let mut covered: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for kind in kinds::KINDS {
        let outcomes = kind.walk(reg);
        let allowed = (kind.allowed)();
        let mut exempted: BTreeSet<&str> = BTreeSet::new();
        for (leaf, outcome) in &outcomes {
            let path = leaf.pattern_path();
            if *outcome == Outcome::Exempt {
                exempted.extend(
                    kind.no_change
                        .iter()
                        .map(|(p, _)| *p)
                        .filter(|p| pattern_matches(p, &path)),
                );
            }
            match outcome {
                Outcome::Problem(p) => {
                    problems.push(format!("{} {}: {p}", kind.name, leaf.dotted()))
                }
                Outcome::Translated | Outcome::Exempt => {
                    covered.entry(kind.spec).or_default().extend(
                        allowed
                            .iter()
                            .filter(|p| pattern_matches(p, &path))
                            .cloned(),
                    )
                }
                Outcome::Refused => {}
            }
        }
        for (p, _) in kind.no_change.iter().filter(|(p, _)| !exempted.contains(p)) {
            problems.push(format!(
                "{} exempts {p}, but no field there was accepted unchanged",
                kind.name
            ));
        }
    }
    for kind in kinds::KINDS {
        let seen = covered.get(kind.spec);
        for p in (kind.allowed)() {
            if !seen.is_some_and(|s| s.contains(&p)) {
                problems.push(format!(
                    "{} allows {p}, but the walk never saw it accepted and translated",
                    kind.name
                ));
            }
        }
    }
    problems
}
