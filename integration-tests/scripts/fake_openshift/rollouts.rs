//! Waiting on and rolling Deployments and their pods: wait, rollout status/restart, delete.

use std::fmt::Write as _;

use crate::cli::{Args, group_of, not_found};
use crate::{Cluster, Reply};

impl Cluster {
    pub(crate) fn wait(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("wait: unknown resource");
        };
        let ns = self.ns_of(a);
        let cond = a.get("--for").unwrap_or("");
        match (kind, cond) {
            ("ServiceMeshMember", "condition=Ready") => match self.obj(kind, &ns, &name) {
                Some(o) if o["_fake"]["ready"].as_bool() == Some(true) => Ok(format!(
                    "servicemeshmember.maistra.io/{name} condition met\n"
                )),
                Some(_) => Err((
                    1,
                    format!(
                        "error: timed out waiting for the condition on servicemeshmembers/{name}\n"
                    ),
                )),
                None => Err(not_found("servicemeshmembers.maistra.io", &name)),
            },
            ("Build", "jsonpath={.status.phase}=Complete") => match self.obj(kind, &ns, &name) {
                Some(o) if o["status"]["phase"].as_str() == Some("Complete") => {
                    Ok(format!("build.build.openshift.io/{name} condition met\n"))
                }
                Some(_) => Err((
                    1,
                    format!("error: timed out waiting for the condition on builds/{name}\n"),
                )),
                None => Err(not_found("builds.build.openshift.io", &name)),
            },
            _ => self.strict("wait: no such condition in the fake"),
        }
    }

    pub(crate) fn rollout(&mut self, a: &Args) -> Reply {
        let sub = a.words.get(1).map(String::as_str);
        let target = a.words.get(2).cloned().unwrap_or_default();
        let Some(name) = target.strip_prefix("deployment/").map(str::to_owned) else {
            return self.strict("rollout: only deployment/NAME");
        };
        let ns = self.ns_of(a);
        if self.obj("Deployment", &ns, &name).is_none() {
            return Err(not_found("deployments.apps", &name));
        }
        match sub {
            Some("status") => {
                let pods = self.pods_of(&ns, &name);
                if !pods.is_empty() && pods.iter().all(|p| self.pod_ready(p)) {
                    Ok(format!("deployment \"{name}\" successfully rolled out\n"))
                } else {
                    Err((
                        1,
                        format!(
                            "Waiting for deployment \"{name}\" rollout to finish: 0 of 1 updated replicas are available...\nerror: timed out waiting for the condition\n"
                        ),
                    ))
                }
            }
            Some("restart") => {
                self.roll(&ns, &name);
                Ok(format!("deployment.apps/{name} restarted\n"))
            }
            _ => self.strict("rollout: only status and restart"),
        }
    }

    pub(crate) fn delete(&mut self, a: &Args) -> Reply {
        let Some((kind, name)) = self.resource_and_name(a) else {
            return self.strict("delete: unknown resource");
        };
        let ns = self.ns_of(a);
        let names: Vec<String> = if a.has("--all") {
            self.list(kind, Some(&ns))
                .iter()
                .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
                .collect()
        } else if self.obj(kind, &ns, &name).is_some() {
            vec![name.clone()]
        } else if a.has("--ignore-not-found") {
            Vec::new()
        } else {
            return Err(not_found(&format!("{}s", group_of(kind)), &name));
        };
        if a.has("--all") && names.is_empty() {
            return Ok(String::new());
        }
        let mut out = String::new();
        for n in names {
            let obj = self.obj(kind, &ns, &n).cloned().unwrap_or_default();
            self.remove(kind, &ns, &n);
            match kind {
                // The ReplicaSet makes a new pod for a deleted one.
                "Pod" => {
                    if let Some(owner) = obj["_fake"]["owner"].as_str() {
                        let owner = owner.to_owned();
                        self.roll(&ns, &owner);
                    }
                }
                "Deployment" => {
                    for p in self.pods_of(&ns, &n) {
                        let pn = p["metadata"]["name"].as_str().unwrap_or("").to_owned();
                        self.remove("Pod", &ns, &pn);
                    }
                }
                _ => {}
            }
            let _ = writeln!(out, "{} \"{n}\" deleted", group_of(kind));
        }
        Ok(out)
    }
}
