//! Cross-reference rules over a loaded set of documents, reported as a typed list of findings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, Probe, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::contract;
use crate::resource::{Document, Resource};

/// Annotation marking a file that is wrong on purpose; its value says why (for the trainer).
pub const WRONG_ON_PURPOSE: &str = "istio-tutorial-rs/wrong-on-purpose";

/// Largest memory limit accepted for a pod's container: a Rust service needs tens of MiB.
const MAX_MEMORY_BYTES: f64 = 256.0 * 1024.0 * 1024.0;

/// The app's default graceful drain (`SHUTDOWN_TIMEOUT`); the grace period must exceed it.
const DEFAULT_SHUTDOWN_SECONDS: i64 = 10;

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A VirtualService destination/mirror host is no Service or ServiceEntry, a port or gateway is unknown.
    HostResolves,
    /// A VirtualService names a subset no DestinationRule for that host defines.
    SubsetDefined,
    /// A DestinationRule subset's labels select no Deployment's pods.
    SubsetSelects,
    /// A Service selector selects no Deployment's pods.
    ServiceSelects,
    /// An app container does not declare port 8080 named `http`, or a Service port is not `http*`.
    HttpPort,
    /// An environment variable outside the configuration contract.
    EnvContract,
    /// A ServiceEntry host differs from the host of recommendation v3's `WORLDCLOCK_URL`.
    EgressHost,
    /// A ServiceEntry for that host does not declare the port v3's `WORLDCLOCK_URL` uses.
    EgressPort,
    /// A pod misses a restricted-v2 / pod-security "restricted" setting or resource limits.
    PodSecurity,
    /// An app pod misses labels, mesh/Prometheus annotations, probes, `HOSTNAME` or grace period.
    AppPod,
    /// A file carries the wrong-on-purpose marker but nothing is wrong with it.
    MarkerWithoutMistake,
    /// A kustomization lists a path that does not exist or load, or an image it does not name.
    Kustomize,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::HostResolves => "host-resolves",
            Rule::SubsetDefined => "subset-defined",
            Rule::SubsetSelects => "subset-selects",
            Rule::ServiceSelects => "service-selects",
            Rule::HttpPort => "http-port",
            Rule::EnvContract => "env-contract",
            Rule::EgressHost => "egress-host",
            Rule::EgressPort => "egress-port",
            Rule::PodSecurity => "pod-security",
            Rule::AppPod => "app-pod",
            Rule::MarkerWithoutMistake => "marker-without-mistake",
            Rule::Kustomize => "kustomize",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub file: PathBuf,
    pub index: usize,
    /// What is wrong and what users would see, in a trainer's words.
    pub message: String,
    /// The document's [`WRONG_ON_PURPOSE`] annotation, when it has one: the finding is expected.
    pub on_purpose: Option<String>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{} [{}] {}",
            self.file.display(),
            self.index,
            self.rule,
            self.message
        )?;
        if let Some(why) = &self.on_purpose {
            write!(f, " (wrong on purpose: {why})")?;
        }
        Ok(())
    }
}

/// Run every rule over `docs` and return the findings, ordered by file, index, rule.
pub fn validate(docs: &[Document]) -> Vec<Finding> {
    let mut v = Validator {
        docs,
        findings: Vec::new(),
    };
    v.virtual_services();
    v.destination_rules();
    v.services();
    v.deployments();
    v.egress();
    v.markers();
    let mut findings = v.findings;
    findings.sort_by(|a, b| (&a.file, a.index, a.rule).cmp(&(&b.file, b.index, b.rule)));
    findings
}

struct Validator<'a> {
    docs: &'a [Document],
    findings: Vec<Finding>,
}

impl<'a> Validator<'a> {
    fn report(&mut self, doc: &Document, rule: Rule, message: String) {
        self.findings.push(Finding {
            rule,
            file: doc.file.clone(),
            index: doc.index,
            message,
            on_purpose: doc.resource.annotations().remove(WRONG_ON_PURPOSE),
        });
    }

    fn service_objects(&self) -> impl Iterator<Item = &'a Service> {
        self.docs.iter().filter_map(|d| match &d.resource {
            Resource::Service(s) => Some(&**s),
            _ => None,
        })
    }

    fn service_by_name(&self, name: &str) -> Option<&'a Service> {
        self.service_objects()
            .find(|s| s.metadata.name.as_deref() == Some(name))
    }

    fn service_entry_hosts(&self) -> BTreeSet<&'a str> {
        self.docs
            .iter()
            .filter_map(|d| match &d.resource {
                Resource::ServiceEntry(se) => Some(se.spec.hosts.iter().map(String::as_str)),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The Service a host names (`recommendation`, `recommendation.tutorial`,
    /// `recommendation.tutorial.svc.cluster.local`), if any.
    fn service_for_host(&self, host: &str) -> Option<&'a Service> {
        let labels: Vec<&str> = host.split('.').collect();
        let in_cluster =
            labels.len() <= 2 || host.ends_with(".svc") || host.ends_with(".svc.cluster.local");
        if in_cluster {
            self.service_by_name(labels[0])
        } else {
            None
        }
    }

    /// Subset names defined per destination host key (Service name, or external host).
    fn subsets_by_host(&self) -> BTreeMap<String, BTreeSet<&'a str>> {
        let mut out: BTreeMap<String, BTreeSet<&'a str>> = BTreeMap::new();
        for d in self.docs {
            if let Resource::DestinationRule(dr) = &d.resource {
                let set = out.entry(self.host_key(&dr.spec.host)).or_default();
                for s in dr.spec.subsets.iter().flatten() {
                    set.insert(&s.name);
                }
            }
        }
        out
    }

    fn host_key(&self, host: &str) -> String {
        match self.service_for_host(host) {
            Some(s) => s.metadata.name.clone().unwrap_or_default(),
            None => host.to_owned(),
        }
    }

    fn virtual_services(&mut self) {
        let se_hosts = self.service_entry_hosts();
        let subsets = self.subsets_by_host();
        let gateways: BTreeSet<&str> = self
            .docs
            .iter()
            .filter(|d| matches!(d.resource, Resource::Gateway(_)))
            .filter_map(|d| d.resource.name())
            .collect();
        for d in self.docs {
            let Resource::VirtualService(vs) = &d.resource else {
                continue;
            };
            for gw in vs.spec.gateways.iter().flatten() {
                if gw != "mesh" && !gateways.contains(gw.as_str()) {
                    self.report(
                        d,
                        Rule::HostResolves,
                        format!("gateway `{gw}` is no Gateway in these files"),
                    );
                }
            }
            let mut targets: Vec<(String, Option<String>, Option<i64>, &str)> = Vec::new();
            for http in vs.spec.http.iter().flatten() {
                for r in http.route.iter().flatten() {
                    let port = r.destination.port.as_ref().and_then(|p| p.number);
                    targets.push((
                        r.destination.host.clone(),
                        r.destination.subset.clone(),
                        port,
                        "route",
                    ));
                }
                if let Some(m) = &http.mirror {
                    let port = m.port.as_ref().and_then(|p| p.number);
                    targets.push((m.host.clone(), m.subset.clone(), port, "mirror"));
                }
            }
            for (host, subset, port, what) in targets {
                let service = self.service_for_host(&host);
                if service.is_none() && !se_hosts.contains(host.as_str()) {
                    self.report(
                        d,
                        Rule::HostResolves,
                        format!("{what} host `{host}` is no Service and no ServiceEntry host: requests would get 503 (no healthy upstream / route not found)"),
                    );
                    continue;
                }
                if let (Some(svc), Some(port)) = (service, port) {
                    let ports: Vec<i64> = svc
                        .spec
                        .iter()
                        .flat_map(|s| s.ports.iter().flatten())
                        .map(|p| i64::from(p.port))
                        .collect();
                    if !ports.contains(&port) {
                        self.report(d, Rule::HostResolves, format!("{what} port {port} of `{host}` is not a port of Service `{host}` (ports {ports:?})"));
                    }
                }
                if let Some(subset) = subset {
                    let key = self.host_key(&host);
                    let defined = subsets
                        .get(&key)
                        .is_some_and(|s| s.contains(subset.as_str()));
                    if !defined {
                        self.report(
                            d,
                            Rule::SubsetDefined,
                            format!("{what} subset `{subset}` of host `{host}` is defined by no DestinationRule: Envoy would answer 503 (cluster not found)"),
                        );
                    }
                }
            }
        }
    }

    fn destination_rules(&mut self) {
        for d in self.docs {
            let Resource::DestinationRule(dr) = &d.resource else {
                continue;
            };
            let Some(svc) = self.service_for_host(&dr.spec.host) else {
                if !self.service_entry_hosts().contains(dr.spec.host.as_str()) {
                    self.report(
                        d,
                        Rule::HostResolves,
                        format!(
                            "host `{}` is no Service and no ServiceEntry host",
                            dr.spec.host
                        ),
                    );
                }
                continue;
            };
            let selector = svc
                .spec
                .as_ref()
                .and_then(|s| s.selector.clone())
                .unwrap_or_default();
            for subset in dr.spec.subsets.iter().flatten() {
                let mut wanted = selector.clone();
                wanted.extend(subset.labels.clone().unwrap_or_default());
                if !self.any_pod_matches(&wanted) {
                    self.report(
                        d,
                        Rule::SubsetSelects,
                        format!("subset `{}` (labels {wanted:?}) selects no Deployment's pods: routing to it gives 503 (no healthy upstream)", subset.name),
                    );
                }
            }
        }
    }

    fn any_pod_matches(&self, wanted: &BTreeMap<String, String>) -> bool {
        deployments_of(self.docs).any(|(_, dep)| {
            let labels = pod_labels(dep);
            wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
    }

    fn services(&mut self) {
        for d in self.docs {
            let Resource::Service(svc) = &d.resource else {
                continue;
            };
            let spec = svc.spec.clone().unwrap_or_default();
            let selector = spec.selector.unwrap_or_default();
            if selector.is_empty() || !self.any_pod_matches(&selector) {
                self.report(
                    d,
                    Rule::ServiceSelects,
                    format!("selector {selector:?} selects no Deployment's pods"),
                );
            }
            for p in spec.ports.iter().flatten() {
                let name = p.name.as_deref().unwrap_or("");
                if !name.starts_with("http") {
                    self.report(d, Rule::HttpPort, format!("port {} is named `{name}`: Istio needs an `http` prefix to treat it as HTTP", p.port));
                }
            }
        }
    }

    fn deployments(&mut self) {
        for (d, dep) in deployments_of(self.docs) {
            let name = dep.metadata.name.clone().unwrap_or_default();
            let Some(pod) = dep.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
                self.report(
                    d,
                    Rule::PodSecurity,
                    format!("Deployment {name} has no pod spec"),
                );
                continue;
            };
            for msg in pod_security(pod) {
                self.report(d, Rule::PodSecurity, format!("Deployment {name}: {msg}"));
            }
            for c in pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
            {
                for e in c.env.iter().flatten() {
                    if !contract::is_contract_env(&e.name) {
                        self.report(d, Rule::EnvContract, format!("container {} sets `{}`, which is not a variable of the configuration contract", c.name, e.name));
                    }
                }
            }
            let app: Vec<&Container> = pod.containers.iter().filter(|c| is_app(c)).collect();
            for c in &app {
                let ok = c.ports.iter().flatten().any(|p| {
                    p.container_port == contract::APP_PORT && p.name.as_deref() == Some("http")
                });
                if !ok {
                    self.report(
                        d,
                        Rule::HttpPort,
                        format!(
                            "container {} does not declare port {} named `http`",
                            c.name,
                            contract::APP_PORT
                        ),
                    );
                }
                for msg in app_container(c) {
                    self.report(
                        d,
                        Rule::AppPod,
                        format!("Deployment {name}: container {}: {msg}", c.name),
                    );
                }
            }
            if !app.is_empty() {
                for msg in app_pod(dep, pod) {
                    self.report(d, Rule::AppPod, format!("Deployment {name}: {msg}"));
                }
            }
        }
    }

    /// ServiceEntry hosts and ports against recommendation v3's `WORLDCLOCK_URL`.
    fn egress(&mut self) {
        let mut urls: Vec<url::Url> = Vec::new();
        for (d, dep) in deployments_of(self.docs) {
            let Some(pod) = dep.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
                continue;
            };
            for c in pod.containers.iter().filter(|c| is_app(c)) {
                if env_value(c, "RECOMMENDATION_VERSION").as_deref() != Some("v3") {
                    continue;
                }
                match env_value(c, "WORLDCLOCK_URL").map(|u| url::Url::parse(&u)) {
                    Some(Ok(u)) if u.host_str().is_some() => urls.push(u),
                    Some(_) => self.report(d, Rule::EgressHost, "WORLDCLOCK_URL is not an absolute URL with a host".into()),
                    None => self.report(d, Rule::EgressHost, "recommendation v3 must set WORLDCLOCK_URL explicitly, so the ServiceEntry can be checked against it".into()),
                }
            }
        }
        for d in self.docs {
            let Resource::ServiceEntry(se) = &d.resource else {
                continue;
            };
            let name = d.resource.name().unwrap_or("(unnamed)");
            let matching: Vec<&url::Url> = urls
                .iter()
                .filter(|u| {
                    se.spec
                        .hosts
                        .iter()
                        .any(|h| Some(h.as_str()) == u.host_str())
                })
                .collect();
            if matching.is_empty() {
                let wanted: Vec<&str> = urls.iter().filter_map(|u| u.host_str()).collect();
                self.report(d, Rule::EgressHost, format!("ServiceEntry {name} hosts {:?} do not include the host recommendation v3 calls ({wanted:?})", se.spec.hosts));
                continue;
            }
            let ports: Vec<i64> = se.spec.ports.iter().flatten().map(|p| p.number).collect();
            for u in matching {
                let Some(port) = u.port_or_known_default() else {
                    continue;
                };
                if !ports.contains(&i64::from(port)) {
                    self.report(
                        d,
                        Rule::EgressPort,
                        format!(
                            "ServiceEntry {name} declares {} on port(s) {ports:?}, but recommendation v3 calls {u} (port {port}): \
                             the sidecar has no route for port {port}, so the time lookup fails and users see \
                             `customer => Error: 503 - preference => Error: 500 - ...`; fix it by declaring port {port}",
                            u.host_str().unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }

    fn markers(&mut self) {
        let reported: BTreeSet<(PathBuf, usize)> = self
            .findings
            .iter()
            .map(|f| (f.file.clone(), f.index))
            .collect();
        for d in self.docs {
            if d.resource.annotations().contains_key(WRONG_ON_PURPOSE)
                && !reported.contains(&(d.file.clone(), d.index))
            {
                self.report(d, Rule::MarkerWithoutMistake, format!("{} is marked `{WRONG_ON_PURPOSE}` but no rule finds anything wrong with it", d.resource));
            }
        }
    }
}

fn deployments_of(docs: &[Document]) -> impl Iterator<Item = (&Document, &Deployment)> {
    docs.iter().filter_map(|d| match &d.resource {
        Resource::Deployment(s) => Some((d, &**s)),
        _ => None,
    })
}

fn pod_labels(dep: &Deployment) -> BTreeMap<String, String> {
    dep.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
}

/// A container running one of the three services' images.
fn is_app(c: &Container) -> bool {
    c.image
        .as_deref()
        .is_some_and(|i| i.starts_with(contract::APP_IMAGE_PREFIX))
}

fn env_value(c: &Container, name: &str) -> Option<String> {
    c.env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

/// OpenShift restricted-v2 / Kubernetes "restricted", plus requests and limits, for every pod.
fn pod_security(pod: &PodSpec) -> Vec<String> {
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
fn app_container(c: &Container) -> Vec<String> {
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
fn app_pod(dep: &Deployment, pod: &PodSpec) -> Vec<String> {
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
    let ann = template_meta.annotations.unwrap_or_default();
    let port = contract::APP_PORT.to_string();
    for (k, v) in [
        ("sidecar.istio.io/inject", "true"),
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
    if pod.termination_grace_period_seconds.unwrap_or(30) <= DEFAULT_SHUTDOWN_SECONDS {
        out.push(format!("terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT ({DEFAULT_SHUTDOWN_SECONDS}s)"));
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
