//! The pod rules: restricted-v2 security and limits for every pod, and what a pod of one of the three
//! services needs (labels, injection, probes, `HOSTNAME`, its own account, no API token, drain time).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::contract;
use crate::images;
use crate::resource::{Document, Resource};

/// Largest memory limit accepted for a pod's container: a Rust service needs tens of MiB.
const MAX_MEMORY_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// The app's default graceful drain (`SHUTDOWN_TIMEOUT`, from the services' table of variables), in seconds:
/// the grace period must exceed it.
fn default_shutdown_seconds() -> i64 {
    let drain = tutorial_common::config::Env::new(|_| None)
        .duration(&tutorial_common::vars::SHUTDOWN_TIMEOUT)
        .expect("SHUTDOWN_TIMEOUT's default parses");
    i64::try_from(drain.as_secs()).unwrap_or(i64::MAX)
}

/// The pod label that asks for a sidecar: OSSM 3's injection webhook selects pods by it (an annotation
/// is not enough there), and OSSM 2 reads it too.
pub const INJECT_LABEL: &str = "sidecar.istio.io/inject";

pub(crate) fn deployments_of(docs: &[Document]) -> impl Iterator<Item = (&Document, &Deployment)> {
    docs.iter().filter_map(|d| match &d.resource {
        Resource::Deployment(s) => Some((d, &**s)),
        _ => None,
    })
}

pub(crate) fn pod_labels(dep: &Deployment) -> BTreeMap<String, String> {
    dep.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// A container running one of the three services' images.
pub(crate) fn is_app(c: &Container) -> bool {
    c.image.as_deref().is_some_and(images::is_app_image)
}

pub(crate) fn env_value(c: &Container, name: &str) -> Option<String> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

/// OpenShift restricted-v2 / Kubernetes "restricted", plus requests and limits, for every pod.
pub(crate) fn pod_security(pod: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let psc = pod.security_context.clone().unwrap_or_default();
    if psc.run_as_user.is_some() {
        out.push(
            "pod securityContext sets runAsUser: restricted-v2 assigns an arbitrary UID".into(),
        );
    }
    let pod_seccomp = psc.seccomp_profile.as_ref().map(|s| s.type_.as_str());
    for flag in [pod.host_network, pod.host_pid, pod.host_ipc] {
        if flag == Some(true) {
            out.push("uses a host namespace (hostNetwork/hostPID/hostIPC)".into());
        }
    }
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        let n = &c.name;
        let sc = c.security_context.clone().unwrap_or_default();
        if sc.run_as_non_root.or(psc.run_as_non_root) != Some(true) {
            out.push(format!("container {n}: runAsNonRoot is not true"));
        }
        if sc.run_as_user.is_some() {
            out.push(format!(
                "container {n}: sets runAsUser: restricted-v2 assigns an arbitrary UID"
            ));
        }
        if sc.allow_privilege_escalation != Some(false) {
            out.push(format!(
                "container {n}: allowPrivilegeEscalation is not false"
            ));
        }
        if sc.privileged == Some(true) {
            out.push(format!("container {n}: is privileged"));
        }
        let drops_all = sc
            .capabilities
            .as_ref()
            .and_then(|c| c.drop.as_ref())
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            out.push(format!(
                "container {n}: capabilities.drop does not include ALL"
            ));
        }
        if sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|a| !a.is_empty())
        {
            out.push(format!("container {n}: adds capabilities"));
        }
        let seccomp = sc
            .seccomp_profile
            .as_ref()
            .map(|s| s.type_.as_str())
            .or(pod_seccomp);
        if seccomp != Some("RuntimeDefault") {
            out.push(format!(
                "container {n}: seccompProfile.type is not RuntimeDefault"
            ));
        }
        if sc.read_only_root_filesystem != Some(true) {
            out.push(format!("container {n}: readOnlyRootFilesystem is not true"));
        }
        let res = c.resources.clone().unwrap_or_default();
        for (what, map) in [("requests", &res.requests), ("limits", &res.limits)] {
            for key in ["cpu", "memory"] {
                if map.as_ref().and_then(|m| m.get(key)).is_none() {
                    out.push(format!("container {n}: no {what}.{key}"));
                }
            }
        }
        if let Some(mem) = res.limits.as_ref().and_then(|m| m.get("memory")) {
            match quantity_bytes(mem) {
                Some(b) if b <= MAX_MEMORY_BYTES => {}
                _ => out.push(format!(
                    "container {n}: memory limit {} is not a few tens of MiB (max 256Mi)",
                    mem.0
                )),
            }
        }
        for (what, probe) in [
            ("livenessProbe", &c.liveness_probe),
            ("readinessProbe", &c.readiness_probe),
            ("startupProbe", &c.startup_probe),
        ] {
            if probe.as_ref().is_some_and(|p| p.exec.is_some()) {
                out.push(format!(
                    "container {n}: {what} is an exec probe (the image has no shell or curl)"
                ));
            }
        }
    }
    out
}

/// What every container of the three services needs beyond the security baseline.
pub(crate) fn app_container(c: &Container) -> Vec<String> {
    let mut out = Vec::new();
    let http_path = |p: &Option<Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .filter(|h| {
                h.port == IntOrString::String("http".into())
                    || h.port == IntOrString::Int(contract::APP_PORT)
            })
            .and_then(|h| h.path.clone())
    };
    if http_path(&c.liveness_probe).as_deref() != Some("/health/live") {
        out.push("livenessProbe is not httpGet /health/live on port http".to_owned());
    }
    if http_path(&c.readiness_probe).as_deref() != Some("/health/ready") {
        out.push("readinessProbe is not httpGet /health/ready on port http".to_owned());
    }
    let hostname = c.env.iter().flatten().find(|e| e.name == "HOSTNAME");
    let from_pod_name = hostname
        .and_then(|e| e.value_from.as_ref())
        .and_then(|v| v.field_ref.as_ref())
        .is_some_and(|f| f.field_path == "metadata.name");
    if !from_pod_name {
        out.push("HOSTNAME does not come from the pod name (valueFrom.fieldRef.fieldPath: metadata.name)".to_owned());
    }
    out
}

/// Labels, annotations, service account and grace period of a pod running one of the services.
pub(crate) fn app_pod(dep: &Deployment, pod: &PodSpec) -> Vec<String> {
    let mut out = Vec::new();
    let spec = dep.spec.clone().unwrap_or_default();
    let meta_labels = dep.metadata.labels.clone().unwrap_or_default();
    let selector = spec.selector.match_labels.clone().unwrap_or_default();
    let template_meta = spec.template.metadata.clone().unwrap_or_default();
    let pod_labels = template_meta.labels.clone().unwrap_or_default();
    for key in ["app", "version"] {
        let values = [meta_labels.get(key), selector.get(key), pod_labels.get(key)];
        if values.iter().any(Option::is_none) || values.iter().any(|v| *v != values[0]) {
            out.push(format!(
                "label `{key}` must be set, and equal, on metadata, selector and pod template"
            ));
        }
    }
    if pod_labels.get(INJECT_LABEL).map(String::as_str) != Some("true") {
        out.push(format!(
            "pod label `{INJECT_LABEL}: \"true\"` missing (OSSM 3 injects by label only)"
        ));
    }
    if pod.automount_service_account_token != Some(false) {
        out.push("automountServiceAccountToken is not false (the app never calls the API; the sidecar has its own token)".to_owned());
    }
    let ann = template_meta.annotations.unwrap_or_default();
    let port = contract::APP_PORT.to_string();
    for (k, v) in [
        ("prometheus.io/scrape", "true"),
        ("prometheus.io/port", port.as_str()),
        ("prometheus.io/path", "/metrics"),
    ] {
        if ann.get(k).map(String::as_str) != Some(v) {
            out.push(format!("pod annotation `{k}: \"{v}\"` missing"));
        }
    }
    if pod.service_account_name.as_ref() != pod_labels.get("app") {
        out.push(
            "serviceAccountName must equal the `app` label (the security labs' principals)"
                .to_owned(),
        );
    }
    let drain = default_shutdown_seconds();
    if pod.termination_grace_period_seconds.unwrap_or(30) <= drain {
        out.push(format!(
            "terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT ({drain}s)"
        ));
    }
    out
}

/// Bytes of a memory quantity such as `64Mi`, `128M`, `1Gi`, `100000000`.
fn quantity_bytes(q: &Quantity) -> Option<f64> {
    let s = q.0.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities_parse_to_bytes() {
        assert_eq!(
            quantity_bytes(&Quantity("64Mi".into())),
            Some(64.0 * 1024.0 * 1024.0)
        );
        assert_eq!(quantity_bytes(&Quantity("1G".into())), Some(1e9));
        assert_eq!(quantity_bytes(&Quantity("12x".into())), None);
    }
}
