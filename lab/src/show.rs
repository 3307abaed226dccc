//! `show`: the routes Envoy has, what they mean for the time lookup, and the traffic so far.

use std::fmt::Write;

use mesh_manifests::Resource;
use serde_json::Value;

use crate::envoy::AccessLogEntry;
use crate::mesh::{Show, via};
use crate::state::LabState;
use crate::translate::{self, EnvoyConfig, HTTP_PORT, Mode};

fn route_target(route: &Value) -> String {
    if let Some(d) = route.get("direct_response") {
        return format!("direct response {}", d["status"]);
    }
    let action = &route["route"];
    let mut out = if let Some(c) = action["cluster"].as_str() {
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
    if route.get("typed_per_filter_config").is_some() {
        out.push_str(", fault injection");
    }
    out
}

/// One line per virtual host of route configuration "80": `domains -> target`.
pub fn routes(config: &EnvoyConfig) -> Vec<String> {
    let clusters = config.cluster_names();
    config.route_config["virtual_hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|vh| {
            let domains: Vec<&str> = vh["domains"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let targets: Vec<String> = vh["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let t = route_target(r);
                    let c = r["route"]["cluster"].as_str().unwrap_or_default();
                    if !c.is_empty() && !clusters.iter().any(|n| n == c) {
                        format!("{t} (NO SUCH CLUSTER: 503, flag NC)")
                    } else {
                        t
                    }
                })
                .collect();
            format!(
                "{:<28} {:<18} -> {}",
                domains.join(","),
                format!("[{}]", vh["name"].as_str().unwrap_or("")),
                targets.join("; ")
            )
        })
        .collect()
}

/// What a trainee should notice, in the lab's words.
pub fn notes(state: &LabState, config: &EnvoyConfig, log: &[AccessLogEntry]) -> Vec<String> {
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
    for vh in config.route_config["virtual_hosts"]
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
            "A Sidecar sets REGISTRY_ONLY for recommendation v3 (the mesh-wide mode is ALLOW_ANY)."
                .into(),
        );
    }
    let passthrough = log.iter().filter(|e| via(e) == "passthrough").count();
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
    let _ = writeln!(
        out,
        "customer: {}   egress proxy (Envoy): {}",
        s.customer_url, s.proxy
    );
    let _ = write!(
        out,
        "mesh outboundTrafficPolicy mode: {} (from {})",
        s.mesh_mode, s.mesh_mode_source
    );
    if s.effective_mode != s.mesh_mode {
        let _ = write!(out, "; recommendation v3's Sidecar: {}", s.effective_mode);
    }
    let _ = writeln!(out, "\ntime API fault: {}", s.fault);
    let _ = writeln!(out, "\nApplied objects:");
    if s.objects.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for o in &s.objects {
        let _ = writeln!(
            out,
            "  {}/{}  {}  [{}]",
            crate::state::kubectl_kind(&o.kind),
            o.name,
            o.summary,
            o.file
        );
    }
    let _ = writeln!(
        out,
        "\nEnvoy route configuration \"{}\" (recommendation v3's outbound port 80):",
        translate::ROUTE_CONFIG_NAME
    );
    for r in &s.routes {
        let _ = writeln!(out, "  {r}");
    }
    let _ = writeln!(out, "\nEgress traffic so far (Envoy access log):");
    if s.traffic.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for t in &s.traffic {
        let statuses: Vec<String> = s_statuses(&t.statuses);
        let label = match t.via.as_str() {
            "passthrough" => "passthrough (not governed)",
            "blocked" => "blocked (REGISTRY_ONLY)",
            "service-entry" => "through a ServiceEntry",
            "missing-cluster" => "route to a missing cluster",
            other => other,
        };
        let _ = writeln!(
            out,
            "  {:<20} {:<28} {:<34} {:>4} requests  {}",
            t.host,
            label,
            t.cluster,
            t.requests,
            statuses.join(", ")
        );
    }
    let _ = writeln!(out, "\nEnvoy stats (admin interface):");
    for (k, v) in &s.stats {
        let _ = writeln!(out, "  {k}: {v}");
    }
    if !s.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in &s.notes {
            let _ = writeln!(out, "  ! {n}");
        }
    }
    out
}

fn s_statuses(m: &std::collections::BTreeMap<String, usize>) -> Vec<String> {
    m.iter().map(|(k, v)| format!("{k} x{v}")).collect()
}
