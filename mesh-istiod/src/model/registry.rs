//! The service registry and the workloads, read from the same Kubernetes files as the cluster.
//!
//! A [`ServiceDef`] comes from a `Service` (name, port, selector); a [`Workload`] from a `Deployment`'s pod
//! template: its labels, what its container's image runs ([`crate::model::images`]), its container's
//! environment (literal values; `HOSTNAME` from `metadata.name` is the pod name; an upstream image's own
//! settings over them), its service account (its identity: `serviceAccountName`, else the deprecated
//! `serviceAccount`, as Kubernetes reads them) and whether a sidecar is injected. Injection follows istio's webhook
//! (pkg/kube/inject/inject.go `injectRequired`): the pod label `sidecar.istio.io/inject` wins over the
//! annotation of the same name; `"true"` injects, `"false"` or nothing does not (the namespace
//! policy of a Service Mesh Member, which injects only on request).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::apps::v1::Deployment;
use mesh_manifests::k8s_openapi::api::core::v1::{PodSpec, Service};
use mesh_manifests::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::images;

/// The namespace the lab plays.
pub const NAMESPACE: &str = "tutorial";
/// The port of the mesh's Services, and the sidecar's outbound listener for them.
pub const MESH_PORT: u16 = 8080;
/// The label and annotation that request a sidecar.
pub const INJECT: &str = "sidecar.istio.io/inject";

/// `<name>.tutorial.svc.cluster.local`.
pub fn fqdn(service: &str) -> String {
    format!("{service}.{NAMESPACE}.svc.cluster.local")
}

/// A Kubernetes Service of the mesh: one HTTP port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceDef {
    pub name: String,
    pub port: u16,
    pub selector: BTreeMap<String, String>,
    /// The port's name, `appProtocol` and `targetPort` as the Service declares them (what
    /// `istioctl x describe` prints of it). A port Istio would not serve as HTTP is refused
    /// ([`crate::model::protocol::check_served_as_http`]).
    pub port_name: Option<String>,
    pub app_protocol: Option<String>,
    pub target_port: Option<IntOrString>,
}

impl ServiceDef {
    pub fn fqdn(&self) -> String {
        fqdn(&self.name)
    }

    /// The protocol istiod serves its port as (`kube.ConvertProtocol`).
    pub fn protocol(&self) -> crate::model::protocol::Protocol {
        crate::model::protocol::Protocol::of_port(
            self.port,
            self.port_name.as_deref(),
            false,
            self.app_protocol.as_deref(),
        )
    }

    /// Does a pod with `labels` back this Service?
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.selector.is_empty() && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Reads a `Service`; `Err` names the field the lab cannot use.
    pub fn from_service(s: &Service) -> Result<Self, String> {
        let name = s.metadata.name.clone().ok_or("metadata.name is missing")?;
        let spec = s.spec.as_ref().ok_or("spec is missing")?;
        let ports = spec.ports.as_deref().unwrap_or_default();
        let [port] = ports else {
            return Err(format!(
                "spec.ports: the lab serves one HTTP port per Service, {name} has {}",
                ports.len()
            ));
        };
        let number =
            u16::try_from(port.port).map_err(|_| format!("spec.ports.0.port {}", port.port))?;
        crate::model::protocol::check_served_as_http(
            &name,
            "spec.ports.0",
            number,
            port.name.as_deref(),
            port.protocol.as_deref() == Some("UDP"),
            port.app_protocol.as_deref(),
        )?;
        Ok(Self {
            port: number,
            selector: spec.selector.clone().unwrap_or_default(),
            name,
            port_name: port.name.clone(),
            app_protocol: port.app_protocol.clone(),
            target_port: port.target_port.clone(),
        })
    }
}

/// One pod of a Deployment, as the lab runs it (a Deployment of N replicas runs N of them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The Deployment's name (`recommendation-v2`).
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The container's image, as written (`None`: the manifest names none).
    pub image: Option<String>,
    /// The container's literal environment, `HOSTNAME` set to the pod name when the manifest takes it
    /// from `metadata.name`, and an upstream image's settings in place of the manifest's values.
    pub env: Vec<(String, String)>,
    pub inject: bool,
    /// `recommendation-v2-<template hash>-<5 characters>`, like a ReplicaSet's pod.
    pub pod: String,
    /// The pod template's `serviceAccountName`, else its deprecated alias `serviceAccount` (`default` when
    /// it names neither, as Kubernetes).
    pub service_account: String,
    /// The file it came from.
    pub file: String,
}

impl Workload {
    pub fn app(&self) -> &str {
        self.labels.get("app").map(String::as_str).unwrap_or("")
    }

    /// The SPIFFE identity of its pod: `spiffe://cluster.local/ns/tutorial/sa/<service account>`.
    pub fn identity(&self) -> String {
        crate::model::identity::spiffe_id(NAMESPACE, &self.service_account)
    }

    /// The service its container runs: its image's ([`images::program`]), else, naming no image, the
    /// `app` label's. `Err` names the image the lab cannot run and what it runs: the pod is refused when it
    /// would start (a Deployment the lab keeps without running it, a gateway's, is still valid).
    pub fn runs(&self) -> Result<&str, String> {
        match &self.image {
            Some(i) => images::program(i)
                .map(|p| p.app)
                .map_err(|e| format!("{IMAGE_FIELD}: {e}")),
            None => Ok(self.app()),
        }
    }

    pub fn env(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Is a sidecar injected into a pod with these labels and annotations (label first, as istio's webhook)?
pub fn inject_required(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> bool {
    labels
        .get(INJECT)
        .or_else(|| annotations.get(INJECT))
        .map(String::as_str)
        == Some("true")
}

const POD_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn suffix(mut n: u64, len: usize) -> String {
    (0..len)
        .map(|_| {
            let c = POD_ALPHABET[(n % POD_ALPHABET.len() as u64) as usize] as char;
            n /= POD_ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// A pod name like the cluster's: `<deployment>-<template hash, 9-10 chars>-<5 chars>`. The first part
/// changes with the pod template (a new ReplicaSet), the second with every start (`nonce`).
pub fn pod_name(deployment: &str, template: &impl Hash, nonce: u64) -> String {
    let mut h = DefaultHasher::new();
    template.hash(&mut h);
    let rs = h.finish();
    let mut p = DefaultHasher::new();
    (rs, nonce).hash(&mut p);
    format!("{deployment}-{}-{}", suffix(rs, 10), suffix(p.finish(), 5))
}

/// The most pods the lab runs for one Deployment: each is an app and an Envoy of its own (about 65 MiB).
pub const MAX_REPLICAS: u32 = 10;

/// How many pods a Deployment runs: `spec.replicas`, 1 when unset (the API server's default); a negative
/// count is the API server's refusal, more than [`MAX_REPLICAS`] the lab's.
pub fn replicas(d: &Deployment) -> Result<u32, String> {
    let Some(r) = d.spec.as_ref().and_then(|s| s.replicas) else {
        return Ok(1);
    };
    let n = u32::try_from(r).map_err(|_| {
        format!("spec.replicas: Invalid value: {r}: must be greater than or equal to 0")
    })?;
    if n > MAX_REPLICAS {
        return Err(format!("spec.replicas {n}: {}", too_many()));
    }
    Ok(n)
}

/// Why the lab refuses more than [`MAX_REPLICAS`] pods, and the fix.
pub fn too_many() -> String {
    format!(
        "the local mesh runs at most {MAX_REPLICAS} pods per Deployment (each is an app and an Envoy of its \
         own); scale to {MAX_REPLICAS} or fewer"
    )
}

/// Reads a Deployment's pod template (the pod named with `nonce`); `Err` names the field the lab cannot run.
pub fn from_deployment(d: &Deployment, file: &str, nonce: u64) -> Result<Workload, String> {
    let name = d.metadata.name.clone().ok_or("metadata.name is missing")?;
    let spec = d.spec.as_ref().ok_or("spec is missing")?;
    replicas(d)?;
    let meta = spec.template.metadata.clone().unwrap_or_default();
    let labels = meta.labels.unwrap_or_default();
    let annotations = meta.annotations.unwrap_or_default();
    let pod_spec = spec
        .template
        .spec
        .as_ref()
        .ok_or("spec.template.spec is missing")?;
    let [container] = pod_spec.containers.as_slice() else {
        return Err("spec.template.spec.containers: the lab runs one container per pod".into());
    };
    let template = serde_json::to_string(&spec.template).unwrap_or_default();
    let pod = pod_name(&name, &template, nonce);
    let mut env = Vec::new();
    for (i, e) in container.env.iter().flatten().enumerate() {
        let value = match (&e.value, &e.value_from) {
            (Some(v), None) => v.clone(),
            (None, None) => String::new(),
            (None, Some(from))
                if from.field_ref.as_ref().map(|f| f.field_path.as_str())
                    == Some("metadata.name") =>
            {
                pod.clone()
            }
            _ => {
                return Err(format!(
                    "spec.template.spec.containers.0.env.{i} ({}): only literal values and metadata.name are in the lab's scope",
                    e.name
                ));
            }
        };
        env.push((e.name.clone(), value));
    }
    let image = container.image.clone().filter(|i| !i.is_empty());
    if let Some(Ok(program)) = image.as_deref().map(images::program) {
        for (key, value) in program.settings {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
    }
    Ok(Workload {
        inject: inject_required(&labels, &annotations),
        service_account: service_account(pod_spec),
        image,
        name,
        labels,
        env,
        pod,
        file: file.to_owned(),
    })
}

/// The field an image refusal names.
const IMAGE_FIELD: &str = "spec.template.spec.containers.0.image";

/// The pod's service account: `serviceAccountName`, else the deprecated alias `serviceAccount` (Kubernetes'
/// rule: the name wins when both are set), else `default`.
fn service_account(pod: &PodSpec) -> String {
    [&pod.service_account_name, &pod.service_account]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| crate::model::identity::DEFAULT_SERVICE_ACCOUNT.to_owned())
}

/// The Services among `resources`.
pub fn services(resources: &[Resource]) -> Result<Vec<ServiceDef>, String> {
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::Service(s) => Some(ServiceDef::from_service(s)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::labels;

    #[test]
    fn a_service_port_istio_serves_as_tcp_is_refused_and_the_shipped_ones_are_http() {
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../recommendation/kubernetes/Service.yml"
        ))
        .unwrap();
        let ok = services(&crate::fixtures::parse(&shipped)).unwrap();
        assert_eq!(ok[0].protocol(), crate::model::protocol::Protocol::Http);
        let tcp = shipped.replace("- name: http", "- name: tcp-web");
        assert_ne!(tcp, shipped);
        let err = services(&crate::fixtures::parse(&tcp)).unwrap_err();
        assert!(
            err.starts_with(
                "Service recommendation: spec.ports.0.name \"tcp-web\" makes Istio serve the port as TCP"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_label_wins_over_the_annotation_as_in_istios_webhook() {
        let cases = [
            (
                labels(&[(INJECT, "true")]),
                labels(&[]),
                true,
                "label alone",
            ),
            (
                labels(&[]),
                labels(&[(INJECT, "true")]),
                true,
                "annotation alone",
            ),
            (
                labels(&[(INJECT, "false")]),
                labels(&[(INJECT, "true")]),
                false,
                "label false beats annotation",
            ),
            (
                labels(&[(INJECT, "true")]),
                labels(&[(INJECT, "false")]),
                true,
                "label true beats annotation",
            ),
            (labels(&[]), labels(&[]), false, "nothing: no sidecar"),
            (
                labels(&[(INJECT, "yes")]),
                labels(&[]),
                false,
                "only true/false count",
            ),
        ];
        for (labels, annotations, want, why) in cases {
            assert_eq!(inject_required(&labels, &annotations), want, "{why}");
        }
    }

    /// An upstream-shaped Deployment: `pod_spec_extra` merged into its pod spec, `image` its container's.
    fn deployment(image: &str, pod_spec_extra: serde_json::Value) -> Deployment {
        let mut pod_spec = serde_json::json!({
            "containers": [{
                "name": "recommendation",
                "image": image,
                "env": [
                    {"name": "JAVA_OPTIONS", "value": "-Xms15m"},
                    {"name": "RECOMMENDATION_VERSION", "value": "v1"}
                ]
            }]
        });
        pod_spec
            .as_object_mut()
            .unwrap()
            .extend(pod_spec_extra.as_object().unwrap().clone());
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "recommendation-v2"},
            "spec": {
                "selector": {"matchLabels": {"app": "recommendation"}},
                "template": {
                    "metadata": {"labels": {"app": "recommendation", "version": "v2"}},
                    "spec": pod_spec
                }
            }
        }))
        .unwrap()
    }

    const UPSTREAM_V2: &str = "quay.io/rhdevelopers/istio-tutorial-recommendation:v2.2";

    #[test]
    fn the_deprecated_service_account_names_the_identity_unless_service_account_name_does() {
        let sa = |extra| {
            from_deployment(&deployment(UPSTREAM_V2, extra), "f.yml", 0)
                .unwrap()
                .service_account
        };
        assert_eq!(
            sa(serde_json::json!({"serviceAccount": "recommendation"})),
            "recommendation"
        );
        assert_eq!(
            sa(serde_json::json!({"serviceAccount": "old", "serviceAccountName": "new"})),
            "new",
            "serviceAccountName wins"
        );
        assert_eq!(
            sa(serde_json::json!({"serviceAccount": "old", "serviceAccountName": ""})),
            "old"
        );
        assert_eq!(sa(serde_json::json!({})), "default");
    }

    #[test]
    fn an_upstream_image_fixes_what_runs_over_the_environment() {
        let w =
            from_deployment(&deployment(UPSTREAM_V2, serde_json::json!({})), "f.yml", 0).unwrap();
        assert_eq!(w.runs(), Ok("recommendation"));
        assert_eq!(w.image.as_deref(), Some(UPSTREAM_V2));
        assert_eq!(w.env("RECOMMENDATION_VERSION"), Some("v2"), "{:?}", w.env);
        assert_eq!(w.env("JAVA_OPTIONS"), Some("-Xms15m"));
        let own = from_deployment(
            &deployment("recommendation:0.1.0", serde_json::json!({})),
            "f.yml",
            0,
        )
        .unwrap();
        assert_eq!(
            own.env("RECOMMENDATION_VERSION"),
            Some("v1"),
            "the environment decides"
        );
        assert_ne!(
            w.pod.rsplit_once('-').map(|(rs, _)| rs),
            own.pod.rsplit_once('-').map(|(rs, _)| rs),
            "a new image, a new pod template: another ReplicaSet"
        );
    }

    #[test]
    fn an_image_the_lab_cannot_run_is_refused_by_field_and_name() {
        let image = "quay.io/rhdevelopers/istio-tutorial-recommendation:v4";
        let w = from_deployment(&deployment(image, serde_json::json!({})), "f.yml", 0).unwrap();
        let err = w.runs().unwrap_err();
        assert!(
            err.starts_with(&format!(
                "spec.template.spec.containers.0.image: image {image:?} is not one the local mesh can run"
            )),
            "{err}"
        );
    }

    #[test]
    fn replicas_default_to_one_and_stop_at_the_labs_maximum() {
        let with = |r: Option<i32>| {
            let mut d = deployment(UPSTREAM_V2, serde_json::json!({}));
            d.spec.as_mut().unwrap().replicas = r;
            d
        };
        assert_eq!(replicas(&with(None)), Ok(1));
        assert_eq!(replicas(&with(Some(0))), Ok(0));
        assert_eq!(replicas(&with(Some(10))), Ok(10));
        assert_eq!(
            from_deployment(&with(Some(11)), "f.yml", 0).unwrap_err(),
            "spec.replicas 11: the local mesh runs at most 10 pods per Deployment (each is an app and an \
             Envoy of its own); scale to 10 or fewer"
        );
        assert_eq!(
            replicas(&with(Some(-1))).unwrap_err(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn pod_names_look_like_a_replica_sets() {
        let a = pod_name("recommendation-v2", &"template-a", 1);
        let b = pod_name("recommendation-v2", &"template-a", 2);
        let c = pod_name("recommendation-v2", &"template-b", 1);
        let parts: Vec<&str> = a.rsplitn(3, '-').collect();
        assert_eq!(parts[0].len(), 5, "{a}");
        assert_eq!(parts[1].len(), 10, "{a}");
        assert_eq!(
            a.split('-').nth(2),
            b.split('-').nth(2),
            "same template, same hash"
        );
        assert_ne!(a, b, "a new pod gets a new suffix");
        assert_ne!(
            a.split('-').nth(2),
            c.split('-').nth(2),
            "a new template, a new hash"
        );
    }
}
