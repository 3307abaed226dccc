//! Every learner's mistake explained where it shows: for each failing access-log entry of a proxy (the
//! gateway or a Deployment's sidecar), Envoy's response flag in words ([`flags::why`]), the route and cluster
//! that answered (the route resolved from the proxy's own configuration when Envoy logs none, as for NC) and
//! the fix the lab knows ([`rules`]); and, before any traffic, what the applied VirtualServices will get
//! ([`static_notes`]). The bytes Envoy answered are never touched: this only reads its logs and
//! configuration. `show`, `guided` and `Lab::explain_since` say the same sentences from here.

pub mod facts;
pub mod rules;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_istiod::util::protomarshal::all_json;
use serde::Serialize;
use serde_json::Value;

use self::facts::{Facts, Object, PodFacts};
use super::flags::{self, Why};
use crate::dataplane::envoy::AccessLogEntry;
use crate::lab::{Inner, Lab};

/// The gateway's name as a proxy.
pub const GATEWAY: &str = "istio-ingressgateway";

/// Why requests failed at one proxy, and the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// `istio-ingressgateway` or the Deployment whose sidecar logged it.
    pub proxy: String,
    pub why: Why,
    /// The request's Host and path.
    pub host: String,
    pub path: String,
    /// The route that answered: `[virtual host] -> targets`, `inbound` for a pod's inbound listener.
    pub route: String,
    pub cluster: String,
    /// What the lab sees as the cause, and `fix: …`.
    pub fix: String,
    /// How many requests failed this way.
    pub requests: usize,
}

impl Explanation {
    /// `the gateway` or `preference-v1's sidecar`.
    pub fn who(&self) -> String {
        if self.proxy == GATEWAY {
            format!("{GATEWAY} (the gateway)")
        } else {
            format!("{}'s sidecar", self.proxy)
        }
    }

    /// `preference-v1's sidecar: 503 NC (no cluster: …); route [...] -> …; cluster …; … fix: …`.
    pub fn line(&self) -> String {
        format!(
            "{}: {}; route {}; cluster {}; {}",
            self.who(),
            self.why.line(),
            self.route,
            self.cluster,
            self.fix
        )
    }
}

/// One proxy's configuration and access log, as an explanation reads them.
pub struct Proxy<'a> {
    pub name: &'a str,
    /// As JSON ([`mesh_istiod::util::protomarshal`]).
    pub route_configs: Vec<Value>,
    pub clusters: Vec<String>,
}

/// Whether a virtual host's domains take the Host `authority`.
fn takes(vh: &Value, authority: &str) -> bool {
    let bare = authority.split(':').next().unwrap_or(authority);
    vh["domains"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|d| d == authority || d == bare || d == "*")
}

/// The clusters a route sends to (one, or the weighted ones).
fn route_clusters(r: &Value) -> Vec<&str> {
    let one = r["route"]["cluster"].as_str().into_iter();
    let weighted = r["route"]["weighted_clusters"]["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["name"].as_str());
    one.chain(weighted).collect()
}

/// The virtual host of the proxy taking the Host `authority`: one naming it before the catch-all `*`.
fn virtual_host<'a>(p: &'a Proxy<'_>, authority: &str) -> Option<&'a Value> {
    p.route_configs
        .iter()
        .flat_map(|rc| rc["virtual_hosts"].as_array().into_iter().flatten())
        .filter(|vh| takes(vh, authority))
        .min_by_key(|vh| vh["domains"][0] == "*")
}

/// The route of `vh` that sent to the `logged` cluster (or, with none logged, the one naming a cluster the
/// proxy lacks), else the first whose prefix takes `path`.
fn pick_route<'a>(
    p: &Proxy<'_>,
    vh: &'a Value,
    logged: Option<&str>,
    path: &str,
) -> Option<&'a Value> {
    let routes: Vec<&Value> = vh["routes"].as_array().into_iter().flatten().collect();
    let lacks = |c: &&str| !p.clusters.iter().any(|n| n == c);
    let fits = |r: &&Value| match logged {
        Some(c) => route_clusters(r).contains(&c),
        None => route_clusters(r).iter().any(lacks),
    };
    let prefix = |r: &&Value| {
        r["match"]["prefix"]
            .as_str()
            .is_some_and(|pre| path.starts_with(pre))
    };
    let found = routes.iter().copied().find(fits);
    found.or_else(|| routes.iter().copied().find(prefix))
}

/// The virtual host and route of the proxy that took `e`, and the cluster it names: the logged one, else
/// (NC logs none) the route's cluster the proxy lacks.
fn resolve(p: &Proxy<'_>, e: &AccessLogEntry) -> (String, String) {
    let logged = e.upstream_cluster.clone().filter(|c| c != "-");
    let or_dash = |c: Option<String>| c.unwrap_or_else(|| "-".into());
    if e.listener.as_deref() == Some("virtualInbound") {
        return ("inbound".into(), or_dash(logged));
    }
    let Some(vh) = virtual_host(p, e.authority.as_deref().unwrap_or_default()) else {
        return ("(no virtual host)".into(), or_dash(logged));
    };
    let name = format!("[{}]", vh["name"].as_str().unwrap_or_default());
    let path = e.path.as_deref().unwrap_or("/");
    let Some(r) = pick_route(p, vh, logged.as_deref(), path) else {
        return (format!("{name} (no route)"), or_dash(logged));
    };
    let cluster = logged.unwrap_or_else(|| {
        let cs = route_clusters(r);
        let gone = cs.iter().find(|c| !p.clusters.iter().any(|n| n == *c));
        gone.or(cs.first()).map_or("-".into(), |c| (*c).to_owned())
    });
    (
        format!("{name} -> {}", super::show::route_target(r)),
        cluster,
    )
}

/// The fix for one failing entry, by its flag (the first that has a rule).
fn fix(facts: &Facts, p: &Proxy<'_>, e: &AccessLogEntry, why: &Why, cluster: &str) -> String {
    let host = rules::host_of(cluster, e);
    for flag in why.flag.split(',') {
        let text = match flag {
            "NC" => rules::no_cluster(facts, cluster),
            "block_all" => rules::blocked(facts, e),
            "UH" => rules::no_healthy(facts, cluster),
            "UO" => rules::overflow(facts, &host),
            "UT" => rules::timeout(facts, &host, e),
            "URX" | "UF" => rules::retries(facts, &host, e, &why.flag),
            "FI" => rules::fault(facts, &host, "abort"),
            "DI" => rules::fault(facts, &host, "delay"),
            "RBAC" => rules::denied(facts, p.name),
            "JWT" => rules::jwt(facts),
            "NR" => rules::no_route(e, p.name, &domains(p)),
            "DC" => "the caller gave up first (its own timeout, or a route timeout at the calling proxy: look for its UT); nothing to fix at this proxy".into(),
            _ => continue,
        };
        return text;
    }
    "no fix the lab knows".into()
}

/// Every virtual host's name of a proxy.
fn domains(p: &Proxy<'_>) -> Vec<String> {
    p.route_configs
        .iter()
        .flat_map(|rc| rc["virtual_hosts"].as_array().into_iter().flatten())
        .filter_map(|vh| vh["name"].as_str().map(str::to_owned))
        .collect()
}

/// The explanation of one entry of `p`'s access log, when it failed (or was held) for a reason.
pub fn explain(facts: &Facts, p: &Proxy<'_>, e: &AccessLogEntry) -> Option<Explanation> {
    let why = flags::why(e)?;
    let (route, cluster) = resolve(p, e);
    Some(Explanation {
        proxy: p.name.to_owned(),
        fix: fix(facts, p, e, &why, &cluster),
        why,
        host: e.authority.clone().unwrap_or_default(),
        path: e.path.clone().unwrap_or_default(),
        route,
        cluster,
        requests: 1,
    })
}

/// The explanations of `log`, one per proxy, flag, route, cluster and fix, counted, in order of first
/// appearance.
pub fn explain_log(facts: &Facts, p: &Proxy<'_>, log: &[AccessLogEntry]) -> Vec<Explanation> {
    let mut out: Vec<Explanation> = Vec::new();
    for x in log.iter().filter_map(|e| explain(facts, p, e)) {
        match out.iter_mut().find(|o| same(o, &x)) {
            Some(o) => o.requests += 1,
            None => out.push(x),
        }
    }
    out
}

fn same(a: &Explanation, b: &Explanation) -> bool {
    (&a.proxy, &a.why, &a.route, &a.cluster, &a.fix)
        == (&b.proxy, &b.why, &b.route, &b.cluster, &b.fix)
}

/// What a VirtualService's route to a subset will get before any request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubsetProblem {
    /// No DestinationRule defines it: 503 NC.
    Undefined,
    /// No running pod carries its labels: 503 UH.
    NoPod,
}

/// Every (VirtualService, host, subset) the applied VirtualServices route or mirror to that will fail, and
/// how, once each.
pub fn subset_problems(facts: &Facts) -> Vec<(&Object, String, String, SubsetProblem)> {
    let mut out: Vec<(&Object, String, String, SubsetProblem)> = Vec::new();
    for vs in facts.applied("VirtualService") {
        for (host, subset) in destinations(vs) {
            let problem = match facts.subset(&host, &subset) {
                None => SubsetProblem::Undefined,
                Some((_, l)) if facts.pods_with(facts::short(&host), &l).is_empty() => {
                    SubsetProblem::NoPod
                }
                Some(_) => continue,
            };
            if !out
                .iter()
                .any(|(v, h, s, _)| v.name == vs.name && *h == host && *s == subset)
            {
                out.push((vs, host, subset, problem));
            }
        }
    }
    out
}

/// What the applied VirtualServices will get before any request: a route to a subset no DestinationRule
/// defines (503 NC), or to one no running pod carries the labels of (503 UH), with the fix.
pub fn static_notes(facts: &Facts) -> Vec<String> {
    subset_problems(facts)
        .into_iter()
        .map(|(vs, host, subset, problem)| match problem {
            SubsetProblem::Undefined => format!(
                "VirtualService {} routes to subset {subset} of {host}, which no DestinationRule defines: \
                 requests get 503 NC (no cluster) and an empty body; {}",
                vs.name,
                rules::missing_subset(facts, &host, &subset)
            ),
            SubsetProblem::NoPod => format!(
                "VirtualService {} routes to subset {subset} of {host}, which no running pod carries the labels \
                 of: requests get 503 UH (no healthy upstream); {}",
                vs.name,
                rules::no_endpoint(facts, facts::short(&host), Some(&subset))
            ),
        })
        .collect()
}

/// The `|subset|fqdn` tails of the outbound clusters no running pod serves (a route line naming one is
/// marked 503 UH).
pub fn podless_clusters(facts: &Facts) -> Vec<String> {
    subset_problems(facts)
        .into_iter()
        .filter(|(.., p)| *p == SubsetProblem::NoPod)
        .map(|(_, host, subset, _)| format!("|{subset}|{}", registry_fqdn(&host)))
        .collect()
}

fn registry_fqdn(host: &str) -> String {
    mesh_istiod::model::registry::fqdn(facts::short(host))
}

/// Every (host, subset) a VirtualService's http routes and mirrors name.
fn destinations(vs: &Object) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for h in vs.spec["http"].as_array().into_iter().flatten() {
        let routes = h["route"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| &r["destination"]);
        for d in routes.chain(std::iter::once(&h["mirror"])) {
            if let (Some(host), Some(subset)) = (d["host"].as_str(), d["subset"].as_str()) {
                out.push((host.to_owned(), subset.to_owned()));
            }
        }
    }
    out
}

/// When an entry started, as Envoy's `%START_TIME%` writes it.
fn started(e: &AccessLogEntry) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(e.start_time.as_deref()?).ok()?;
    Some(t.with_timezone(&Utc))
}

impl Inner {
    /// The facts of the running lab: what is applied, the repository's files, the pods and the policies on
    /// each Deployment's pods.
    pub(crate) fn facts(&self, repo: &Path) -> Facts {
        let resources = self.state.resources();
        let mut facts = Facts {
            applied: self
                .state
                .objects
                .iter()
                .filter_map(|o| Object::of(&o.resource, o.file.clone()))
                .collect(),
            shipped: facts::shipped(repo),
            fault: Some(self.fault.clone()).filter(|f| f != "none"),
            ..Facts::default()
        };
        for p in self.pods.values() {
            let mut addrs = vec![p.app.addr.to_string()];
            addrs.extend(p.sidecar.as_ref().map(|s| s.inbound.to_string()));
            facts.pods.push(PodFacts {
                deployment: p.workload.name.clone(),
                pod: p.workload.pod.clone(),
                labels: p.workload.labels.clone(),
                addrs,
            });
            let policies =
                mesh_istiod::security::authz::policies_for(&resources, &p.workload.labels);
            facts.policies.insert(p.workload.name.clone(), policies);
        }
        facts
    }

    /// The explanations of every proxy's entries since `since` (all when `None`).
    pub(crate) fn explanations(
        &self,
        facts: &Facts,
        since: Option<DateTime<Utc>>,
    ) -> Vec<Explanation> {
        let recent = |log: Vec<AccessLogEntry>| -> Vec<AccessLogEntry> {
            log.into_iter()
                .filter(|e| since.is_none_or(|t| started(e).is_some_and(|s| s >= t)))
                .collect()
        };
        let mut out = Vec::new();
        if let Some(g) = &self.gateway {
            let p = Proxy {
                name: GATEWAY,
                route_configs: all_json(&g.current().route_configs),
                clusters: cluster_names(&g.current().clusters),
            };
            out.extend(explain_log(facts, &p, &recent(g.access_log())));
        }
        for (name, pods) in self.deployments() {
            let sidecars: Vec<_> = pods.iter().filter_map(|p| p.sidecar.as_ref()).collect();
            let Some(sc) = sidecars.first() else { continue };
            let p = Proxy {
                name,
                route_configs: all_json(&sc.envoy.current().route_configs),
                clusters: cluster_names(&sc.envoy.current().clusters),
            };
            let log = sidecars.iter().flat_map(|s| s.envoy.access_log()).collect();
            out.extend(explain_log(facts, &p, &recent(log)));
        }
        out
    }

    /// How many access-log entries every proxy has since `since` (the gateway's, and all).
    fn entries_since(&self, since: DateTime<Utc>) -> (usize, usize) {
        let count = |log: Vec<AccessLogEntry>| {
            log.iter()
                .filter(|e| started(e).is_some_and(|s| s >= since))
                .count()
        };
        let gateway = self.gateway.as_ref().map_or(0, |g| count(g.access_log()));
        let sidecars: usize = self
            .pods
            .values()
            .filter_map(|p| p.sidecar.as_ref())
            .map(|s| count(s.envoy.access_log()))
            .sum();
        (gateway, gateway + sidecars)
    }
}

fn cluster_names(clusters: &[Cluster]) -> Vec<String> {
    clusters.iter().map(|c| c.name.clone()).collect()
}

impl Lab {
    /// Why the requests sent through the gateway since `since` failed, hop by hop: waits (bounded, 3 s) until
    /// the gateway logged `requests` of them and every proxy's log stopped growing over two of Envoy's
    /// 50 ms flushes, then explains every failing entry.
    pub async fn explain_since(&self, since: DateTime<Utc>, requests: usize) -> Vec<Explanation> {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        let mut last = None;
        loop {
            let (gateway, all) = self.inner.lock().await.entries_since(since);
            let settled = gateway >= requests && last == Some(all);
            if settled || std::time::Instant::now() > deadline {
                break;
            }
            last = (gateway >= requests).then_some(all);
            tokio::time::sleep(Duration::from_millis(110)).await;
        }
        let inner = self.inner.lock().await;
        let facts = inner.facts(&self.repo);
        inner.explanations(&facts, Some(since))
    }
}

#[cfg(test)]
mod tests;
