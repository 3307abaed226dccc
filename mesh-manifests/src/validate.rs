//! Cross-reference rules over a loaded set of documents, reported as a typed list of findings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::{Container, Service};

use crate::contract;
use crate::images;
use crate::pods::{
    app_container, app_pod, deployments_of, env_value, is_app, pod_labels, pod_security,
};
use crate::resource::{Document, Resource};

/// Annotation marking a file that is wrong on purpose; its value says why (for the trainer).
pub const WRONG_ON_PURPOSE: &str = "istio-tutorial-rs/wrong-on-purpose";

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
    /// An image with no pinned tag, or a bare `<name>:<tag>` no ImageStream and BuildConfig provide.
    Image,
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
            Rule::Image => "image",
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
    for (d, message) in images::check(docs) {
        v.report(d, Rule::Image, message);
    }
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
