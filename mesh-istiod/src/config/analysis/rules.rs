//! IST0101 for a VirtualService's destinations: a subset no DestinationRule defines
//! (pkg/config/analysis/analyzers/virtualservice/destinationrules.go) and a host no Service or ServiceEntry
//! declares (pkg/config/analysis/analyzers/virtualservice/destinationhosts.go).

use serde_json::Value;

use super::{Message, Object, hosts_match, resource_name};

/// A destination and whether it is a mirror's (upstream's `getRouteDestinations` and
/// `getHTTPMirrorDestinations`, virtualservice/util.go).
struct Destination<'a> {
    host: &'a str,
    subset: Option<&'a str>,
    mirror: bool,
    /// Its `host` field, as upstream's `util.ErrorLine` keys name it.
    field: String,
}

/// Every destination of `spec`: the routes of `http`, `tcp` and `tls`, then `http`'s mirrors.
fn destinations(spec: &Value) -> Vec<Destination<'_>> {
    let rules = |field: &str| spec[field].as_array().into_iter().flatten();
    let mut out = Vec::new();
    for field in ["http", "tcp", "tls"] {
        for (r, rule) in rules(field).enumerate() {
            for (d, route) in rule["route"].as_array().into_iter().flatten().enumerate() {
                let key = format!("{{.spec.{field}[{r}].route[{d}].destination.host}}");
                out.extend(destination(&route["destination"], false, key));
            }
        }
    }
    for (r, rule) in rules("http").enumerate() {
        let key = format!("{{.spec.http[{r}].mirror.host}}");
        out.extend(destination(&rule["mirror"], true, key));
        for (d, m) in rule["mirrors"].as_array().into_iter().flatten().enumerate() {
            let key = format!("{{.spec.http[{r}].mirrors[{d}].destination.host}}");
            out.extend(destination(&m["destination"], true, key));
        }
    }
    out
}

fn destination(d: &Value, mirror: bool, field: String) -> Option<Destination<'_>> {
    Some(Destination {
        host: d["host"].as_str()?,
        subset: d["subset"].as_str().filter(|s| !s.is_empty()),
        mirror,
        field,
    })
}

/// `host+subset in destinationrule` (`mirror+subset …` for a mirror) for each subset no DestinationRule
/// for that host defines.
pub(super) fn destination_subsets(vs: &Object, objects: &[Object]) -> Vec<Message> {
    let defined = |host: &str, subset: &str| {
        let want = resource_name(&vs.namespace, host);
        objects
            .iter()
            .filter(|o| o.kind == "DestinationRule")
            .filter(|o| {
                o.spec["host"]
                    .as_str()
                    .is_some_and(|h| resource_name(&o.namespace, h) == want)
            })
            .flat_map(|o| o.spec["subsets"].as_array().into_iter().flatten())
            .any(|s| s["name"].as_str() == Some(subset))
    };
    destinations(&vs.spec)
        .into_iter()
        .filter_map(|d| {
            let subset = d.subset?;
            (!defined(d.host, subset)).then(|| {
                let what = if d.mirror { "mirror" } else { "host" };
                vs.not_found(
                    &format!("{what}+subset in destinationrule"),
                    &format!("{}+{subset}", d.host),
                )
                .at(d.field)
            })
        })
        .collect()
}

/// A destination host as the registry names it: a short name is a Service of the object's namespace
/// (`util.ConvertHostToFQDN`).
fn fqdn(namespace: &str, host: &str) -> String {
    if host.contains('.') {
        host.to_owned()
    } else {
        format!("{host}.{namespace}.svc.cluster.local")
    }
}

/// The hosts the registry knows: each Service's FQDN and each ServiceEntry's hosts
/// (`util.InitServiceEntryHostMap`).
fn registry_hosts(objects: &[Object]) -> Vec<String> {
    let services = objects
        .iter()
        .filter(|o| o.kind == "Service")
        .map(|o| fqdn(&o.namespace, &o.name));
    let entries = objects
        .iter()
        .filter(|o| o.kind == "ServiceEntry")
        .flat_map(|o| o.spec["hosts"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(str::to_owned);
    services.chain(entries).collect()
}

/// `host` (`mirror host` for a mirror) for each destination host the registry does not know.
pub(super) fn destination_hosts(vs: &Object, objects: &[Object]) -> Vec<Message> {
    let known = registry_hosts(objects);
    destinations(&vs.spec)
        .into_iter()
        .filter(|d| {
            let want = fqdn(&vs.namespace, d.host);
            !known.iter().any(|k| hosts_match(k, &want))
        })
        .map(|d| {
            let what = if d.mirror { "mirror host" } else { "host" };
            vs.not_found(what, d.host).at(d.field)
        })
        .collect()
}
