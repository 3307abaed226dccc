//! The traffic graph from the proxies' access logs (pure: no processes): nodes per workload (grouped by app,
//! one per version), per external host (grouped by how the request left), edges per (source proxy, target)
//! with request counts, the rate over a recent window ([`WINDOWS`], [`DEFAULT_WINDOW_SECONDS`]), response codes
//! with Envoy's flags and their meaning in words ([`crate::observe::flags`]), routes and clusters, and Kiali's
//! health colours. Only requests that started at or after a moment count ([`Input::since`]: the lab's start or
//! its last reset; [`build_since`]: a guided step's start).
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
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, route};
use serde::Serialize;

use crate::dataplane::envoy::AccessLogEntry;
use crate::observe::flags::{self, cluster_subset};
use crate::observe::way_out::WayOut;
use mesh_istiod::networking::core::cluster_builder::parse_subset_key;

/// The recent windows a reader can pick for the rates and the colours (`?window=`): 10 s, and Kiali's 1, 5
/// and 10 minutes.
pub const WINDOWS: [i64; 4] = [10, 60, 300, 600];

/// The default window: 10 s, not Kiali's 1 minute. With Kiali's tolerances a single 5xx in the window makes
/// an edge degraded (5xx: degraded above 0 %), so an edge turns green only once its last error has left the
/// window, however much good traffic follows: the window is the time from a fix to green. 10 s shows a fix
/// within 10 s (Kiali adds Prometheus's 15 s scrape interval to its minute).
pub const DEFAULT_WINDOW_SECONDS: i64 = 10;

/// A window from `?window=`: seconds (`10`, `60s`) or minutes (`1m`), one of [`WINDOWS`].
pub fn parse_window(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let seconds = if let Some(m) = s.strip_suffix('m') {
        m.parse::<i64>().ok().and_then(|m| m.checked_mul(60))
    } else {
        s.strip_suffix('s').unwrap_or(s).parse::<i64>().ok()
    };
    seconds.filter(|w| WINDOWS.contains(w)).ok_or_else(|| {
        format!("window={s} is not one of the graph's windows: use 10s, 1m, 5m or 10m")
    })
}

/// A window in words: `10 s`, `1 min`.
pub fn window_words(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}
/// Inbound entries younger than this may still wait for their sender's entry (Envoy logs the outbound
/// entry when the response completes, and flushes every 50 ms): they are judged later.
const SETTLE_MS: i64 = 2000;

/// How long after the lab's readiness ([`Input::since`]) a proxy may still answer `503 UH` from before it had
/// the pods' endpoints: Envoy reports a configuration version (what the lab waits for) just before its worker
/// threads have the updated clusters.
const STARTUP_GRACE_MS: i64 = 1000;

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
#[derive(Clone, Debug, Default)]
pub struct Input {
    pub pods: Vec<PodInfo>,
    pub logs: Vec<ProxyLog>,
    pub now: DateTime<Utc>,
    /// Requests that started before this are not drawn: the lab's readiness (what it refused while its pods
    /// started is not the mesh's traffic) or its last `reset`.
    pub since: Option<DateTime<Utc>>,
    /// The mesh's Services, by FQDN (`recommendation.tutorial.svc.cluster.local`): a request to one of them
    /// whose cluster is missing still goes to the Service's node.
    pub services: Vec<String>,
    /// (proxy, cluster) for each cluster a proxy's routes name now that the proxy does not have
    /// ([`missing_clusters`]): what a `503 NC` is missing.
    pub missing_clusters: Vec<(String, String)>,
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
    /// A service node its callers' routes send to a cluster they do not have: what is missing, in words.
    pub missing: Option<String>,
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
    /// Requests per second over the window ([`Graph::window_seconds`]).
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
    /// Why its requests failed, in words ([`flags::Why::line`]), each distinct line once.
    pub why: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub window_seconds: i64,
    pub generated_at: String,
    /// The requests drawn started at or after this (RFC 3339): the lab's readiness, its last reset, or a
    /// guided step's start; none when everything logged is drawn.
    pub since: Option<String>,
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
    let key = parse_subset_key(cluster)?;
    let name = key.host.split('.').next()?;
    Some((name, key.subset.strip_prefix("version-")))
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
    why: BTreeSet<String>,
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
            why: BTreeSet::new(),
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
        if let Some(w) = flags::why(e) {
            self.why.insert(w.line());
        }
        if let Some(t) = time_of(e) {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }
}

struct Builder<'a> {
    input: &'a Input,
    /// Requests that started before this are not drawn.
    since: Option<DateTime<Utc>>,
    /// Requests that started from this on are in the window.
    window_start: DateTime<Utc>,
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
            missing: None,
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
            missing: None,
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
        if via == WayOut::MissingCluster
            && let Some(svc) = self.mesh_service(&host)
        {
            // An in-mesh destination stays its Service's node, marked with what is missing (see `mark_missing`).
            return self.other_node(format!("service:{svc}"), &svc, "service", &svc);
        }
        self.other_node(
            format!("{}:{host}", via.name()),
            &host,
            "external",
            via.name(),
        )
    }

    /// The Service of the mesh `host` names (`recommendation`, `recommendation.tutorial`, its FQDN).
    fn mesh_service(&self, host: &str) -> Option<String> {
        self.input
            .services
            .iter()
            .find(|fqdn| *fqdn == host || fqdn.starts_with(&format!("{host}.")))
            .and_then(|fqdn| fqdn.split('.').next())
            .map(str::to_owned)
    }

    /// Does `e` count (it started at or after `since`), and is it in the window?
    fn counts(&self, e: &AccessLogEntry) -> Option<bool> {
        let t = time_of(e);
        match self.since {
            Some(s) if t.is_none_or(|t| t < s) => None,
            _ => Some(t.is_some_and(|t| t >= self.window_start)),
        }
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

/// Which of a proxy's entries are refusals from the lab's start, not the mesh's traffic: `503 UH` with no
/// upstream host within [`STARTUP_GRACE_MS`] of [`Input::since`] and before the proxy first reached a pod.
fn refused_while_starting(
    since: Option<DateTime<Utc>>,
    log: &[AccessLogEntry],
) -> impl Fn(&AccessLogEntry) -> bool + use<> {
    let reached = |e: &&AccessLogEntry| is_set(e.upstream_host.as_deref()).is_some();
    let first_reached = log
        .iter()
        .filter(reached)
        .filter_map(time_of)
        .filter(|t| since.is_some_and(|s| *t >= s))
        .min();
    let until = since.map(|s| {
        let grace = s + chrono::Duration::milliseconds(STARTUP_GRACE_MS);
        first_reached.map_or(grace, |f| f.min(grace))
    });
    move |e: &AccessLogEntry| {
        let refused = e.response_flags.as_deref() == Some("UH")
            && is_set(e.upstream_host.as_deref()).is_none();
        match (since, until, time_of(e)) {
            (Some(s), Some(u), Some(t)) => refused && t >= s && t < u,
            _ => false,
        }
    }
}

/// Who sent a request, as its sender logged it: the sender, the target node, the upstream attempts and the
/// route.
type Sent = (String, String, u64, Option<String>);

impl Builder<'_> {
    /// An edge per (sender, target) from every outbound entry; returns the sent requests by (request id,
    /// Host), which explain the receivers' inbound entries.
    fn outbound(&mut self) -> BTreeMap<(String, String), Vec<Sent>> {
        let mut sent: BTreeMap<(String, String), Vec<Sent>> = BTreeMap::new();
        for log in &self.input.logs {
            let source = if log.proxy == GATEWAY {
                GATEWAY.to_owned()
            } else {
                log.proxy.clone()
            };
            let starting = refused_while_starting(self.input.since, &log.entries);
            for e in &log.entries {
                let listener = e.listener.as_deref().unwrap_or("");
                if is_inbound(listener) || starting(e) {
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
                if let Some(recent) = self.counts(e) {
                    self.edge(source.clone(), target, false, via).add(e, recent);
                }
            }
        }
        sent
    }

    /// Inbound entries that no sender's entry explains: mirrored copies, or callers without a sidecar.
    /// What the receiving sidecar itself answered (an RBAC or JWT denial: the sender logs only the code) is
    /// said on the sender's edge too.
    fn receivers_why(&mut self, sender: &str, receiver: &str, e: &AccessLogEntry) {
        let Some(why) = flags::why(e) else {
            return;
        };
        if self.counts(e).is_none() {
            return;
        }
        let key = (sender.to_owned(), receiver.to_owned(), false);
        if let Some(acc) = self.edges.get_mut(&key) {
            acc.why.insert(why.line());
        }
    }

    fn unexplained_inbound(&mut self, sent: &BTreeMap<(String, String), Vec<Sent>>) {
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
                if let Some((sender, ..)) = senders.iter().find(|(_, t, _, _)| *t == node) {
                    self.receivers_why(sender, &node, e);
                    continue;
                }
                // The sender's own entry went elsewhere: a shadow copy if it took one attempt; with retries
                // it is an earlier attempt, counted in the sender's `retries`.
                let Some(recent) = self.counts(e) else {
                    continue;
                };
                if let Some((sender, _, attempts, route)) = senders.first() {
                    if *attempts <= 1 {
                        let acc = self.edge(sender.clone(), node.clone(), true, WayOut::Mirror);
                        acc.add(e, recent);
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
                self.edge(unknown, node.clone(), false, WayOut::Mesh)
                    .add(e, recent);
            }
        }
    }
}

impl Acc {
    /// The edge these requests make.
    fn into_edge(self, source: String, target: String, mirror: bool, window: i64) -> Edge {
        let window_errors = self.window.iter().filter(|c| is_error(**c)).count();
        Edge {
            source,
            target,
            requests: self.requests,
            errors: self.errors,
            rps: self.window.len() as f64 / window as f64,
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
            why: self.why.into_iter().collect(),
        }
    }
}

/// The graph of what the proxies logged since [`Input::since`], with the default window.
pub fn build(input: &Input) -> Graph {
    build_view(input, input.since, DEFAULT_WINDOW_SECONDS)
}

/// The graph of the requests that started at or after `since` only (and after [`Input::since`]): a guided
/// step's traffic, its rates and colours over the whole time since then (at least the default window), so
/// a step longer than the window is drawn whole.
pub fn build_since(input: &Input, since: DateTime<Utc>) -> Graph {
    let since = input.since.map_or(since, |s| s.max(since));
    let window = (input.now - since).num_seconds();
    build_view(input, Some(since), window.max(DEFAULT_WINDOW_SECONDS))
}

/// The graph of the requests that started at or after `since`, rates and colours over the last
/// `window_seconds`.
pub fn build_view(input: &Input, since: Option<DateTime<Utc>>, window_seconds: i64) -> Graph {
    let mut b = Builder {
        input,
        since,
        window_start: input.now - chrono::Duration::seconds(window_seconds),
        nodes: BTreeMap::new(),
        edges: BTreeMap::new(),
    };
    b.other_node(GATEWAY.into(), GATEWAY, "gateway", GATEWAY);
    for p in input.pods.iter().filter(|p| p.running) {
        b.workload_node(p);
    }
    let sent = b.outbound();
    b.unexplained_inbound(&sent);
    let edges: Vec<Edge> = b
        .edges
        .into_iter()
        .map(|((source, target, mirror), a)| a.into_edge(source, target, mirror, window_seconds))
        .collect();
    // Nodes only the requests before `since` named (a gone pod, a host, a service) are not drawn.
    let mut nodes: Vec<Node> = b
        .nodes
        .into_values()
        .filter(|n| {
            n.kind == "gateway"
                || (n.kind == "workload" && n.running)
                || edges.iter().any(|e| e.source == n.id || e.target == n.id)
        })
        .collect();
    mark_missing(&mut nodes, &edges, &input.missing_clusters);
    Graph {
        nodes,
        edges,
        window_seconds,
        generated_at: input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        since: since.map(|s| s.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }
}

/// Marks each service node its callers sent `503 NC` to with what their routes miss now: `subset version-v3:
/// no cluster (503 NC) — no DestinationRule defines it`.
fn mark_missing(nodes: &mut [Node], edges: &[Edge], missing: &[(String, String)]) {
    for n in nodes.iter_mut().filter(|n| n.kind == "service") {
        let mut lines = BTreeSet::new();
        for e in edges
            .iter()
            .filter(|e| e.target == n.id && e.via == WayOut::MissingCluster)
        {
            for (_, cluster) in missing.iter().filter(|(p, _)| *p == e.source) {
                match cluster_subset(cluster) {
                    Some((svc, Some(subset))) if svc == n.app => lines.insert(format!(
                        "subset {subset}: no cluster (503 NC) — no DestinationRule defines it"
                    )),
                    Some((svc, None)) if svc == n.app => {
                        lines.insert(format!("{cluster}: no cluster (503 NC)"))
                    }
                    _ => false,
                };
            }
        }
        if !lines.is_empty() {
            n.missing = Some(lines.into_iter().collect::<Vec<_>>().join("; "));
        }
    }
}

/// The clusters a proxy's routes name (`route.cluster`, `route.weighted_clusters`) that its configuration
/// does not have: Envoy answers `503 NC` on them.
pub fn missing_clusters(
    route_configs: &[RouteConfiguration],
    clusters: &[Cluster],
) -> BTreeSet<String> {
    let have: BTreeSet<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    let mut named = BTreeSet::new();
    let routes = route_configs
        .iter()
        .flat_map(|rc| &rc.virtual_hosts)
        .flat_map(|vh| &vh.routes);
    for r in routes {
        let Some(route::Action::Route(action)) = &r.action else {
            continue;
        };
        match &action.cluster_specifier {
            Some(ClusterSpecifier::Cluster(c)) => {
                named.insert(c.as_str());
            }
            Some(ClusterSpecifier::WeightedClusters(w)) => {
                named.extend(w.clusters.iter().map(|c| c.name.as_str()));
            }
            _ => {}
        }
    }
    named
        .into_iter()
        .filter(|c| !have.contains(c))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
