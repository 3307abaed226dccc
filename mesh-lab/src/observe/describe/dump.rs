//! What describe.go reads from a proxy's config dump: the DestinationRule its outbound clusters of a
//! Service name (`getIstioDestinationRulePathForSvc`), the VirtualService its routes to the Service name
//! (`getIstioVirtualServicePathForSvcFromRoute`, `routeDestinationMatchesSvc`), and the RBAC policies of its
//! inbound HTTP connection manager (`getIstioRBACPolicies`).

use mesh_istiod::model::registry::{NAMESPACE, ServiceDef};
use serde_json::Value;

use crate::observe::proxy_config::dump_of;

/// The dynamic entries of a config dump section, each's `field`.
fn dynamic<'a>(dump: &'a Value, kind: &str, list: &str, field: &str) -> Vec<&'a Value> {
    dump_of(dump, kind)
        .and_then(|d| d[list].as_array())
        .into_iter()
        .flatten()
        .map(|e| &e[field])
        .filter(|v| !v.is_null())
        .collect()
}

/// `/apis/networking.istio.io/v1/namespaces/NS/KIND/NAME` (or the older `networking` group and
/// `v1alpha3`) as (NAME, NS) when its kind is `kind`.
fn config_path(path: &str, kind: &str) -> Option<(String, String)> {
    let p: Vec<&str> = path.split('/').collect();
    let [
        "",
        "apis",
        "networking.istio.io" | "networking",
        "v1" | "v1alpha3",
        "namespaces",
        ns,
        k,
        name,
    ] = p.as_slice()
    else {
        return None;
    };
    (*k == kind).then(|| ((*name).to_owned(), (*ns).to_owned()))
}

fn istio_config(object: &Value) -> Option<&str> {
    object["metadata"]["filter_metadata"]["istio"]["config"].as_str()
}

/// The DestinationRule named by the first outbound cluster of the Service's port that carries metadata.
pub fn destination_rule_of(dump: &Value, svc: &ServiceDef) -> Option<(String, String)> {
    let port = format!("|{}|", svc.port);
    let fqdn = svc.fqdn();
    let cluster = dynamic(
        dump,
        "ClustersConfigDump",
        "dynamic_active_clusters",
        "cluster",
    )
    .into_iter()
    .find(|c| {
        let name = c["name"].as_str().unwrap_or_default();
        name.contains(&fqdn)
            && name.contains("outbound")
            && name.contains(&port)
            && c["metadata"].is_object()
    })?;
    config_path(istio_config(cluster)?, "destination-rule")
}

/// `routeDestinationMatchesSvc`: a virtual host domain `SVC.NS.svc.cluster.local`, or (a gateway's `*`)
/// the route's cluster, the first of a weighted split, `outbound|PORT|…|SVC.NS.svc.cluster.local`.
fn route_goes_to(route: &Value, domains: &Value, svc: &ServiceDef) -> bool {
    let named = |d: &str| {
        let Some(rest) = d.strip_suffix(".svc.cluster.local") else {
            return false;
        };
        let mut parts = rest.rsplit('.');
        let (ns, name) = (parts.next(), parts.next());
        ns == Some(NAMESPACE) && name == Some(svc.name.as_str())
    };
    if domains
        .as_array()
        .into_iter()
        .flatten()
        .any(|d| named(d.as_str().unwrap_or_default()))
    {
        return true;
    }
    let action = &route["route"];
    let cluster = action["cluster"]
        .as_str()
        .or_else(|| action["weighted_clusters"]["clusters"][0]["name"].as_str())
        .unwrap_or_default();
    let prefix = format!("outbound|{}|", svc.port);
    cluster
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split_once('|'))
        .is_some_and(|(_, host)| host == svc.fqdn())
}

/// The VirtualService named by the first route to the Service in the route configurations of its port
/// (a sidecar's `8080`) or of a gateway's servers (`http.80`); none when that route has no metadata.
pub fn virtual_service_of(dump: &Value, svc: &ServiceDef) -> Option<(String, String)> {
    let port = svc.port.to_string();
    for rc in dynamic(
        dump,
        "RoutesConfigDump",
        "dynamic_route_configs",
        "route_config",
    ) {
        let name = rc["name"].as_str().unwrap_or_default();
        if name != port && !name.starts_with("http.") && !name.starts_with("https.") {
            continue;
        }
        for vh in rc["virtual_hosts"].as_array().into_iter().flatten() {
            for route in vh["routes"].as_array().into_iter().flatten() {
                if route_goes_to(route, &vh["domains"], svc) {
                    return config_path(istio_config(route)?, "virtual-service");
                }
            }
        }
    }
    None
}

/// The first HTTP connection manager of the `virtualInbound` listener.
fn inbound_hcm(dump: &Value) -> Option<&Value> {
    let listener = dynamic(
        dump,
        "ListenersConfigDump",
        "dynamic_listeners",
        "active_state",
    )
    .into_iter()
    .map(|a| &a["listener"])
    .find(|l| l["name"] == "virtualInbound")?;
    listener["filter_chains"]
        .as_array()?
        .iter()
        .flat_map(|c| c["filters"].as_array().into_iter().flatten())
        .map(|f| &f["typed_config"])
        .find(|t| {
            t["@type"]
                .as_str()
                .is_some_and(|t| t.ends_with(".HttpConnectionManager"))
        })
}

/// The policy names of the first RBAC filter of the inbound HTTP connection manager, sorted (describe.go
/// walks a map). istiod calls each RBAC filter `envoy.filters.http.rbac` and sends only those a workload
/// needs; the lab's sidecars keep a place per action (`envoy.filters.http.rbac.deny`, …) configured by
/// ECDS, a place without rules standing for a filter istiod would not have sent.
pub fn rbac_policies(dump: &Value) -> Vec<String> {
    let Some(hcm) = inbound_hcm(dump) else {
        return Vec::new();
    };
    let ecds = dynamic(dump, "EcdsConfigDump", "ecds_filters", "ecds_filter");
    let config_of = |f: &Value| -> Option<Value> {
        if f["typed_config"].is_object() {
            return Some(f["typed_config"].clone());
        }
        ecds.iter()
            .find(|e| e["name"] == f["name"])
            .map(|e| e["typed_config"].clone())
    };
    let rules = hcm["http_filters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            f["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("envoy.filters.http.rbac"))
        })
        .filter_map(config_of)
        .find(|c| c["rules"].is_object());
    let mut names: Vec<String> = rules
        .and_then(|c| c["rules"]["policies"].as_object().cloned())
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    names.sort();
    names
}
