//! The platform's rules that decide the outcomes the scripts meet, one function each, with the upstream
//! source it follows. Nothing else of OpenShift or Istio is modelled: a call no rule answers fails (main.rs).

use serde_json::Value;

/// Which mesh a profile runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mesh {
    /// OpenShift Service Mesh 2 (maistra): ServiceMeshControlPlane, ServiceMeshMember, opt-in injection.
    Ossm2,
    /// OpenShift Service Mesh 3 (sail-operator): Istio resource, upstream Istio's injection webhook.
    Ossm3,
}

/// A cluster the script tests run on: the mesh, its Istio version, the OpenShift release and its Kubernetes.
pub struct Profile {
    pub name: &'static str,
    pub mesh: Mesh,
    pub istio: (u32, u32),
    pub openshift: &'static str,
    pub kube: (u32, u32),
}

/// The three profiles. Version pairs: Red Hat's "Service Mesh version support tables" (OSSM 2.6 ships Istio
/// 1.20, OSSM 3.1 Istio 1.26, OSSM 3.2 Istio 1.27) and OpenShift's release notes (4.16 = Kubernetes 1.29,
/// 4.18 = 1.31, 4.20 = 1.33).
pub const PROFILES: [Profile; 3] = [
    Profile {
        name: "ossm2.6",
        mesh: Mesh::Ossm2,
        istio: (1, 20),
        openshift: "4.16",
        kube: (1, 29),
    },
    Profile {
        name: "ossm3.1",
        mesh: Mesh::Ossm3,
        istio: (1, 26),
        openshift: "4.18",
        kube: (1, 31),
    },
    Profile {
        name: "ossm3.2",
        mesh: Mesh::Ossm3,
        istio: (1, 27),
        openshift: "4.20",
        kube: (1, 33),
    },
];

pub const POD_INJECT_LABEL: &str = "sidecar.istio.io/inject";
pub const BUILD_POD_LABEL: &str = "openshift.io/build.name";
pub const INTERNAL_REGISTRY: &str = "image-registry.openshift-image-registry.svc:5000";
pub const PROXY_IMAGE: &str = "registry.redhat.io/openshift-service-mesh/proxyv2-rhel9";

fn label<'a>(labels: &'a Value, key: &str) -> Option<&'a str> {
    labels.get(key).and_then(Value::as_str)
}

/// What the control plane's injector is: its revision, whether that revision is the default one, and its
/// neverInjectSelector (label keys that must exist).
pub struct Injector<'a> {
    pub revision: &'a str,
    pub never_inject_keys: Vec<String>,
}

/// Does the injection webhook give this pod a sidecar?
///
/// OSSM 3 follows istio/istio `manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml`
/// (four webhooks: `rev.namespace` = namespace `istio.io/rev=<rev>` without `istio-injection`; `rev.object` =
/// unlabelled namespace and pod `istio.io/rev=<rev>`; and, rendered only when the chart's `revision` is empty
/// (istio-ecosystem/sail-operator `pkg/istiovalues/overrides.go` empties it for the revision named `default`),
/// `namespace` = namespace `istio-injection=enabled` and `object` = unlabelled namespace and pod
/// `sidecar.istio.io/inject=true`;
/// a pod labelled `sidecar.istio.io/inject=false` never: the selectors read labels only), then
/// `pkg/kube/inject/inject.go` injectRequired: the inject label, else the annotation of the same name (the
/// label wins), `"false"` refuses; a pod without either is skipped when a neverInjectSelector matches it.
/// Build pods (label `openshift.io/build.name`) are pods like any other here.
///
/// OSSM 2 (maistra's injector, opt-in): its webhook sees every pod of a member namespace (label
/// `maistra.io/member-of`, set by the member controller; no objectSelector), and injectRequired with the
/// policy `disabled` injects those that ask (`"true"`), by label or annotation.
pub fn injects(
    mesh: Mesh,
    injector: &Injector,
    ns_labels: &Value,
    pod_labels: &Value,
    pod_annotations: &Value,
) -> bool {
    let labelled = label(pod_labels, POD_INJECT_LABEL);
    let asks = labelled.or_else(|| label(pod_annotations, POD_INJECT_LABEL));
    if asks == Some("false") {
        return false;
    }
    match mesh {
        Mesh::Ossm2 => label(ns_labels, "maistra.io/member-of").is_some() && asks == Some("true"),
        Mesh::Ossm3 => {
            let ns_rev = label(ns_labels, "istio.io/rev");
            let ns_injection = label(ns_labels, "istio-injection");
            let pod_rev = label(pod_labels, "istio.io/rev");
            let rev = injector.revision;
            let is_default = rev == "default";
            let selected = (ns_rev == Some(rev) && ns_injection.is_none())
                || (ns_rev.is_none() && ns_injection.is_none() && pod_rev == Some(rev))
                || (is_default && ns_injection == Some("enabled"))
                || (is_default
                    && ns_rev.is_none()
                    && ns_injection.is_none()
                    && labelled == Some("true")
                    && pod_rev.is_none());
            if !selected {
                return false;
            }
            let explicit = asks.is_some();
            let never = injector
                .never_inject_keys
                .iter()
                .any(|k| pod_labels.get(k).is_some());
            explicit || !never
        }
    }
}

/// Is the injected proxy a native sidecar (an init container with `restartPolicy: Always`)?
/// istio/istio `pilot/pkg/features` ENABLE_NATIVE_SIDECARS: off by default before Istio 1.27; from 1.27 on
/// by default where the cluster's Kubernetes runs sidecar containers as stable (1.33 and later).
pub fn native_sidecar(profile: &Profile) -> bool {
    profile.istio >= (1, 27) && profile.kube >= (1, 33)
}

/// Does a build pod finish? The build controller marks the Build Complete when its pod Succeeded
/// (openshift/openshift-controller-manager `pkg/build/controller/build/build_controller.go`); a pod is
/// Succeeded only when every regular container has exited, and an injected proxy that is not a native
/// sidecar never exits, so the Build stays Running (and `oc start-build --wait` never returns).
pub fn build_pod_completes(injected: bool, native: bool) -> bool {
    !injected || native
}

/// What image admission writes for a container image (openshift/apiserver-library-go
/// `pkg/admission/imagepolicy/imagepolicy.go`, with the ImageStream's `lookupPolicy.local`): a short name
/// `<stream>:<tag>` whose stream in the namespace has local lookup and whose ImageStreamTag exists at
/// admission becomes the tag's pull spec by digest; anything else is left as it is. It runs on create and
/// on update of Pods and of the templates of Deployments.
pub fn admit_image(image: &str, tag_ref: impl Fn(&str, &str) -> Option<String>) -> String {
    if image.contains('/') || image.contains('@') {
        return image.to_owned();
    }
    let (stream, tag) = image.split_once(':').unwrap_or((image, "latest"));
    tag_ref(stream, tag).unwrap_or_else(|| image.to_owned())
}

/// Can the kubelet pull this image with these pull secrets? The internal registry wants the pod's
/// registry pull secret, which the ServiceAccount admission plugin copies from the account when the pod is
/// admitted (kubernetes/kubernetes `plugin/pkg/admission/serviceaccount/admission.go`): a pod admitted before
/// the account had its secret keeps pulling without it. A short name resolves to docker.io/library/<name>,
/// where the tutorial's images are not. Other registries: assumed public.
pub fn pull_error(image: &str, pull_secrets: usize) -> Option<&'static str> {
    if image.starts_with(INTERNAL_REGISTRY) {
        return (pull_secrets == 0).then_some("ImagePullBackOff");
    }
    let first = image.split('/').next().unwrap_or("");
    let has_registry = image.contains('/') && (first.contains('.') || first.contains(':'));
    if has_registry {
        None
    } else {
        Some("ImagePullBackOff")
    }
}

/// When a ServiceAccount's registry pull secret is there: the image pull secret controller
/// (openshift/openshift-controller-manager `pkg/serviceaccounts/controllers`) adds it some time after the
/// account is created; the fake's clock counts CLI calls, so "some time" is `delay` calls later.
pub fn pull_secret_ready(created_at: u64, now: u64, delay: u64) -> bool {
    now >= created_at + delay
}

/// maistra's `mesh-user` is a namespaced Role granting `use` on one control plane (maistra/istio-operator,
/// the control plane's `mesh-user` role): such a user may neither list control planes cluster-wide nor
/// label namespaces (a cluster-scoped object). Returns the Forbidden message for the calls it refuses.
pub fn mesh_user_forbids(verb: &str, resource: &str, all_namespaces: bool) -> Option<String> {
    let user = "developer";
    match (verb, resource) {
        ("get", "smcp" | "servicemeshcontrolplane" | "servicemeshcontrolplanes") => {
            Some(if all_namespaces {
                format!(
                    "Error from server (Forbidden): servicemeshcontrolplanes.maistra.io is forbidden: User \"{user}\" cannot list resource \"servicemeshcontrolplanes\" in API group \"maistra.io\" at the cluster scope"
                )
            } else {
                format!(
                    "Error from server (Forbidden): servicemeshcontrolplanes.maistra.io is forbidden: User \"{user}\" cannot list resource \"servicemeshcontrolplanes\" in API group \"maistra.io\" in the namespace"
                )
            })
        }
        ("label" | "annotate", "namespace") => Some(format!(
            "Error from server (Forbidden): namespaces is forbidden: User \"{user}\" cannot patch resource \"namespaces\" in API group \"\" at the cluster scope"
        )),
        _ => None,
    }
}

/// `oc annotate` / `kubectl annotate` without `--overwrite` (kubernetes/kubectl `pkg/cmd/annotate/annotate.go`,
/// its check of the object's annotations before it sends the patch): a `KEY=VALUE` whose key the object already
/// holds with another value refuses the whole call, naming each such key with its value, and nothing is
/// written. The same value again, a new key, a removal (`KEY-`) and `kubernetes.io/change-cause` pass.
pub fn annotate_refuses(
    annotations: &Value,
    changes: &[String],
    overwrite: bool,
) -> Option<String> {
    if overwrite {
        return None;
    }
    let held: Vec<String> = changes
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k != "kubernetes.io/change-cause")
        .filter_map(|(k, v)| {
            let current = annotations.get(k)?.as_str()?;
            (current != v).then(|| format!("'{k}' already has a value ({current})"))
        })
        .collect();
    (!held.is_empty()).then(|| {
        format!(
            "error: --overwrite is false but found the following declared annotation(s): {}",
            held.join("; ")
        )
    })
}

/// The triggers annotation (openshift/openshift-controller-manager `pkg/image/trigger/annotations`):
/// `image.openshift.io/triggers` holds `[{"from":{"kind":"ImageStreamTag","name":"<stream>:<tag>"},
/// "fieldPath":"spec.template.spec.containers[?(@.name==\"<container>\")].image"}]`; when the tag points at a
/// new image the controller writes its pull spec into that field (which rolls the Deployment). Returns
/// (tag, container) pairs.
pub fn triggers(annotations: &Value) -> Vec<(String, String)> {
    let Some(raw) = annotations
        .get("image.openshift.io/triggers")
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    let parsed: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    parsed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t.get("paused").and_then(Value::as_str) != Some("true"))
        .filter(|t| t.pointer("/from/kind").and_then(Value::as_str) == Some("ImageStreamTag"))
        .filter_map(|t| {
            let tag = t.pointer("/from/name")?.as_str()?.to_owned();
            let path = t.get("fieldPath")?.as_str()?;
            let container = path
                .strip_prefix("spec.template.spec.containers[?(@.name==\"")?
                .strip_suffix("\")].image")?
                .to_owned();
            Some((tag, container))
        })
        .collect()
}

/// The host recommendation v3 calls for the time (docs/EGRESS-LAB-OPENSHIFT.md, "The time API").
pub const TIME_HOST: &str = "worldclockapi.com";

/// What recommendation v3's call to http://worldclockapi.com/ (port 80) meets.
#[derive(Debug, PartialEq, Eq)]
pub enum Egress {
    /// The stand-in answers with the time.
    Time,
    /// The sidecar answers itself with this status (no upstream).
    Proxy(u16),
    /// The name does not resolve (no hostAliases entry for it in the pod).
    NoSuchHost,
    /// It resolves to the stand-in, which is not running.
    Refused,
}

/// The mesh's egress rule for that call, as docs/EGRESS-LAB-OPENSHIFT.md ("The time API") describes it and
/// Istio's outbound traffic policy does (istio.io "Accessing External Services"; istio/istio
/// `pilot/pkg/networking/core` PassthroughCluster / BlackHoleCluster): without a sidecar nothing intercepts
/// the call; a ServiceEntry declaring the host on port 80 lets it through (resolution NONE keeps the address
/// the app connected to); a ServiceEntry that declares the host on another port only, with a VirtualService for
/// the host, routes port 80 to a cluster that does not exist (503); otherwise the policy decides:
/// ALLOW_ANY passes through, REGISTRY_ONLY answers 502. `policy` is the Sidecar resource's of the namespace,
/// else the mesh's (ALLOW_ANY when unset).
pub fn egress(
    sidecar: bool,
    resolves: bool,
    stand_in_up: bool,
    policy: &str,
    service_entry_ports: Option<&[u64]>,
    virtual_service_for_host: bool,
) -> Egress {
    if !resolves {
        return Egress::NoSuchHost;
    }
    let upstream = if stand_in_up {
        Egress::Time
    } else {
        Egress::Refused
    };
    if !sidecar {
        return upstream;
    }
    match service_entry_ports {
        Some(ports) if ports.contains(&80) => upstream,
        Some(_) if virtual_service_for_host => Egress::Proxy(503),
        _ if policy == "REGISTRY_ONLY" => Egress::Proxy(502),
        _ => upstream,
    }
}
