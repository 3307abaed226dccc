//! `get`: lists, single objects, and the jsonpath expressions the scripts read.

use std::fmt::Write as _;

use serde_json::Value;

use crate::cli::{Args, cluster_scoped, group_of, not_found};
use crate::rules::Mesh;
use crate::{Cluster, Reply};

impl Cluster {
    pub(crate) fn get(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("unknown resource");
        };
        let ns = self.ns_of(a);
        let output = a.get("-o").map(str::to_owned);
        match kind {
            "ServiceMeshControlPlane" if self.profile.mesh == Mesh::Ossm3 => Err((
                1,
                "error: the server doesn't have a resource type \"smcp\"\n".into(),
            )),
            "Istio" if self.profile.mesh == Mesh::Ossm2 => Err((
                1,
                "error: the server doesn't have a resource type \"istio\"\n".into(),
            )),
            _ if name.is_empty() => self.get_list(kind, &ns, a, output.as_deref()),
            _ => self.get_one(kind, &ns, &name, output.as_deref()),
        }
    }

    pub(crate) fn get_list(
        &mut self,
        kind: &str,
        ns: &str,
        a: &Args,
        output: Option<&str>,
    ) -> Reply {
        let scope = if a.has("-A") || cluster_scoped(kind) {
            None
        } else {
            Some(ns)
        };
        let mut items = self.list(kind, scope);
        if let Some(sel) = a.get("-l") {
            items.retain(|o| {
                sel.split(',').all(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    o["metadata"]["labels"][k].as_str() == Some(v)
                })
            });
        }
        if kind == "Pod" {
            items.retain(|p| p["_fake"]["build"].as_bool() != Some(true) || a.get("-l").is_none());
        }
        match (kind, output) {
            (
                "ServiceMeshControlPlane",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}"#,
                ),
            ) => Ok(rows(&items, &[".metadata.namespace", ".metadata.name"])),
            ("Istio", Some("jsonpath={.items[*].metadata.name}")) => Ok(items
                .iter()
                .filter_map(|o| o["metadata"]["name"].as_str())
                .collect::<Vec<_>>()
                .join(" ")),
            (
                "Istio",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.status.activeRevisionName}{"\n"}{end}"#,
                ),
            ) => Ok(rows(
                &items,
                &[".metadata.name", ".status.activeRevisionName"],
            )),
            ("Pod", None) => {
                if items.is_empty() {
                    return Ok(format!("No resources found in {ns} namespace.\n"));
                }
                let header = if a.has("--no-headers") {
                    String::new()
                } else {
                    "NAME   READY   STATUS   RESTARTS   AGE\n".to_owned()
                };
                Ok(items.iter().fold(header, |mut s, p| {
                    let (ready, status) = self.pod_status(p);
                    let _ = writeln!(
                        s,
                        "{}   {ready}   {status}   0   1m",
                        p["metadata"]["name"].as_str().unwrap_or("")
                    );
                    s
                }))
            }
            (
                "Pod",
                Some(
                    r#"jsonpath={range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[*].state.waiting.reason}{"\n"}{end}"#,
                ),
            ) => Ok(items.iter().fold(String::new(), |mut s, p| {
                let waiting: Vec<&str> = self.container_states(p).into_iter().flatten().collect();
                let _ = writeln!(
                    s,
                    "{} {}",
                    p["metadata"]["name"].as_str().unwrap_or(""),
                    waiting.join(" ")
                );
                s
            })),
            (_, Some("name")) => Ok(items.iter().fold(String::new(), |mut s, o| {
                let _ = writeln!(
                    s,
                    "{}/{}",
                    group_of(kind),
                    o["metadata"]["name"].as_str().unwrap_or("")
                );
                s
            })),
            _ => self.strict("no such list output in the fake"),
        }
    }

    pub(crate) fn get_one(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        output: Option<&str>,
    ) -> Reply {
        let scoped = if cluster_scoped(kind) { "" } else { ns };
        let ignore = self.args.iter().any(|a| a == "--ignore-not-found");
        match (self.obj(kind, scoped, name).is_some(), output) {
            (false, _) if ignore => return Ok(String::new()),
            (true, Some("name")) => return Ok(format!("{}/{name}\n", group_of(kind))),
            (true, Some(o)) if JSONPATHS.contains(&(kind, o)) => {
                let obj = self.obj(kind, scoped, name).cloned().unwrap_or_default();
                return Ok(jsonpath(&obj, o.trim_start_matches("jsonpath=")));
            }
            _ => {}
        }
        let scoped_ns = scoped;
        if kind == "ServiceAccount" {
            self.refresh_pull_secret(ns, name);
        }
        let Some(o) = self.obj(kind, scoped_ns, name).cloned() else {
            let plural = match kind {
                "Namespace" => "namespaces".to_owned(),
                "ImageStreamTag" => "imagestreamtags.image.openshift.io".to_owned(),
                "Build" => "builds.build.openshift.io".to_owned(),
                "Route" => "routes.route.openshift.io".to_owned(),
                "Deployment" => "deployments.apps".to_owned(),
                "VirtualService" => "virtualservices.networking.istio.io".to_owned(),
                "ServiceEntry" => "serviceentries.networking.istio.io".to_owned(),
                "Service" => "services".to_owned(),
                other => format!("{}s", other.to_lowercase()),
            };
            return Err(not_found(&plural, name));
        };
        let text = |p: &str| {
            o.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        match (kind, output) {
            ("Namespace", None) => Ok(format!("NAME   STATUS   AGE\n{name}   Active   1m\n")),
            ("ImageStreamTag", None) => Ok(format!(
                "NAME   IMAGE REFERENCE   UPDATED\n{name}   {}   1 minute ago\n",
                text("/image/dockerImageReference")
            )),
            ("Istio", Some("jsonpath={.status.activeRevisionName}")) => {
                Ok(text("/status/activeRevisionName"))
            }
            ("Route", Some("jsonpath={.spec.host}")) => Ok(text("/spec/host")),
            ("Service", Some("jsonpath={.spec.clusterIP}")) => Ok(text("/spec/clusterIP")),
            ("Build", Some("jsonpath={.status.phase}")) => Ok(text("/status/phase")),
            ("Namespace", Some("jsonpath={.metadata.labels}")) => {
                Ok(o["metadata"]["labels"].to_string())
            }
            ("Pod", Some("jsonpath={.spec.containers[*].name}")) => Ok(o["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str())
                .collect::<Vec<_>>()
                .join(" ")),
            ("ServiceAccount", Some("jsonpath={.imagePullSecrets[*].name}")) => {
                Ok(o["imagePullSecrets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(" "))
            }
            (
                "Deployment",
                Some(r"jsonpath={.spec.template.metadata.labels.sidecar\.istio\.io/inject}"),
            ) => Ok(text(
                "/spec/template/metadata/labels/sidecar.istio.io~1inject",
            )),
            (
                "Deployment",
                Some(r"jsonpath={.spec.template.metadata.annotations.sidecar\.istio\.io/inject}"),
            ) => Ok(text(
                "/spec/template/metadata/annotations/sidecar.istio.io~1inject",
            )),
            _ => self.strict("no such output for this object in the fake"),
        }
    }
}

/// The single-object jsonpath expressions the scripts use that the fake evaluates generically (others
/// have their own arms in get_one; any other expression is a strict failure).
pub(crate) const JSONPATHS: &[(&str, &str)] = &[
    (
        "VirtualService",
        "jsonpath={.spec.http[0].route[0].destination.subset}",
    ),
    ("VirtualService", "jsonpath={.spec.http[0].timeout}"),
    ("ServiceEntry", "jsonpath={.spec.ports[*].number}"),
    (
        "ServiceMeshControlPlane",
        "jsonpath={.spec.proxy.networking.trafficControl.outbound.policy}",
    ),
    (
        "ServiceMeshControlPlane",
        "jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
    ),
    (
        "Istio",
        "jsonpath={.spec.values.meshConfig.outboundTrafficPolicy.mode}",
    ),
    (
        "Istio",
        "jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
    ),
    ("Deployment", "jsonpath={.spec.template.spec.hostAliases}"),
];

/// `{range .items[*]}{F1}{" "}{F2}{"\n"}{end}`: a line per item, its fields space-separated.
fn rows(items: &[Value], fields: &[&str]) -> String {
    items.iter().fold(String::new(), |mut s, o| {
        let line: Vec<String> = fields.iter().map(|f| jsonpath(o, f)).collect();
        let _ = writeln!(s, "{}", line.join(" "));
        s
    })
}

/// A jsonpath of `.key`, `[N]` and `[*]` steps, printed as oc prints it (strings bare, several values
/// space-separated, objects and arrays as JSON, missing fields as nothing).
pub(crate) fn jsonpath(obj: &Value, expr: &str) -> String {
    let inner = expr.trim_start_matches('{').trim_end_matches('}');
    let mut values = vec![obj.clone()];
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            values = values.iter().filter_map(|v| v.get(key).cloned()).collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let index = &r[..end];
            values = if index == "*" {
                values
                    .iter()
                    .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                    .collect()
            } else {
                let i: usize = index.parse().unwrap_or(usize::MAX);
                values.iter().filter_map(|v| v.get(i).cloned()).collect()
            };
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
