//! `show`: the workloads, what is applied, every proxy's routes, the traffic per route and cluster from the
//! proxies' access logs, and notes on what to notice (egress that nothing governs, pods without a sidecar).

use std::fmt::Write;

use mesh_manifests::Resource;
use serde_json::Value;

use std::collections::BTreeMap;

use serde::Serialize;

use super::explain::Explanation;
use super::way_out::WayOut;
use crate::dataplane::envoy::AccessLogEntry;
use crate::lab::Lab;
use crate::state::{LabState, ObjectSummary};
use mesh_istiod::model::sidecar::Mode;
use mesh_istiod::networking::core::configgen::Dynamic;
use mesh_istiod::networking::core::egress::{EnvoyConfig, HTTP_PORT};
use mesh_istiod::util::protomarshal::all_json;
use mesh_istiod::util::protomarshal::to_json;

/// One pod, as `oc get pods` and `oc exec` would need it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkloadRow {
    /// The Deployment (`recommendation-v2`).
    pub name: String,
    pub pod: String,
    pub labels: BTreeMap<String, String>,
    /// The app's own address (`curl http://ADDR/misbehave`).
    pub app: String,
    /// The sidecar's inbound listener (the Service's endpoint), none without a sidecar.
    pub inbound: Option<String>,
    /// `2/2` with a sidecar, `1/1` without.
    pub ready: String,
    /// The SPIFFE identity its sidecar's certificate carries; none without a sidecar.
    pub identity: Option<String>,
    /// The inbound mutual-TLS mode (`STRICT`, `PERMISSIVE`, `DISABLE`) and where it comes from; without a
    /// sidecar `none` (plain text only).
    pub mtls: String,
    /// The AuthorizationPolicies and RequestAuthentications in force on its sidecar (none without one).
    pub policies: Vec<String>,
}

/// Requests one proxy listener sent along one route to one cluster.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrafficRow {
    pub proxy: String,
    pub listener: String,
    pub host: String,
    pub route: String,
    pub cluster: String,
    /// Passthrough, blocked, service-entry, missing-cluster, mesh (egress only the first four), other.
    pub via: WayOut,
    pub requests: usize,
    pub statuses: BTreeMap<String, usize>,
}

/// A proxy's route lines.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProxyRoutes {
    pub proxy: String,
    pub route_config: String,
    pub routes: Vec<String>,
}

/// Everything `show` prints, also as JSON.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Show {
    pub gateway_url: String,
    pub mesh_mode: String,
    pub mesh_mode_source: String,
    /// Which Istio release's defaults the lab runs (`up --istio`).
    pub istio: String,
    /// The `jwksUri`s given a key set (`mesh-lab jwks set`).
    pub jwks: Vec<String>,
    pub fault: String,
    pub workloads: Vec<WorkloadRow>,
    pub objects: Vec<ObjectSummary>,
    pub routes: Vec<ProxyRoutes>,
    pub traffic: Vec<TrafficRow>,
    pub notes: Vec<String>,
    /// Why requests failed so far, proxy by proxy, with the fix the lab knows.
    pub explained: Vec<Explanation>,
}

fn status_key(e: &AccessLogEntry) -> String {
    let code = e.response_code.map(|c| c.to_string()).unwrap_or_default();
    match e.response_flags.as_deref() {
        None | Some("" | "-") => code,
        Some(f) => format!("{code} {f}"),
    }
}

/// Groups access-log entries of one proxy by listener, route and cluster.
pub fn traffic_rows(proxy: &str, log: &[AccessLogEntry]) -> Vec<TrafficRow> {
    let mut rows: BTreeMap<(String, String, String, String), TrafficRow> = BTreeMap::new();
    for e in log {
        let listener = e.listener.clone().unwrap_or_default();
        let host = e.authority.clone().unwrap_or_default();
        let route = e.route_name.clone().unwrap_or_else(|| "-".into());
        let cluster = e.upstream_cluster.clone().unwrap_or_else(|| "-".into());
        let row = rows
            .entry((
                listener.clone(),
                host.clone(),
                route.clone(),
                cluster.clone(),
            ))
            .or_insert_with(|| TrafficRow {
                proxy: proxy.to_owned(),
                via: WayOut::of(e),
                listener,
                host,
                route,
                cluster,
                requests: 0,
                statuses: BTreeMap::new(),
            });
        row.requests += 1;
        *row.statuses.entry(status_key(e)).or_default() += 1;
    }
    rows.into_values().collect()
}

/// One proxy's route configurations as `show` lists them; `mark_missing`: mark the routes to clusters the
/// proxy lacks (a sidecar's; the gateway's are listed as they are).
fn proxy_routes(proxy: &str, config: &Dynamic, mark_missing: bool) -> Vec<ProxyRoutes> {
    let clusters: Vec<String> = if mark_missing {
        config.clusters.iter().map(|c| c.name.clone()).collect()
    } else {
        Vec::new()
    };
    all_json(&config.route_configs)
        .iter()
        .map(|rc| ProxyRoutes {
            proxy: proxy.to_owned(),
            route_config: rc["name"].as_str().unwrap_or_default().into(),
            routes: route_lines(rc, &clusters),
        })
        .collect()
}

/// The note on a pod that runs without a sidecar, and how to give it one.
fn no_sidecar_note(pod: &str) -> String {
    format!(
        "{pod} runs without a sidecar (1/1): its calls bypass the mesh (no route, timeout, ServiceEntry or \
         REGISTRY_ONLY applies to them); label its pod template sidecar.istio.io/inject: \"true\" to fix it."
    )
}

impl Lab {
    /// What is running and applied, every proxy's routes, and the traffic so far.
    pub async fn show(&self) -> anyhow::Result<Show> {
        let inner = self.inner.lock().await;
        let mut workloads = Vec::new();
        let mut routes = Vec::new();
        let gateway = inner
            .gateway
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the lab is starting"))?;
        let mut traffic = traffic_rows("istio-ingressgateway", &gateway.access_log());
        routes.extend(proxy_routes(
            "istio-ingressgateway",
            gateway.current(),
            false,
        ));
        let mut notes = Vec::new();
        let resources = inner.state.resources();
        for p in inner.deployments().into_values().flatten() {
            workloads.push(workload_row(p, &resources));
            if p.sidecar.is_none() {
                notes.push(no_sidecar_note(&p.workload.pod));
            }
        }
        notes.extend(inner.state.label_wins_notes());
        // One proxy per Deployment: its pods share one configuration; the traffic is all its pods' together.
        for (name, pods) in inner.deployments() {
            let name = name.to_owned();
            let sidecars: Vec<_> = pods.iter().filter_map(|p| p.sidecar.as_ref()).collect();
            let (Some(p), Some(sc)) = (pods.first(), sidecars.first()) else {
                continue;
            };
            let log: Vec<AccessLogEntry> =
                sidecars.iter().flat_map(|s| s.envoy.access_log()).collect();
            traffic.extend(traffic_rows(&name, &log));
            routes.extend(proxy_routes(&name, sc.envoy.current(), true));
            if p.workload.labels.get("version").map(String::as_str) == Some("v3") {
                let config = EnvoyConfig {
                    route_config: sc.envoy.current().route_configs[1].clone(),
                    clusters: sc.envoy.current().clusters.clone(),
                    mode: mesh_istiod::model::sidecar::effective_mode(
                        &resources,
                        inner.state.mesh_mode,
                        &p.workload.labels,
                    ),
                };
                let egress: Vec<AccessLogEntry> = log
                    .into_iter()
                    .filter(|e| e.listener.as_deref() == Some("outbound_0.0.0.0_80"))
                    .collect();
                notes.extend(egress_notes(&inner.state, &config, &egress));
            }
        }
        let facts = inner.facts(&self.repo);
        notes.extend(super::explain::static_notes(&facts));
        mark_podless(&mut routes, &super::explain::podless_clusters(&facts));
        let explained = inner.explanations(&facts, None);
        Ok(Show {
            gateway_url: self.gateway_url.clone(),
            mesh_mode: inner.state.mesh_mode.to_string(),
            mesh_mode_source: inner.state.mesh_mode_source.clone(),
            istio: self.istio.describe(),
            jwks: inner.jwks.keys().cloned().collect(),
            fault: inner.fault.clone(),
            workloads,
            objects: inner.state.summaries(),
            routes,
            traffic,
            notes,
            explained,
        })
    }
}

/// Marks the route lines naming a cluster no running pod serves (its `|subset|fqdn` tail in `podless`).
fn mark_podless(routes: &mut [ProxyRoutes], podless: &[String]) {
    for l in routes.iter_mut().flat_map(|r| r.routes.iter_mut()) {
        if podless.iter().any(|c| l.contains(c.as_str())) {
            l.push_str(" (NO POD OF THAT SUBSET RUNS: 503, flag UH)");
        }
    }
}

/// One pod's row: its addresses, readiness, identity, mutual-TLS mode and policies.
fn workload_row(p: &crate::dataplane::pods::Pod, resources: &[Resource]) -> WorkloadRow {
    WorkloadRow {
        name: p.workload.name.clone(),
        pod: p.workload.pod.clone(),
        labels: p.workload.labels.clone(),
        app: p.app.addr.to_string(),
        inbound: p.sidecar.as_ref().map(|s| s.inbound.to_string()),
        ready: if p.sidecar.is_some() { "2/2" } else { "1/1" }.into(),
        identity: p.sidecar.as_ref().map(|_| p.workload.identity()),
        mtls: match &p.sidecar {
            Some(_) => {
                let m = mesh_istiod::security::authn::mtls::workload_mode(
                    resources,
                    &p.workload.labels,
                );
                format!("{} ({})", m.mode, m.source)
            }
            None => "none".into(),
        },
        policies: match &p.sidecar {
            Some(_) => mesh_istiod::security::authz::policies_for(resources, &p.workload.labels),
            None => Vec::new(),
        },
    }
}

pub(crate) fn route_target(route: &Value) -> String {
    if let Some(d) = route.get("direct_response") {
        return format!("direct response {}", d["status"]);
    }
    let action = &route["route"];
    let mut out = if let Some(r) = route.get("redirect") {
        format!("redirect {r}")
    } else if let Some(c) = action["cluster"].as_str() {
        c.to_owned()
    } else if let Some(ws) = action["weighted_clusters"]["clusters"].as_array() {
        ws.iter()
            .map(|w| format!("{} {}%", w["name"].as_str().unwrap_or(""), w["weight"]))
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "?".into()
    };
    if let Some(t) = action["timeout"].as_str().filter(|t| *t != "0s") {
        let _ = write!(out, ", timeout {t}");
    }
    if let Some(m) = action["request_mirror_policies"][0]["cluster"].as_str() {
        let _ = write!(out, ", mirror to {m}");
    }
    if let Some(n) = action["retry_policy"]["num_retries"].as_u64() {
        let _ = write!(
            out,
            ", retries {n} on {}",
            action["retry_policy"]["retry_on"]
                .as_str()
                .unwrap_or_default()
        );
    }
    if let Some(f) = route.get("typed_per_filter_config") {
        let f = &f["envoy.filters.http.fault"];
        if let Some(s) = f["abort"]["http_status"].as_u64() {
            let _ = write!(out, ", fault abort {s}");
        }
        if let Some(d) = f["delay"]["fixed_delay"].as_str() {
            let _ = write!(out, ", fault delay {d}");
        }
    }
    if let Some(h) = route["match"]["headers"].as_array() {
        let hs: Vec<String> = h
            .iter()
            .map(|h| format!("{} {}", h["name"].as_str().unwrap_or(""), h["string_match"]))
            .collect();
        out = format!("if {}: {out}", hs.join(" and "));
    } else if let Some(p) = route["match"]["prefix"].as_str().filter(|p| *p != "/") {
        out = format!("if path {p}*: {out}");
    }
    out
}

/// One line per virtual host of a route configuration: `domains [name] -> targets`, marking routes to
/// clusters that do not exist (when `clusters` is given).
pub fn route_lines(rc: &Value, clusters: &[String]) -> Vec<String> {
    rc["virtual_hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|vh| {
            let targets: Vec<String> = vh["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let t = route_target(r);
                    let c = r["route"]["cluster"].as_str().unwrap_or_default();
                    if !clusters.is_empty() && !c.is_empty() && !clusters.iter().any(|n| n == c) {
                        format!("{t} (NO SUCH CLUSTER: 503, flag NC)")
                    } else {
                        t
                    }
                })
                .collect();
            let targets = if targets.is_empty() {
                "(no route: 404 NR)".to_owned()
            } else {
                targets.join("; ")
            };
            format!(
                "{:<48} -> {targets}",
                format!("[{}]", vh["name"].as_str().unwrap_or(""))
            )
        })
        .collect()
}

/// The egress route lines of a configuration (route configuration "80").
pub fn routes(config: &EnvoyConfig) -> Vec<String> {
    route_lines(&to_json(&config.route_config), &config.cluster_names())
}

/// What a trainee should notice, in the lab's words.
pub fn egress_notes(state: &LabState, config: &EnvoyConfig, log: &[AccessLogEntry]) -> Vec<String> {
    let mut notes = Vec::new();
    let clusters = config.cluster_names();
    let catch_all = match config.mode {
        Mode::AllowAny => {
            "the catch-all allow_any -> PassthroughCluster: nothing in the mesh governs them (no timeout, no retries, no ServiceEntry)"
        }
        Mode::RegistryOnly => {
            "the catch-all block_all: Envoy answers 502 with an empty body (REGISTRY_ONLY)"
        }
    };
    for o in &state.objects {
        if let Resource::ServiceEntry(se) = &o.resource {
            let ports: Vec<i64> = se.spec.ports.iter().flatten().map(|p| p.number).collect();
            if ports.contains(&i64::from(HTTP_PORT)) {
                continue;
            }
            for host in &se.spec.hosts {
                if config
                    .virtual_host(&format!("{host}:{HTTP_PORT}"))
                    .is_none()
                {
                    notes.push(format!(
                        "ServiceEntry {} declares {host} on port(s) {ports:?} only, but the app calls port 80: \
                         those requests do not match it and take {catch_all}.",
                        o.name
                    ));
                }
            }
        }
    }
    let route_config = to_json(&config.route_config);
    for vh in route_config["virtual_hosts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for r in vh["routes"].as_array().into_iter().flatten() {
            if let Some(c) = r["route"]["cluster"].as_str()
                && !clusters.iter().any(|n| n == c)
            {
                notes.push(format!(
                    "Virtual host {} routes to {c}, a cluster that does not exist (no ServiceEntry declares \
                     that host and port): Envoy answers 503 with an empty body, response flag NC.",
                    vh["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    if config.mode == Mode::RegistryOnly && state.mesh_mode == Mode::AllowAny {
        notes.push(
            "A Sidecar sets REGISTRY_ONLY for recommendation v3's sidecar (the mesh-wide mode is ALLOW_ANY)."
                .into(),
        );
    }
    let passthrough = log
        .iter()
        .filter(|e| WayOut::of(e) == WayOut::Passthrough)
        .count();
    if passthrough > 0 {
        notes.push(format!(
            "{passthrough} request(s) so far left through PassthroughCluster: egress that no ServiceEntry governs \
             (on a cluster Kiali shows them going to PassthroughCluster)."
        ));
    }
    notes
}

/// `show` as text.
pub fn render(s: &Show) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "gateway: {}", s.gateway_url);
    let _ = writeln!(out, "istiod defaults: {} (mesh-lab up --istio)", s.istio);
    for uri in &s.jwks {
        let _ = writeln!(out, "jwksUri {uri}: the key set given by mesh-lab jwks set");
    }
    let _ = writeln!(
        out,
        "mesh outboundTrafficPolicy mode: {} (from {}); time API fault: {}",
        s.mesh_mode, s.mesh_mode_source, s.fault
    );
    render_pods(&mut out, s);
    render_objects(&mut out, s);
    render_routes(&mut out, s);
    render_traffic(&mut out, s);
    if !s.explained.is_empty() {
        let _ = writeln!(out, "\nWhy requests failed (access logs):");
        for x in &s.explained {
            let _ = writeln!(out, "  ✘ x{} {}", x.requests, x.line());
        }
    }
    if !s.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in &s.notes {
            let _ = writeln!(out, "  ! {n}");
        }
    }
    out
}

/// `Pods:`, each with its readiness, addresses, mTLS mode and identity, and the policies on it.
fn render_pods(out: &mut String, s: &Show) {
    let _ = writeln!(out, "\nPods:");
    for w in &s.workloads {
        let _ = writeln!(
            out,
            "  {:<42} {}  app {}  inbound {}  mTLS {}  {}",
            w.pod,
            w.ready,
            w.app,
            w.inbound.as_deref().unwrap_or("(no sidecar)"),
            w.mtls,
            w.identity.as_deref().unwrap_or("(no identity)")
        );
        for p in &w.policies {
            let _ = writeln!(out, "      {p}");
        }
    }
}

/// `Applied objects:`, an object a note is about marked `! see Notes`.
fn render_objects(out: &mut String, s: &Show) {
    let _ = writeln!(out, "\nApplied objects:");
    for o in &s.objects {
        let noted = s
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("{} {} ", o.kind, o.name)));
        let _ = writeln!(
            out,
            "  {}/{}  {}  [{}]{}",
            crate::state::kubectl_kind(&o.kind),
            o.name,
            o.summary,
            o.file,
            if noted { "  ! see Notes" } else { "" }
        );
    }
}

/// Each distinct route configuration once, with the proxies that have it.
fn render_routes(out: &mut String, s: &Show) {
    let mut seen: Vec<(&str, &Vec<String>)> = Vec::new();
    for r in &s.routes {
        if seen
            .iter()
            .any(|(rc, lines)| *rc == r.route_config && *lines == &r.routes)
        {
            continue;
        }
        seen.push((&r.route_config, &r.routes));
        let same: Vec<&str> = s
            .routes
            .iter()
            .filter(|o| o.route_config == r.route_config && o.routes == r.routes)
            .map(|o| o.proxy.as_str())
            .collect();
        let _ = writeln!(
            out,
            "\nRoute configuration \"{}\" of {}:",
            r.route_config,
            same.join(", ")
        );
        for l in &r.routes {
            let _ = writeln!(out, "  {l}");
        }
    }
}

/// `Traffic so far (access logs):`, a row per proxy, listener, host, route and cluster.
fn render_traffic(out: &mut String, s: &Show) {
    let _ = writeln!(out, "\nTraffic so far (access logs):");
    if s.traffic.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for t in &s.traffic {
        let statuses: Vec<String> = t
            .statuses
            .iter()
            .map(|(k, v)| format!("{k} x{v}"))
            .collect();
        let _ = writeln!(
            out,
            "  {:<22} {:<20} {:<28} route {:<14} -> {:<58} {:>4}  {}",
            t.proxy,
            t.listener,
            t.host,
            t.route,
            t.cluster,
            t.requests,
            statuses.join(", ")
        );
    }
}

#[cfg(test)]
mod tests;
