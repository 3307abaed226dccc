//! `oc start-build`: the build pod, the Build's phase by the rules, the pushed ImageStreamTag.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use crate::cli::{Args, not_found};
use crate::rules;
use crate::{Cluster, HUNG, Reply};

impl Cluster {
    pub(crate) fn start_build(&mut self, a: &Args) -> Reply {
        let Some(bc_name) = a.words.get(1).cloned() else {
            return self.strict("start-build without name");
        };
        let ns = self.ns_of(a);
        if let Some(dir) = a.get("--from-dir") {
            if !Path::new(dir).is_dir() {
                return Err((1, format!("error: stat {dir}: no such file or directory\n")));
            }
        } else if a.get("--from-repo").is_none() {
            return self.strict("start-build: only --from-dir or --from-repo");
        }
        let Some(bc) = self.obj("BuildConfig", &ns, &bc_name).cloned() else {
            return Err(not_found("buildconfigs.build.openshift.io", &bc_name));
        };
        let version = bc["status"]["lastVersion"].as_u64().unwrap_or(0) + 1;
        if let Some(b) = self.obj_mut("BuildConfig", &ns, &bc_name) {
            b["status"]["lastVersion"] = json!(version);
        }
        let build = format!("{bc_name}-{version}");
        let pod_name = format!("{build}-build");
        // The build pod (openshift-controller-manager's build controller: pod <build>-build, label
        // openshift.io/build.name, container docker-build for the docker strategy).
        let pod = json!({
            "kind": "Pod",
            "metadata": {"name": pod_name, "namespace": ns,
                         "labels": {rules::BUILD_POD_LABEL: build, "openshift.io/build.start-policy": "Serial"},
                         "annotations": {}},
            "spec": {"serviceAccountName": "builder", "restartPolicy": "Never",
                     "containers": [{"name": "docker-build", "image": "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:builder"}]},
            "_fake": {"build": true},
        });
        self.admit_pod(&ns, &pod_name, pod);
        let injected = self
            .obj("Pod", &ns, &pod_name)
            .is_some_and(|p| p["_fake"]["injected"].as_bool() == Some(true));
        let completes = rules::build_pod_completes(injected, rules::native_sidecar(self.profile));
        let phase = if completes { "Complete" } else { "Running" };
        self.put(
            "Build",
            &ns,
            &build,
            json!({"kind": "Build", "metadata": {"name": build, "namespace": ns}, "status": {"phase": phase}}),
        );
        if completes {
            // A build takes minutes: the clock (in calls) moves on past the controllers' short delays.
            let later = self.clock() + 10;
            self.state["clock"] = json!(later);
            let out = bc["spec"]["output"]["to"]["name"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let stream = out.split(':').next().unwrap_or("").to_owned();
            let digest = format!(
                "{:016x}{:016x}{:016x}{:016x}",
                fnv(&build),
                fnv(&format!("{ns}/{build}")),
                fnv(&out),
                fnv(&format!("{build}{out}"))
            );
            let reference = format!("{}/{ns}/{stream}@sha256:{digest}", rules::INTERNAL_REGISTRY);
            self.put(
                "ImageStreamTag",
                &ns,
                &out,
                json!({"kind": "ImageStreamTag", "metadata": {"name": out, "namespace": ns},
                       "image": {"dockerImageReference": reference}}),
            );
            self.reconcile_triggers(&ns, None);
        }
        let mut text = String::new();
        if a.has("--follow") {
            let _ = writeln!(
                text,
                "Uploading directory {:?} as binary input for the build ...",
                a.get("--from-dir").unwrap_or(".")
            );
            let _ = writeln!(text, "build.build.openshift.io/{build} started");
            if completes {
                let _ = writeln!(
                    text,
                    "Successfully pushed {out}",
                    out = bc["spec"]["output"]["to"]["name"].as_str().unwrap_or("")
                );
                let _ = writeln!(text, "Push successful");
            }
        } else if a.get("-o") == Some("name") {
            let _ = writeln!(text, "build.build.openshift.io/{build}");
        } else if a.get("-o").is_some() {
            return self.strict("start-build: only -o name");
        } else {
            let _ = writeln!(text, "build.build.openshift.io/{build} started");
        }
        if a.has("--wait") && !completes {
            let containers = self
                .obj("Pod", &ns, &pod_name)
                .map(|p| {
                    p["spec"]["containers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| c["name"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            return Err((
                HUNG,
                format!(
                    "{text}fake-openshift ({}): `oc start-build --wait` never returns here: build {build} stays Running, its pod {pod_name} keeps running containers [{containers}]\n",
                    self.profile.name
                ),
            ));
        }
        Ok(text)
    }
}

pub(crate) fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
