//! A VirtualService's gateways: IST0101 for one that does not exist and IST0132
//! VirtualServiceHostNotFoundInGateway when none of its hosts is one the gateway serves
//! (pkg/config/analysis/analyzers/virtualservice/gateways.go).

use serde_json::Value;

use super::{Level, Message, Object, hosts_match};

/// `gateway` as `namespace/name` (`resource.NewShortOrFullName`: a short name is the VirtualService's
/// namespace's).
fn full_name(namespace: &str, gateway: &str) -> (String, String) {
    match gateway.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (namespace.to_owned(), gateway.to_owned()),
    }
}

/// The hosts a gateway's servers serve to a VirtualService of `vs_namespace`: `./host` and `ns/host`
/// for that namespace, `*/host` and a bare host for any (`sanitizeServerHostNamespace`,
/// `host.NamesForNamespace`).
fn served_hosts(gateway: &Object, vs_namespace: &str) -> Vec<String> {
    let hosts = gateway.spec["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["hosts"].as_array().into_iter().flatten())
        .filter_map(Value::as_str);
    hosts
        .filter_map(|h| match h.split_once('/') {
            Some((".", host)) if gateway.namespace == vs_namespace => Some(host.to_owned()),
            Some(("*", host)) => Some(host.to_owned()),
            Some((ns, host)) if ns == vs_namespace => Some(host.to_owned()),
            Some(_) => None,
            None => Some(h.to_owned()),
        })
        .collect()
}

/// Go's `%v` of a `[]string`: `[a b]`.
fn go_list(items: &[&str]) -> String {
    format!("[{}]", items.join(" "))
}

/// IST0101 `gateway` and IST0132 for each gateway of `vs` but `mesh`.
pub(super) fn analyze(vs: &Object, objects: &[Object]) -> Vec<Message> {
    let vs_hosts: Vec<&str> = vs.spec["hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::new();
    let gateways = vs.spec["gateways"].as_array().into_iter().flatten();
    for (i, name) in gateways.filter_map(Value::as_str).enumerate() {
        if name == "mesh" {
            continue;
        }
        let field = format!("{{.spec.gateways[{i}]}}");
        let (ns, short) = full_name(&vs.namespace, name);
        let gateway = objects
            .iter()
            .find(|o| o.kind == "Gateway" && o.namespace == ns && o.name == short);
        if gateway.is_none() {
            out.push(vs.not_found("gateway", name).at(field.clone()));
        }
        let served = gateway
            .map(|g| served_hosts(g, &vs.namespace))
            .unwrap_or_default();
        let matched = served
            .iter()
            .any(|g| vs_hosts.iter().any(|h| hosts_match(g, h)));
        if !matched {
            let text = format!(
                "one or more host {} defined in VirtualService {}/{} not found in Gateway {ns}/{short}.",
                go_list(&vs_hosts),
                vs.namespace,
                vs.name
            );
            out.push(vs.message(Level::Warning, "IST0132", text).at(field));
        }
    }
    out
}
