//! What OpenShift's controllers and admission do on their own, by the rules of rules.rs: image admission of
//! templates and pods, the image trigger controller, Deployment rollouts, the ServiceAccount admission and
//! pull-secret controller, the injection webhook, and the pods' resulting state.

use std::env;

use serde_json::{Value, json};

use crate::Cluster;
use crate::builds::fnv;
use crate::rules::{self, Injector};

impl Cluster {
    /// The tag's pull spec by digest, when the stream has local lookup and the tag exists.
    pub(crate) fn tag_ref(&self, ns: &str, stream: &str, tag: &str) -> Option<String> {
        let is = self.obj("ImageStream", ns, stream)?;
        if is["spec"]["lookupPolicy"]["local"].as_bool() != Some(true) {
            return None;
        }
        self.obj("ImageStreamTag", ns, &format!("{stream}:{tag}"))?["image"]["dockerImageReference"]
            .as_str()
            .map(str::to_owned)
    }

    pub(crate) fn admit_template(&self, ns: &str, deployment: &mut Value) {
        for c in deployment["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let image = c["image"].as_str().unwrap_or("").to_owned();
            let admitted = rules::admit_image(&image, |s, t| self.tag_ref(ns, s, t));
            c["image"] = json!(admitted);
        }
    }

    /// The image trigger controller: Deployments in `ns` (or just `only`) whose triggers name a tag that
    /// exists get that tag's pull spec; a change rolls them.
    pub(crate) fn reconcile_triggers(&mut self, ns: &str, only: Option<&str>) {
        for d in self.list("Deployment", Some(ns)) {
            let name = d["metadata"]["name"].as_str().unwrap_or("").to_owned();
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let mut changed = false;
            let mut d = d.clone();
            for (tag, container) in rules::triggers(&d["metadata"]["annotations"]) {
                let (stream, t) = tag.split_once(':').unwrap_or((&tag, "latest"));
                let Some(istag) = self.obj("ImageStreamTag", ns, &format!("{stream}:{t}")) else {
                    continue;
                };
                let spec = istag["image"]["dockerImageReference"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                for c in d["spec"]["template"]["spec"]["containers"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                {
                    if c["name"].as_str() == Some(container.as_str())
                        && c["image"].as_str() != Some(spec.as_str())
                    {
                        c["image"] = json!(spec);
                        changed = true;
                    }
                }
            }
            if changed {
                self.put("Deployment", ns, &name, d);
                self.roll(ns, &name);
            }
        }
    }

    /// A new ReplicaSet's pod replaces the old one (the fake skips the surge).
    pub(crate) fn roll(&mut self, ns: &str, deployment: &str) {
        for p in self.list("Pod", Some(ns)) {
            if p["_fake"]["owner"].as_str() == Some(deployment) {
                let name = p["metadata"]["name"].as_str().unwrap_or("").to_owned();
                self.remove("Pod", ns, &name);
            }
        }
        let Some(d) = self.obj("Deployment", ns, deployment).cloned() else {
            return;
        };
        let seq = self.next_seq();
        let pod_name = format!(
            "{deployment}-{:09x}-{seq:05}",
            fnv(&d["spec"]["template"].to_string()) & 0xf_ffff_ffff
        );
        let template = &d["spec"]["template"];
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns,
                         "labels": template["metadata"]["labels"].clone(),
                         "annotations": template["metadata"]["annotations"].clone()},
            "spec": template["spec"].clone(),
            "_fake": {"owner": deployment},
        });
        self.admit_pod(ns, &pod_name, pod);
    }

    /// Pod admission: ServiceAccount (pull secrets as the account has them now), image policy, injection.
    pub(crate) fn admit_pod(&mut self, ns: &str, name: &str, mut pod: Value) {
        let sa = pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        if pod["_fake"]["build"].as_bool() != Some(true) {
            self.refresh_pull_secret(ns, &sa);
            let secrets = self
                .obj("ServiceAccount", ns, &sa)
                .map(|s| s["imagePullSecrets"].clone())
                .unwrap_or(Value::Null);
            pod["spec"]["imagePullSecrets"] = if secrets.is_null() {
                json!([])
            } else {
                secrets
            };
        }
        for c in pod["spec"]["containers"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            let image = c["image"].as_str().unwrap_or("").to_owned();
            c["image"] = json!(rules::admit_image(&image, |s, t| self.tag_ref(ns, s, t)));
        }
        let ns_labels = self
            .obj("Namespace", "", ns)
            .map(|n| n["metadata"]["labels"].clone())
            .unwrap_or(json!({}));
        let injected = rules::injects(
            self.profile.mesh,
            &self.injector(),
            &ns_labels,
            &pod["metadata"]["labels"],
            &pod["metadata"]["annotations"],
        );
        if injected {
            let gateway = pod["metadata"]["annotations"]["inject.istio.io/templates"].as_str()
                == Some("gateway");
            if gateway {
                for c in pod["spec"]["containers"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                {
                    if c["image"].as_str() == Some("auto") {
                        c["image"] = json!(rules::PROXY_IMAGE);
                    }
                }
            } else if rules::native_sidecar(self.profile) {
                let init = pod["spec"]["initContainers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut init = init;
                init.push(json!({"name": "istio-proxy", "image": rules::PROXY_IMAGE, "restartPolicy": "Always"}));
                pod["spec"]["initContainers"] = json!(init);
            } else if let Some(cs) = pod["spec"]["containers"].as_array_mut() {
                cs.push(json!({"name": "istio-proxy", "image": rules::PROXY_IMAGE}));
            }
        }
        pod["_fake"]["injected"] = json!(injected);
        self.put("Pod", ns, name, pod);
    }

    pub(crate) fn injector(&self) -> Injector<'_> {
        let istio = self.obj("Istio", "", "default");
        let revision = istio
            .and_then(|i| i["status"]["activeRevisionName"].as_str())
            .unwrap_or("default");
        let never_inject_keys = istio
            .and_then(|i| {
                i["spec"]["values"]["sidecarInjectorWebhook"]["neverInjectSelector"].as_array()
            })
            .into_iter()
            .flatten()
            .flat_map(|sel| {
                sel["matchExpressions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|e| e["operator"].as_str() == Some("Exists"))
            .filter_map(|e| e["key"].as_str().map(str::to_owned))
            .collect();
        Injector {
            revision,
            never_inject_keys,
        }
    }

    pub(crate) fn refresh_pull_secret(&mut self, ns: &str, sa: &str) {
        let delay = env::var("FAKE_PULL_SECRET_DELAY")
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(3);
        let now = self.clock();
        if let Some(o) = self.obj_mut("ServiceAccount", ns, sa) {
            let created = o["_fake"]["created"].as_u64().unwrap_or(0);
            if o["imagePullSecrets"].is_null() && rules::pull_secret_ready(created, now, delay) {
                o["imagePullSecrets"] = json!([{"name": format!("{sa}-dockercfg-x7k2p")}]);
            }
        }
    }

    /// Per regular or sidecar container: the waiting reason, or None when it runs.
    pub(crate) fn container_states(&self, pod: &Value) -> Vec<Option<&'static str>> {
        let secrets = pod["spec"]["imagePullSecrets"]
            .as_array()
            .map_or(0, Vec::len);
        pod["spec"]["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["restartPolicy"].as_str() == Some("Always"))
            .chain(pod["spec"]["containers"].as_array().into_iter().flatten())
            .map(|c| {
                let image = c["image"].as_str().unwrap_or("");
                if image == rules::PROXY_IMAGE {
                    None
                } else {
                    rules::pull_error(image, secrets)
                }
            })
            .collect()
    }

    pub(crate) fn pod_status(&self, pod: &Value) -> (String, String) {
        let states = self.container_states(pod);
        let running = states.iter().filter(|s| s.is_none()).count();
        let status = states.iter().flatten().next().copied().unwrap_or("Running");
        (format!("{running}/{}", states.len()), status.to_owned())
    }

    pub(crate) fn pod_ready(&self, pod: &Value) -> bool {
        self.container_states(pod).iter().all(Option::is_none)
    }

    pub(crate) fn pods_of(&self, ns: &str, deployment: &str) -> Vec<Value> {
        self.list("Pod", Some(ns))
            .into_iter()
            .filter(|p| p["_fake"]["owner"].as_str() == Some(deployment))
            .collect()
    }
}
