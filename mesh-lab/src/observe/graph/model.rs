//! The traffic graph from the proxies' access logs (pure: no processes): nodes per workload (grouped by app,
//! one per version), per external host (grouped by how the request left), edges per (source proxy, target)
//! with request counts, the rate over the last [`WINDOW_SECONDS`], response codes with Envoy's flags, routes and
//! clusters, and Kiali's health colours.
//!
//! Like Kiali's versioned-app graph, an edge's source is the proxy that sent the request (it logged it on its
//! outbound listener: the gateway's `0.0.0.0_8080`, a sidecar's `outbound_0.0.0.0_8080` / `_80`), its target
//! the workload whose endpoint is the upstream host. A request that never reached a pod (fault abort, no
//! healthy upstream, overflow) ends at the Service's node, as in Kiali with service nodes shown. Mirrored
//! requests are not in the sender's log: they are the receiver's inbound entries whose `x-request-id` and
//! Host match a sender's entry that went to another pod in one attempt.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dataplane::envoy::AccessLogEntry;
use crate::observe::way_out::WayOut;

/// The recent window for the rates and the colours: Kiali's default duration (1 minute).
pub const WINDOW_SECONDS: i64 = 60;
/// Inbound entries younger than this may still wait for their sender's entry (Envoy logs the outbound
/// entry when the response completes, and flushes every 50 ms): they are judged later.
const SETTLE_MS: i64 = 2000;

/// The gateway's proxy name in the lab.
pub const GATEWAY: &str = "istio-ingressgateway";

/// A pod, running or gone, as the graph names it.
#[derive(Clone, Debug, PartialEq)]
pub struct PodInfo {
    /// The Deployment (`recommendation-v2`): the node's id.
    pub workload: String,
    pub app: String,
    pub version: String,
    /// The Service endpoint (the sidecar's inbound listener, else the app).
    pub endpoint: SocketAddr,
    pub sidecar: bool,
    pub running: bool,
}

/// One proxy's access log.
#[derive(Clone, Debug)]
pub struct ProxyLog {
    /// [`GATEWAY`] or a Deployment's name.
    pub proxy: String,
    pub entries: Vec<AccessLogEntry>,
}

/// What the graph is drawn from.
#[derive(Clone, Debug)]
pub struct Input {
    pub pods: Vec<PodInfo>,
    pub logs: Vec<ProxyLog>,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Node {
    pub id: String,
    /// The app (workloads, services) or the external host.
    pub app: String,
    pub version: Option<String>,
    /// `gateway`, `workload`, `service`, `external`, `unknown`.
    pub kind: String,
    /// The box it is drawn in: the app, or the [`WayOut::name`] of how the request left (`passthrough`, …).
    pub group: String,
    /// A workload without a sidecar (1/1): it logs nothing, its outgoing traffic is invisible.
    pub missing_sidecar: bool,
    /// False for a workload whose pod is gone but still appears in the logs.
    pub running: bool,
}

/// Kiali's edge health.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No request in the window (Kiali draws such an edge grey).
    Idle,
    Healthy,
    Degraded,
    Failure,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Failure => "failure",
        }
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Edge {
    pub source: String,
    pub target: String,
    /// Requests so far (as `show` counts them).
    pub requests: usize,
    /// Of those, answered 4xx/5xx or not at all.
    pub errors: usize,
    /// Requests per second over the last [`WINDOW_SECONDS`].
    pub rps: f64,
    pub window_requests: usize,
    pub window_errors: usize,
    /// Error percentage over the window (0 without requests).
    pub error_pct: f64,
    /// From the window's codes with Kiali's default tolerances ([`health`]).
    pub health: Health,
    /// `"200"`, `"503 NC"`, … so far.
    pub codes: BTreeMap<String, usize>,
    pub routes: BTreeSet<String>,
    pub clusters: BTreeSet<String>,
    /// How it left: mesh, passthrough, service-entry, blocked, missing-cluster, no-route, mirror.
    pub via: WayOut,
    /// Shadow copies (Envoy's `request_mirror_policies`), seen in the receiver's inbound log.
    pub mirror: bool,
    /// Upstream attempts beyond the first (Envoy's retries), so far.
    pub retries: u64,
    /// When its first and its last request started (RFC 3339, from the access log): the order in which
    /// traffic took each way (first through PassthroughCluster, then through the ServiceEntry, …).
    pub first: Option<String>,
    pub last: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub window_seconds: i64,
    pub generated_at: String,
}

/// One of Kiali's default health tolerances (`config.go` `AddHealthDefault`): a code class, and the error
/// percentages from which an edge is degraded and failing.
struct Tolerance {
    matches: fn(u16) -> bool,
    degraded: f64,
    failure: f64,
}

/// Kiali's defaults: 5xx degraded above 0 %, failure from 10 %; 4xx degraded from 10 %, failure from 20 %;
/// no response (`-`, Envoy's code 0) like 5xx.
const TOLERANCES: &[Tolerance] = &[
    Tolerance {
        matches: |c| (500..600).contains(&c),
        degraded: 0.0,
        failure: 10.0,
    },
    Tolerance {
        matches: |c| (400..500).contains(&c),
        degraded: 10.0,
        failure: 20.0,
    },
    Tolerance {
        matches: |c| c == 0,
        degraded: 0.0,
        failure: 10.0,
    },
];

/// Kiali's edge health from response codes (`graph/telemetry/istio/appender/health.go`
/// `calculateEdgeStatusWithTolerances`): per tolerance, the error ratio in percent; above 0 and at least
/// `failure` → failure, else at least `degraded` → degraded; the worst wins. No requests: idle.
pub fn health(codes: &[u16]) -> Health {
    if codes.is_empty() {
        return Health::Idle;
    }
    let total = codes.len() as f64;
    let mut worst = Health::Healthy;
    for t in TOLERANCES {
        let ratio = codes.iter().filter(|c| (t.matches)(**c)).count() as f64 * 100.0 / total;
        let status = if ratio > 0.0 && ratio >= t.failure {
            Health::Failure
        } else if ratio > 0.0 && ratio >= t.degraded {
            Health::Degraded
        } else {
            Health::Healthy
        };
        worst = worst.max(status);
    }
    worst
}

fn is_error(code: u16) -> bool {
    code == 0 || code >= 400
}

fn is_inbound(listener: &str) -> bool {
    listener == "virtualInbound" || listener.starts_with("inbound")
}

/// The primary request's Host of a shadow copy: Envoy appends `-shadow` to the host of a mirrored request
/// unless told not to (istiod tells it from Istio 1.28; `mesh-lab up --istio` before that).
fn unshadowed(authority: &str) -> String {
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, ""));
    match host.strip_suffix("-shadow") {
        Some(h) if port.is_empty() => h.to_owned(),
        Some(h) => format!("{h}:{port}"),
        None => authority.to_owned(),
    }
}

fn host_of(authority: &str) -> &str {
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_set(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty() && *s != "-")
}

fn time_of(e: &AccessLogEntry) -> Option<DateTime<Utc>> {
    e.start_time
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The Service a mesh cluster names (`outbound|8080|version-v1|recommendation.tutorial.svc.cluster.local`).
fn cluster_service(cluster: &str) -> Option<(&str, Option<&str>)> {
    let mut parts = cluster.split('|');
    let (_dir, _port, subset, host) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let name = host.split('.').next()?;
    let version = subset.strip_prefix("version-");
    Some((name, version))
}

struct Acc {
    requests: usize,
    errors: usize,
    window: Vec<u16>,
    codes: BTreeMap<String, usize>,
    routes: BTreeSet<String>,
    clusters: BTreeSet<String>,
    via: WayOut,
    retries: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

impl Acc {
    fn new(via: WayOut) -> Self {
        Self {
            requests: 0,
            errors: 0,
            window: Vec::new(),
            codes: BTreeMap::new(),
            routes: BTreeSet::new(),
            clusters: BTreeSet::new(),
            via,
            retries: 0,
            first: None,
            last: None,
        }
    }

    fn add(&mut self, e: &AccessLogEntry, recent: bool) {
        let code = e.response_code.unwrap_or(0);
        self.requests += 1;
        self.errors += usize::from(is_error(code));
        if recent {
            self.window.push(code);
        }
        let key = match is_set(e.response_flags.as_deref()) {
            Some(f) => format!("{code} {f}"),
            None => code.to_string(),
        };
        *self.codes.entry(key).or_default() += 1;
        if let Some(r) = is_set(e.route_name.as_deref()) {
            self.routes.insert(r.to_owned());
        }
        if let Some(c) = is_set(e.upstream_cluster.as_deref()) {
            self.clusters.insert(c.to_owned());
        }
        self.retries += e.attempts.unwrap_or(1).saturating_sub(1);
        if let Some(t) = time_of(e) {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

struct Builder<'a> {
    input: &'a Input,
    nodes: BTreeMap<String, Node>,
    edges: BTreeMap<(String, String, bool), Acc>,
}

impl Builder<'_> {
    fn pod_by_endpoint(&self, addr: &str) -> Option<&PodInfo> {
        // A running pod wins over a gone one that had the same address.
        let mut found = None;
        for p in &self.input.pods {
            if p.endpoint.to_string() == addr && (found.is_none() || p.running) {
                found = Some(p);
            }
        }
        found
    }

    fn workload_node(&mut self, p: &PodInfo) -> String {
        let running_sidecar = self
            .input
            .pods
            .iter()
            .filter(|q| q.workload == p.workload && q.running)
            .map(|q| q.sidecar)
            .next();
        let id = p.workload.clone();
        self.nodes.entry(id.clone()).or_insert_with(|| Node {
            id: id.clone(),
            app: p.app.clone(),
            version: Some(p.version.clone()),
            kind: "workload".into(),
            group: p.app.clone(),
            missing_sidecar: running_sidecar == Some(false),
            running: running_sidecar.is_some(),
        });
        id
    }

    fn other_node(&mut self, id: String, app: &str, kind: &str, group: &str) -> String {
        self.nodes.entry(id.clone()).or_insert_with(|| Node {
            id: id.clone(),
            app: app.to_owned(),
            version: None,
            kind: kind.into(),
            group: group.into(),
            missing_sidecar: false,
            running: true,
        });
        id
    }

    /// The node an outbound entry went to.
    fn target(&mut self, e: &AccessLogEntry, via: WayOut) -> String {
        let authority = e.authority.as_deref().unwrap_or("-");
        let host = host_of(authority).to_owned();
        if via == WayOut::Mesh {
            if let Some(p) = is_set(e.upstream_host.as_deref())
                .and_then(|h| self.pod_by_endpoint(h))
                .cloned()
            {
                return self.workload_node(&p);
            }
            let cluster = e.upstream_cluster.as_deref().unwrap_or("");
            if let Some((svc, version)) = cluster_service(cluster) {
                if let Some(p) = version.and_then(|v| {
                    self.input
                        .pods
                        .iter()
                        .find(|p| p.app == svc && p.version == v)
                        .cloned()
                }) && is_set(e.upstream_host.as_deref()).is_some()
                {
                    return self.workload_node(&p);
                }
                return self.other_node(format!("service:{svc}"), svc, "service", svc);
            }
            return self.other_node("unknown".into(), "unknown", "unknown", "unknown");
        }
        self.other_node(
            format!("{}:{host}", via.name()),
            &host,
            "external",
            via.name(),
        )
    }

    /// The edge's requests so far, now counted as leaving `via`.
    fn edge(&mut self, source: String, target: String, mirror: bool, via: WayOut) -> &mut Acc {
        let acc = self
            .edges
            .entry((source, target, mirror))
            .or_insert_with(|| Acc::new(via));
        acc.via = via;
        acc
    }
}

/// Who sent a request, as its sender logged it: the sender, the target node, the upstream attempts and the
/// route.
type Sent = (String, String, u64, Option<String>);

fn in_window(e: &AccessLogEntry, window_start: DateTime<Utc>) -> bool {
    time_of(e).is_some_and(|t| t >= window_start)
}

impl Builder<'_> {
    /// An edge per (sender, target) from every outbound entry; returns the sent requests by (request id,
    /// Host), which explain the receivers' inbound entries.
    fn outbound(&mut self, window_start: DateTime<Utc>) -> BTreeMap<(String, String), Vec<Sent>> {
        let mut sent: BTreeMap<(String, String), Vec<Sent>> = BTreeMap::new();
        for log in &self.input.logs {
            let source = if log.proxy == GATEWAY {
                GATEWAY.to_owned()
            } else {
                log.proxy.clone()
            };
            for e in &log.entries {
                let listener = e.listener.as_deref().unwrap_or("");
                if is_inbound(listener) {
                    continue;
                }
                let via = WayOut::of_outbound(e);
                let target = self.target(e, via);
                if let Some(id) = is_set(e.request_id.as_deref()) {
                    sent.entry((id.to_owned(), e.authority.clone().unwrap_or_default()))
                        .or_default()
                        .push((
                            source.clone(),
                            target.clone(),
                            e.attempts.unwrap_or(1),
                            is_set(e.route_name.as_deref()).map(str::to_owned),
                        ));
                }
                let acc = self.edge(source.clone(), target, false, via);
                acc.add(e, in_window(e, window_start));
            }
        }
        sent
    }

    /// Inbound entries that no sender's entry explains: mirrored copies, or callers without a sidecar.
    fn unexplained_inbound(
        &mut self,
        sent: &BTreeMap<(String, String), Vec<Sent>>,
        window_start: DateTime<Utc>,
    ) {
        let input = self.input;
        let settled = input.now - chrono::Duration::milliseconds(SETTLE_MS);
        for log in &input.logs {
            let Some(receiver) = input
                .pods
                .iter()
                .find(|p| p.workload == log.proxy && p.running)
            else {
                continue;
            };
            let node = receiver.workload.clone();
            for e in &log.entries {
                if !is_inbound(e.listener.as_deref().unwrap_or("")) {
                    continue;
                }
                let key = (
                    e.request_id.clone().unwrap_or_default(),
                    unshadowed(e.authority.as_deref().unwrap_or_default()),
                );
                let senders = sent.get(&key).map(Vec::as_slice).unwrap_or_default();
                if senders.iter().any(|(_, t, _, _)| *t == node) {
                    continue;
                }
                // The sender's own entry went elsewhere: a shadow copy if it took one attempt; with retries
                // it is an earlier attempt, counted in the sender's `retries`.
                if let Some((sender, _, attempts, route)) = senders.first() {
                    if *attempts <= 1 {
                        let acc = self.edge(sender.clone(), node.clone(), true, WayOut::Mirror);
                        acc.add(e, in_window(e, window_start));
                        // The receiver's inbound route and cluster say nothing: name the sender's route.
                        acc.routes.clear();
                        acc.clusters.clear();
                        acc.routes.extend(route.clone());
                    }
                    continue;
                }
                if time_of(e).is_none_or(|t| t > settled) {
                    continue;
                }
                let unknown = self.other_node("unknown".into(), "unknown", "unknown", "unknown");
                let acc = self.edge(unknown, node.clone(), false, WayOut::Mesh);
                acc.add(e, in_window(e, window_start));
            }
        }
    }
}

impl Acc {
    /// The edge these requests make.
    fn into_edge(self, source: String, target: String, mirror: bool) -> Edge {
        let window_errors = self.window.iter().filter(|c| is_error(**c)).count();
        Edge {
            source,
            target,
            requests: self.requests,
            errors: self.errors,
            rps: self.window.len() as f64 / WINDOW_SECONDS as f64,
            window_requests: self.window.len(),
            window_errors,
            error_pct: if self.window.is_empty() {
                0.0
            } else {
                window_errors as f64 * 100.0 / self.window.len() as f64
            },
            health: health(&self.window),
            codes: self.codes,
            routes: self.routes,
            clusters: self.clusters,
            via: self.via,
            mirror,
            retries: self.retries,
            first: self
                .first
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            last: self
                .last
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        }
    }
}

/// The graph of everything the proxies logged so far.
pub fn build(input: &Input) -> Graph {
    let mut b = Builder {
        input,
        nodes: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    let window_start = input.now - chrono::Duration::seconds(WINDOW_SECONDS);
    b.other_node(GATEWAY.into(), GATEWAY, "gateway", GATEWAY);
    for p in input.pods.iter().filter(|p| p.running) {
        b.workload_node(p);
    }
    let sent = b.outbound(window_start);
    b.unexplained_inbound(&sent, window_start);
    let edges = b
        .edges
        .into_iter()
        .map(|((source, target, mirror), a)| a.into_edge(source, target, mirror))
        .collect();
    Graph {
        nodes: b.nodes.into_values().collect(),
        edges,
        window_seconds: WINDOW_SECONDS,
        generated_at: input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

#[cfg(test)]
mod tests;
