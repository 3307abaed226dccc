//! The fix the lab knows for each response flag, read from what is applied, the running pods and the
//! repository's files. Each rule follows the check Istio or Envoy makes for the same mistake (cited on it);
//! none changes what Envoy answered, they only say why and what to apply.

use std::collections::BTreeMap;

use serde_json::Value;

use super::facts::{Facts, Object, names_host, short, subset_labels, template_labels};
use crate::dataplane::envoy::AccessLogEntry;
use crate::lab::EXTERNAL_HOST;
use crate::observe::flags::cluster_subset;
use mesh_istiod::networking::core::cluster_builder::parse_subset_key;

/// The applied objects of `kind` for `host` that set `field` on one of their `http` routes, with its value
/// (`timeout`, `retries`, `fault`).
fn route_field<'a>(
    facts: &'a Facts,
    host: &'a str,
    field: &'a str,
) -> Vec<(&'a Object, &'a Value)> {
    facts
        .for_host("VirtualService", host)
        .flat_map(|o| {
            o.spec["http"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |h| h.get(field).map(|v| (o, v)))
        })
        .collect()
}

/// `{"a":1,"b":{"c":2}}` as `a: 1, b: {c: 2}`, for quoting a field in a sentence.
fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{k}: {{{}}}", compact(v)),
                _ => format!("{k}: {}", compact(v)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `VirtualService recommendation routes to subset version-v3 of recommendation, which no DestinationRule
/// defines`, and how to define it: a shipped file defining that host+subset, else what to write. The same
/// check as istioctl analyze's IST0101 ReferencedResourceNotFound "host+subset in destinationrule"
/// (pkg/config/analysis/analyzers/virtualservice/destinationrules.go).
pub fn missing_subset(facts: &Facts, host: &str, subset: &str) -> String {
    if let Some((dr, _)) = facts.subset(host, subset) {
        return format!(
            "DestinationRule {} defines subset {subset} now (it was applied after these requests)",
            dr.name
        );
    }
    let defined: Vec<String> = facts
        .for_host("DestinationRule", host)
        .map(|o| {
            let names: Vec<&str> = o.spec["subsets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["name"].as_str())
                .collect();
            format!(
                "DestinationRule {} defines only [{}]",
                o.name,
                names.join(", ")
            )
        })
        .collect();
    let have = if defined.is_empty() {
        format!("no DestinationRule for {host} is applied")
    } else {
        defined.join("; ")
    };
    let file = facts
        .shipped
        .iter()
        .filter(|o| o.kind == "DestinationRule" && names_host(&o.spec, host))
        .find(|o| {
            subset_labels(&o.spec, subset).is_some() && o.spec.get("trafficPolicy").is_none()
        });
    match file {
        Some(f) => format!(
            "{have}; fix: mesh-lab apply -f {} (defines subset {subset})",
            f.file
        ),
        None => format!(
            "{have}; fix: apply a DestinationRule for host {host} with a subset named {subset} whose labels select its pods"
        ),
    }
}

/// NC: the route's cluster is missing: a subset no DestinationRule defines, or an external host (and
/// port) no ServiceEntry declares.
pub fn no_cluster(facts: &Facts, cluster: &str) -> String {
    let Some((service, subset)) = cluster_subset(cluster) else {
        return format!("the proxy has no cluster {cluster}");
    };
    if let Some(s) = subset {
        return missing_subset(facts, service, s);
    }
    let key = parse_subset_key(cluster);
    let (host, port) = key.map_or(("", ""), |k| (k.host, k.port));
    missing_service_entry(facts, host, port)
}

/// A host outside the mesh reached through a VirtualService: only a ServiceEntry declaring it on the port
/// called makes its cluster (istiod builds outbound clusters from the registry: a ServiceEntry's host and
/// ports, pilot/pkg/networking/core/cluster_builder.go).
fn missing_service_entry(facts: &Facts, host: &str, port: &str) -> String {
    let ports = |o: &Object| -> Vec<String> {
        o.spec["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["number"].to_string())
            .collect()
    };
    let shipped = facts.shipped.iter().find(|o| {
        o.kind == "ServiceEntry" && names_host(&o.spec, host) && ports(o).iter().any(|p| p == port)
    });
    let fix = match shipped {
        Some(f) => format!(
            "fix: mesh-lab apply -f {} (declares {host} on port {port})",
            f.file
        ),
        None => format!("fix: apply a ServiceEntry declaring {host} on port {port}"),
    };
    match facts.for_host("ServiceEntry", host).next() {
        Some(se) => format!(
            "ServiceEntry {} declares {host} on port(s) [{}], not {port}; {fix}",
            se.name,
            ports(se).join(", ")
        ),
        None => format!("no ServiceEntry declares {host}; {fix}"),
    }
}

/// REGISTRY_ONLY's `block_all`: the host called is in no ServiceEntry on that port (istiod builds the catch-all
/// from the outbound policy, pilot/pkg/networking/core/httproute.go).
pub fn blocked(facts: &Facts, e: &AccessLogEntry) -> String {
    let authority = e.authority.as_deref().unwrap_or_default();
    let (host, port) = authority.split_once(':').unwrap_or((authority, "80"));
    missing_service_entry(facts, host, port)
}

/// UH: the cluster has no endpoint. No pod carries the subset's labels (which Deployment to apply or
/// scale; istioctl analyze's IST0173 DestinationRuleSubsetNotSelectPods,
/// pkg/config/analysis/analyzers/destinationrule/subset.go), or every pod is ejected by outlierDetection.
pub fn no_healthy(facts: &Facts, cluster: &str) -> String {
    match cluster_subset(cluster) {
        Some((service, subset)) => no_endpoint(facts, service, subset),
        None => format!("nothing serves {cluster}"),
    }
}

/// Why `service` (its `subset`, if any) has no endpoint, and the fix.
pub fn no_endpoint(facts: &Facts, service: &str, subset: Option<&str>) -> String {
    let labels = match subset {
        Some(s) => match facts.subset(service, s) {
            Some((_, l)) => l,
            None => return missing_subset(facts, service, s),
        },
        None => BTreeMap::from([("app".to_owned(), service.to_owned())]),
    };
    let what = match subset {
        Some(s) => format!("subset {s} of {service}"),
        None => service.to_owned(),
    };
    let pods = facts.pods_with(service, &labels);
    if pods.is_empty() {
        return format!(
            "no pod of {what} runs; {}",
            run_pods(facts, service, &labels)
        );
    }
    let names: Vec<&str> = pods.iter().map(|p| p.pod.as_str()).collect();
    let ejecting = facts
        .for_host("DestinationRule", service)
        .find_map(|o| find_key(&o.spec, "outlierDetection").map(|v| (o, v)));
    match ejecting {
        Some((o, v)) => format!(
            "every pod of {what} ({}) is ejected by DestinationRule {}'s outlierDetection ({}); fix: heal it \
             (curl http://APP/behave in the pod) and wait out the ejection, or remove the outlierDetection",
            names.join(", "),
            o.name,
            compact(v)
        ),
        None => format!(
            "the pods of {what} ({}) were not ready to the proxy",
            names.join(", ")
        ),
    }
}

/// Which Deployment to apply or scale so pods with `labels` of `service` run.
fn run_pods(facts: &Facts, service: &str, labels: &BTreeMap<String, String>) -> String {
    let fits = |o: &&Object| {
        let t = template_labels(&o.spec);
        o.kind == "Deployment"
            && t.get("app").map(String::as_str) == Some(service)
            && labels.iter().all(|(k, v)| t.get(k) == Some(v))
    };
    if let Some(d) = facts.applied.iter().find(fits) {
        return format!(
            "Deployment {} has replicas {}: fix: mesh-lab scale deployment {} --replicas 1",
            d.name,
            d.spec["replicas"].as_u64().unwrap_or(1),
            d.name
        );
    }
    match facts.shipped.iter().find(fits) {
        Some(f) => format!(
            "fix: mesh-lab apply -f {} (its pods carry those labels)",
            f.file
        ),
        None => format!(
            "fix: run a Deployment whose pods carry the labels {}",
            compact(&serde_json::json!(labels))
        ),
    }
}

/// The first value of `key` anywhere in `v` (a DestinationRule's `trafficPolicy` or a subset's).
fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

/// UO: the DestinationRule's connectionPool is full (Envoy's circuit breaker thresholds, which istiod
/// sets from connectionPool: pilot/pkg/networking/core/cluster_traffic_policy.go).
pub fn overflow(facts: &Facts, host: &str) -> String {
    match facts
        .for_host("DestinationRule", host)
        .find_map(|o| find_key(&o.spec, "connectionPool").map(|v| (o, v)))
    {
        Some((o, v)) => format!(
            "DestinationRule {}'s connectionPool ({}) is full; fix: send fewer requests at once, or raise its limits",
            o.name,
            compact(v)
        ),
        None => format!("the connection pool of {host} is full"),
    }
}

/// The pod that answered (or failed to), by the access log's `upstream_host`: its name and the file its
/// Deployment came from.
fn upstream(facts: &Facts, e: &AccessLogEntry) -> String {
    let addr = e.upstream_host.as_deref().unwrap_or("-");
    let Some(p) = facts.pod_at(addr) else {
        return format!("upstream {addr}");
    };
    let file = facts
        .applied("Deployment")
        .find(|d| d.name == p.deployment)
        .and_then(|d| std::path::Path::new(&d.file).file_name())
        .map(|f| format!(", Deployment {} from {}", p.deployment, f.to_string_lossy()))
        .unwrap_or_default();
    format!("pod {} ({addr}{file})", p.pod)
}

/// What heals the upstream that failed `e`: the time API's own fault when the host is the one the lab plays
/// and it is made to misbehave (`mesh-lab fault`), else the pod's app (`/behave`, what `oc exec POD -- curl
/// localhost:8080/behave` reaches).
fn heal(facts: &Facts, host: &str, e: &AccessLogEntry) -> String {
    let pod = facts.pod_at(e.upstream_host.as_deref().unwrap_or("-"));
    match (&facts.fault, pod) {
        (Some(f), _) if host == EXTERNAL_HOST => {
            format!("the time API {host} misbehaves (mesh-lab fault {f}); fix: mesh-lab fault none")
        }
        (_, Some(p)) => format!(
            "fix: heal the upstream: curl http://{}/behave (its app)",
            p.addrs[0]
        ),
        _ => "fix: heal the upstream".into(),
    }
}

/// UT: the route's timeout (VirtualService `timeout`, or `retries.perTryTimeout`) passed.
pub fn timeout(facts: &Facts, host: &str, e: &AccessLogEntry) -> String {
    let who = upstream(facts, e);
    match route_field(facts, host, "timeout").first() {
        Some((o, t)) => format!(
            "VirtualService {}'s timeout {} passed before {who} answered; fix: make the upstream answer \
             in time, or raise the timeout",
            o.name,
            compact(t)
        ),
        None => format!("{who} answered after the route's timeout (retries.perTryTimeout)"),
    }
}

/// URX/UF: every attempt the VirtualService's retries allow failed, or the connection did.
pub fn retries(facts: &Facts, host: &str, e: &AccessLogEntry, flag: &str) -> String {
    let who = upstream(facts, e);
    let failing = if flag.contains("UF") {
        format!(
            "the connection to {who} failed (nothing listens, or the mutual-TLS handshake failed)"
        )
    } else {
        format!("{who} kept failing")
    };
    match route_field(facts, host, "retries").first() {
        Some((o, r)) => format!(
            "VirtualService {}'s retries ({}) were all used: {failing}; {}",
            o.name,
            compact(r),
            heal(facts, host, e)
        ),
        None => format!(
            "{failing}; the default retry policy gave up; {}",
            heal(facts, host, e)
        ),
    }
}

/// FI/DI: the VirtualService's fault (its `abort` or `delay`) answered or held the request.
pub fn fault(facts: &Facts, host: &str, which: &str) -> String {
    match route_field(facts, host, "fault")
        .into_iter()
        .find_map(|(o, f)| f.get(which).map(|v| (o, v)))
    {
        Some((o, v)) => format!(
            "VirtualService {}'s fault.{which} ({}); fix: mesh-lab delete virtualservice {} (or apply a route without the fault)",
            o.name,
            compact(v),
            o.name
        ),
        None => format!("a fault.{which} of a VirtualService for {host}"),
    }
}

/// RBAC: the AuthorizationPolicies in force on the proxy's pods and what each lets through (istiod's RBAC
/// filter: a DENY rule that matches denies; with ALLOW policies, what no rule matches is denied, and one
/// without rules allows nothing: pilot/pkg/security/authz/builder/builder.go).
pub fn denied(facts: &Facts, deployment: &str) -> String {
    let policies = facts.policies.get(deployment).cloned().unwrap_or_default();
    let labels = facts
        .pods
        .iter()
        .find(|p| p.deployment == deployment)
        .map(|p| p.labels.clone())
        .unwrap_or_default();
    let on_pod: Vec<&Object> = facts
        .applied("AuthorizationPolicy")
        .filter(|o| {
            let wanted = o.spec["selector"]["matchLabels"].as_object();
            wanted
                .into_iter()
                .flatten()
                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
        })
        .collect();
    let allows_nothing = on_pod.iter().find(|o| {
        o.spec["action"].as_str().is_none_or(|a| a == "ALLOW")
            && o.spec["rules"].as_array().is_none_or(Vec::is_empty)
    });
    let fix = if let Some(o) = allows_nothing {
        format!(
            "AuthorizationPolicy {} has no rules, so it allows nothing; fix: mesh-lab delete authorizationpolicy {}, \
             or give it a rule that allows the caller",
            o.name, o.name
        )
    } else if on_pod
        .iter()
        .any(|o| o.spec.to_string().contains("requestPrincipals"))
    {
        "fix: send the JWT the policy asks for: curl -H \"Authorization: Bearer $(mesh-lab token)\" $GATEWAY_URL"
            .to_owned()
    } else {
        "fix: add an ALLOW rule for the caller (its principal), or delete the policy that denies it"
            .to_owned()
    };
    format!("in force on {deployment}: {}; {fix}", policies.join("; "))
}

/// JWT: the RequestAuthentication rejected the token (Envoy's jwt_authn filter).
pub fn jwt(facts: &Facts) -> String {
    let ras: Vec<&str> = facts
        .applied("RequestAuthentication")
        .map(|o| o.name.as_str())
        .collect();
    format!(
        "RequestAuthentication {} checks it; fix: send a token it accepts: curl -H \"Authorization: Bearer $(mesh-lab token)\" $GATEWAY_URL",
        ras.join(", ")
    )
}

/// NR: no virtual host or route of the proxy matches; `routes` are its route lines for that Host.
pub fn no_route(e: &AccessLogEntry, proxy: &str, domains: &[String]) -> String {
    let host = e.authority.as_deref().unwrap_or("-");
    let path = e.path.as_deref().unwrap_or("-");
    format!(
        "no route of {proxy} matches Host {host} path {path} (its virtual hosts: {}); fix: call a host and path \
         a VirtualService routes, or add a route for them",
        domains.join(", ")
    )
}

/// The short name of an outbound cluster's host (`recommendation`, `worldclockapi.com`), else the Host
/// header's without the port.
pub fn host_of(cluster: &str, e: &AccessLogEntry) -> String {
    let host = match parse_subset_key(cluster).filter(|k| k.direction == "outbound") {
        Some(k) => k.host,
        None => e
            .authority
            .as_deref()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or(""),
    };
    short(host).to_owned()
}
