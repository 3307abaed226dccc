//! The DestinationRule and VirtualService parts of `istioctl x describe pod` (describe.go
//! `printDestinationRule`, `getDestRuleSubsets`, `printVirtualService`, `httpRouteMatchSvc`,
//! `renderMatch`): which subsets hold the pod, and what each route does for it.

use std::collections::BTreeMap;
use std::fmt::Write;

use mesh_istiod::model::registry::{ServiceDef, fqdn};
use serde_json::Value;

use super::{L1, L2, s};

/// `getDestRuleSubsets`: the DestinationRule's subsets whose labels the pod has, and the others.
pub(super) struct Subsets {
    pub matching: Vec<String>,
    pub nonmatching: Vec<String>,
}

pub(super) fn subsets_of(dr: Option<&Value>, labels: &BTreeMap<String, String>) -> Subsets {
    let mut out = Subsets {
        matching: Vec::new(),
        nonmatching: Vec::new(),
    };
    for s in dr
        .and_then(|d| d["spec"]["subsets"].as_array())
        .into_iter()
        .flatten()
    {
        let selected = s["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
        let name = s["name"].as_str().unwrap_or_default().to_owned();
        if selected {
            out.matching.push(name);
        } else {
            out.nonmatching.push(name);
        }
    }
    out
}

/// `printDestinationRule`: host, subsets, TLS mode and which policies it sets (at level 0).
pub(super) fn print_destination_rule(dr: &Value, labels: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "DestinationRule: {} for {:?}\n",
        s(&dr["metadata"]["name"]),
        s(&dr["spec"]["host"])
    );
    let subsets = subsets_of(Some(dr), labels);
    if !subsets.matching.is_empty() || !subsets.nonmatching.is_empty() {
        if subsets.matching.is_empty() {
            let _ = writeln!(
                out,
                "{L1}WARNING POD DOES NOT MATCH ANY SUBSETS.  (Non matching subsets {})",
                subsets.nonmatching.join(",")
            );
        }
        let _ = writeln!(out, "{L1}Matching subsets: {}", subsets.matching.join(","));
        if !subsets.nonmatching.is_empty() {
            let _ = writeln!(
                out,
                "{L2}(Non-matching subsets {})",
                subsets.nonmatching.join(",")
            );
        }
    }
    let tp = &dr["spec"]["trafficPolicy"];
    if tp.is_null() {
        let _ = writeln!(out, "{L1}No Traffic Policy");
        return out;
    }
    if tp["tls"].is_object() {
        let _ = writeln!(out, "{L1}Traffic Policy TLS Mode: {}", tls_mode(&tp["tls"]));
    }
    out.push_str(&short_policies(tp, L1));
    if let Some(levels) = tp["portLevelSettings"].as_array() {
        let _ = writeln!(out, "{L1}Port Level Settings:");
        for ps in levels {
            let _ = writeln!(out, "    {}:", ps["port"]["number"].as_u64().unwrap_or(0));
            if ps["tls"].is_object() {
                let _ = writeln!(out, "{L2}TLS Mode: {}", tls_mode(&ps["tls"]));
            }
            out.push_str(&short_policies(ps, L2));
        }
    }
    out
}

/// The TLS mode's enum name (DISABLE when left out, proto3's zero).
fn tls_mode(tls: &Value) -> &str {
    tls["mode"].as_str().unwrap_or("DISABLE")
}

/// `recordShortPolicies`: `Policies: load balancer/connection pool/outlier detection`, those set.
fn short_policies(p: &Value, indent: &str) -> String {
    let set: Vec<&str> = [
        ("loadBalancer", "load balancer"),
        ("connectionPool", "connection pool"),
        ("outlierDetection", "outlier detection"),
    ]
    .into_iter()
    .filter(|(k, _)| !p[*k].is_null())
    .map(|(_, words)| words)
    .collect();
    if set.is_empty() {
        return String::new();
    }
    format!("{indent}Policies: {}\n", set.join("/"))
}

/// `ResolveShortnameToFQDN` in the VirtualService's namespace, then `extendFQDN`.
fn extend_fqdn(host: &str) -> String {
    if host.starts_with('*') || host.ends_with(".svc.cluster.local") {
        return host.to_owned();
    }
    match host.contains('.') {
        true => format!("{host}.svc.cluster.local"),
        false => fqdn(host),
    }
}

/// Why a destination to the Service's `subset` cannot reach the pod: a subset of other pods, or one the
/// DestinationRule does not define (`None`: no subset, or the pod's).
fn subset_mismatch(
    subset: &str,
    route: &Value,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> Option<String> {
    if subset.is_empty() || subsets.matching.iter().any(|n| n == subset) {
        return None;
    }
    if subsets.nonmatching.iter().any(|n| n == subset) {
        return Some(format!(
            "Route to non-matching subset {subset} for ({})",
            render_matches(&route["match"])
        ));
    }
    Some(match dr {
        None => {
            format!("Warning: Route to subset {subset} but NO DESTINATION RULE defining subsets!")
        }
        Some(dr) => format!(
            "Warning: Route to UNKNOWN subset {subset}; check DestinationRule {}",
            s(&dr["metadata"]["name"])
        ),
    })
}

/// What a route that reaches the pod does to requests: its fault, then its matches, on one line.
fn request_facts(route: &Value) -> Option<String> {
    let mut req = Vec::new();
    if !route["fault"].is_null() {
        req.push(format!(
            "Fault injection {}",
            super::prototext::fault(&route["fault"])
        ));
    }
    for m in route["match"].as_array().into_iter().flatten() {
        req.push(render_match(m));
    }
    (!req.is_empty()).then(|| req.join(", "))
}

/// One HTTP route's verdict for the Service's pods (`httpRouteMatchSvc`): whether it can reach them, and
/// the facts to print (or, when it cannot, why).
fn http_route_match_svc(
    route: &Value,
    svc: &ServiceDef,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> (bool, Vec<String>) {
    let mut facts = Vec::new();
    let mut mismatch = Vec::new();
    let mut matched = false;
    for dest in route["route"].as_array().into_iter().flatten() {
        let host = s(&dest["destination"]["host"]);
        let subset = s(&dest["destination"]["subset"]);
        let weight = dest["weight"].as_i64().unwrap_or(0);
        if extend_fqdn(host) != svc.fqdn() {
            facts.push(match subset {
                "" => format!("Route to host \"{host}\" with weight {weight}%"),
                _ => format!("Route to {host} with invalid config"),
            });
            continue;
        }
        if let Some(why) = subset_mismatch(subset, route, subsets, dr) {
            mismatch.push(why);
            continue;
        }
        matched = true;
        if weight > 0 {
            let mut fact = format!("Route to host \"{host}\"");
            if !subset.is_empty() {
                let _ = write!(fact, " subset \"{subset}\"");
            }
            let _ = write!(fact, " with weight {weight}%");
            facts.push(fact);
        }
    }
    if !matched {
        facts.extend(mismatch);
    } else if let Some(req) = request_facts(route) {
        facts.push(req);
    }
    (matched, facts)
}

/// `tcpRouteMatchSvc`: a TCP route reaches the Service when a destination is its host (no facts printed
/// for the lab's objects, which have no TCP matches).
fn tcp_route_match_svc(route: &Value, svc: &ServiceDef) -> bool {
    route["route"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| extend_fqdn(s(&d["destination"]["host"])) == svc.fqdn())
}

/// `renderStringMatch`: exact as is, prefix with `*`, any other as its proto text.
fn render_string_match(m: &Value) -> String {
    if let Some(e) = m["exact"].as_str() {
        return e.to_owned();
    }
    if let Some(p) = m["prefix"].as_str() {
        return format!("{p}*");
    }
    super::prototext::string_match(m)
}

fn render_matches(matches: &Value) -> String {
    match matches.as_array() {
        Some(ms) if !ms.is_empty() => ms.iter().map(render_match).collect::<Vec<_>>().join(", "),
        _ => "everything".into(),
    }
}

/// `renderMatch`: the URI (` uncased`), then the headers (in name order: Go walks a map).
fn render_match(m: &Value) -> String {
    let mut out = "Match: ".to_owned();
    if m["uri"].is_object() {
        out.push_str(&render_string_match(&m["uri"]));
        if m["ignoreUriCase"].as_bool() == Some(true) {
            out.push_str(" uncased");
        }
    }
    if let Some(headers) = m["headers"].as_object().filter(|h| !h.is_empty()) {
        let mut conds: Vec<String> = headers
            .iter()
            .map(|(k, v)| format!("{k}={}", render_string_match(v)))
            .collect();
        conds.sort();
        let _ = write!(out, " when headers are {}", conds.join("; "));
    }
    out.trim().to_owned()
}

/// `printVirtualService`: the facts of the routes that reach the pod, or why none does.
pub(super) fn print_virtual_service(
    vs: &Value,
    svc: &ServiceDef,
    subsets: &Subsets,
    dr: Option<&Value>,
) -> String {
    let mut out = format!("VirtualService: {}\n", s(&vs["metadata"]["name"]));
    let count = |k: &str| vs["spec"][k].as_array().map_or(0, Vec::len);
    let (mut matches, mut facts, mut mismatch) = (0, 0, Vec::new());
    for route in vs["spec"]["http"].as_array().into_iter().flatten() {
        let (ok, new) = http_route_match_svc(route, svc, subsets, dr);
        if ok {
            matches += 1;
            for fact in new {
                let _ = writeln!(out, "{L1}{fact}");
                facts += 1;
            }
        } else {
            mismatch.extend(new);
        }
    }
    for route in vs["spec"]["tcp"].as_array().into_iter().flatten() {
        matches += usize::from(tcp_route_match_svc(route, svc));
    }
    let notes = |out: &mut String| {
        for m in &mismatch {
            let _ = writeln!(out, "{L2}{m}");
        }
    };
    if matches == 0 {
        out.push_str(&per_kind(vs, |n, kind| {
            format!("{L1}WARNING: No destinations match pod subsets (checked {n} {kind} routes)")
        }));
        notes(&mut out);
        return out;
    }
    let possible = count("http") + count("tls") + count("tcp");
    if matches < possible {
        let _ = writeln!(
            out,
            "{L1}{} additional destination(s) that will not reach this pod",
            possible - matches
        );
        if facts == 0 {
            notes(&mut out);
        }
        return out;
    }
    if facts == 0 {
        out.push_str(&per_kind(vs, |n, kind| format!("{L1}{n} {kind} route(s)")));
    }
    out
}

/// `line(count, kind)` for each kind of route the VirtualService has, HTTP then TCP.
fn per_kind(vs: &Value, line: impl Fn(usize, &str) -> String) -> String {
    [("HTTP", "http"), ("TCP", "tcp")]
        .into_iter()
        .map(|(kind, k)| (kind, vs["spec"][k].as_array().map_or(0, Vec::len)))
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| line(n, kind) + "\n")
        .collect()
}
