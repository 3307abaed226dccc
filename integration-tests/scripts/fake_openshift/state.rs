//! The cluster's objects by kind/namespace/name, its clock (in calls), and the seed a profile starts from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::{env, fs, thread};

use serde_json::{Value, json};

use crate::Cluster;
use crate::rules::{self, Mesh, Profile};

/// One call at a time (a pipe runs two): the lock file `cluster.lock`, removed when dropped.
pub(crate) struct Lock(PathBuf);

impl Lock {
    pub(crate) fn take(dir: &Path) -> Self {
        let lock = dir.join("cluster.lock");
        let mut tries = 0;
        while fs::File::create_new(&lock).is_err() {
            tries += 1;
            assert!(
                tries < 5000,
                "fake-openshift: {} held for 10s (a call that died holding it?)",
                lock.display()
            );
            thread::sleep(Duration::from_millis(2));
        }
        Self(lock)
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The state the last call left in `cluster.json`, if any.
pub(crate) fn load(dir: &Path) -> Option<Value> {
    let text = fs::read_to_string(dir.join("cluster.json")).ok()?;
    Some(serde_json::from_str(&text).expect("cluster.json parses"))
}

/// Written whole, then renamed over `cluster.json`: a reader never sees half a state.
pub(crate) fn save(dir: &Path, state: &Value) {
    let tmp = dir.join("cluster.json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(state).expect("state")).expect("write state");
    fs::rename(&tmp, dir.join("cluster.json")).expect("rename state");
}

/// The cluster before the scripts run: the control plane of the profile's mesh and its gateway Route.
pub(crate) fn seed(profile: &Profile) -> Value {
    let mut objects = BTreeMap::new();
    let mut put = |obj: Value| {
        let k = key(
            obj["kind"].as_str().unwrap_or(""),
            obj["metadata"]["namespace"].as_str().unwrap_or(""),
            obj["metadata"]["name"].as_str().unwrap_or(""),
        );
        objects.insert(k, obj);
    };
    put(json!({"kind": "Namespace", "metadata": {"name": "istio-system", "labels": {}}}));
    put(
        json!({"kind": "Route", "metadata": {"name": "kiali", "namespace": "istio-system"},
               "spec": {"host": "kiali-istio-system.apps.example.test"}}),
    );
    match profile.mesh {
        Mesh::Ossm2 => {
            let smcp = env::var("FAKE_SMCP_NAME").unwrap_or_else(|_| "basic".into());
            put(
                json!({"kind": "ServiceMeshControlPlane", "metadata": {"name": smcp, "namespace": "istio-system"},
                       "spec": {"version": format!("v{}.{}", 2, 6)}}),
            );
            // OSSM 2's control plane brings its ingress gateway and Route.
            put(
                json!({"kind": "Route", "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
                       "spec": {"host": "istio-ingressgateway-istio-system.apps.example.test"}, "_fake": {"gateway": "ready"}}),
            );
        }
        Mesh::Ossm3 => {
            let revision = env::var("FAKE_REVISION").unwrap_or_else(|_| "default".into());
            let never = if env::var("FAKE_NEVER_INJECT_BUILDS").as_deref() == Ok("1") {
                json!([{"matchExpressions": [{"key": rules::BUILD_POD_LABEL, "operator": "Exists"}]}])
            } else {
                json!([])
            };
            let strategy = if revision == "default" {
                "InPlace"
            } else {
                "RevisionBased"
            };
            put(json!({"kind": "Istio", "metadata": {"name": "default"},
                       "spec": {"namespace": "istio-system", "updateStrategy": {"type": strategy},
                                "values": {"sidecarInjectorWebhook": {"neverInjectSelector": never}}},
                       "status": {"activeRevisionName": revision}}));
        }
    }
    json!({"clock": 0, "seq": 0, "answers": 0, "objects": objects})
}

pub(crate) fn key(kind: &str, ns: &str, name: &str) -> String {
    format!("{kind}/{ns}/{name}")
}

impl Cluster {
    pub(crate) fn tick(&mut self) {
        let c = self.clock() + 1;
        self.state["clock"] = json!(c);
    }
    pub(crate) fn clock(&self) -> u64 {
        self.state["clock"].as_u64().unwrap_or(0)
    }
    pub(crate) fn next_seq(&mut self) -> u64 {
        let s = self.state["seq"].as_u64().unwrap_or(0) + 1;
        self.state["seq"] = json!(s);
        s
    }

    pub(crate) fn obj(&self, kind: &str, ns: &str, name: &str) -> Option<&Value> {
        self.state["objects"].get(key(kind, ns, name))
    }
    pub(crate) fn obj_mut(&mut self, kind: &str, ns: &str, name: &str) -> Option<&mut Value> {
        self.state["objects"].get_mut(key(kind, ns, name))
    }
    pub(crate) fn put(&mut self, kind: &str, ns: &str, name: &str, obj: Value) {
        self.state["objects"][key(kind, ns, name)] = obj;
    }
    pub(crate) fn remove(&mut self, kind: &str, ns: &str, name: &str) {
        if let Some(m) = self.state["objects"].as_object_mut() {
            m.remove(&key(kind, ns, name));
        }
    }
    pub(crate) fn list(&self, kind: &str, ns: Option<&str>) -> Vec<Value> {
        let prefix = match ns {
            Some(ns) => format!("{kind}/{ns}/"),
            None => format!("{kind}/"),
        };
        self.state["objects"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
