//! `proxy-status`: the learner's `istioctl proxy-status`, from what the lab's xDS server recorded of every
//! proxy's stream ([`crate::xds::Xds::status`]): per type, whether the last response was ACKed (SYNCED),
//! is still unanswered or NACKed (STALE), or was never sent (NOT SENT). The table follows istioctl's
//! writer of Istio 1.20 (OSSM 2.6; istioctl/pkg/writer/pilot/status.go: columns NAME, CLUSTER, CDS, LDS,
//! EDS, RDS, ECDS, ISTIOD, VERSION, `text/tabwriter` with padding 5). Below it the lab adds each NACK with
//! Envoy's reason, which istioctl keeps in `-o json` only (`errorState.details`, as istiod's
//! pilot/pkg/xds/statusgen.go `debugSyncz` fills it).

use serde_json::{Value, json};

use crate::xds::{CLUSTER, ENDPOINT, EXTENSION, LISTENER, ProxyStatus, ROUTE, SECRET, TypeStatus};

/// The lab's control plane, as istioctl's ISTIOD column names the istiod pod.
pub const ISTIOD: &str = "mesh-lab";
/// The cluster the proxies are in (istiod's default `CLUSTER_ID`).
pub const CLUSTER_ID: &str = "Kubernetes";
/// The table's types, in istioctl's order.
const COLUMNS: [(&str, &str); 5] = [
    ("CDS", CLUSTER),
    ("LDS", LISTENER),
    ("EDS", ENDPOINT),
    ("RDS", ROUTE),
    ("ECDS", EXTENSION),
];

/// istiod's proxy ID of a node id (`sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local`: `POD.NAMESPACE`);
/// `None` for what is not a mesh proxy (the lab's kube-proxy stand-in).
pub fn proxy_id(node: &str) -> Option<&str> {
    let mut parts = node.split('~');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("sidecar" | "router"), Some(_), Some(id)) => Some(id),
        _ => None,
    }
}

fn status_of<'a>(p: &'a ProxyStatus, type_url: &str) -> Option<&'a TypeStatus> {
    p.status.get(type_url)
}

/// The mesh's proxies, sorted by proxy ID.
fn mesh_proxies(statuses: &[ProxyStatus]) -> Vec<(&str, &ProxyStatus)> {
    let mut proxies: Vec<(&str, &ProxyStatus)> = statuses
        .iter()
        .filter_map(|p| Some((proxy_id(&p.node)?, p)))
        .collect();
    proxies.sort_by_key(|(id, _)| *id);
    proxies
}

/// The table istioctl prints, then the NACKs' reasons.
pub fn table(statuses: &[ProxyStatus], version: &str) -> String {
    let mut header = vec!["NAME".to_owned(), "CLUSTER".to_owned()];
    header.extend(COLUMNS.iter().map(|(c, _)| (*c).to_owned()));
    header.extend(["ISTIOD".to_owned(), "VERSION".to_owned()]);
    let mut rows = vec![header];
    let mut nacks = Vec::new();
    for (id, p) in mesh_proxies(statuses) {
        let mut row = vec![id.to_owned(), CLUSTER_ID.to_owned()];
        for (name, type_url) in COLUMNS {
            let s = status_of(p, type_url);
            row.push(s.map_or("NOT SENT", TypeStatus::sync_status).to_owned());
            if let Some(n) = s.and_then(|s| s.nack.as_ref()) {
                nacks.push(format!(
                    "{id} {name} (version {}): {}",
                    n.version, n.message
                ));
            }
        }
        if let Some(n) = status_of(p, SECRET).and_then(|s| s.nack.as_ref()) {
            nacks.push(format!("{id} SDS (version {}): {}", n.version, n.message));
        }
        row.extend([ISTIOD.to_owned(), version.to_owned()]);
        rows.push(row);
    }
    let mut out = crate::observe::proxy_config::tabwrite(&rows, 5);
    if !nacks.is_empty() {
        out.push_str("\nRejected by Envoy (NACK); what it rejected stays as it was:\n");
        for n in nacks {
            out.push_str(&format!("  {n}\n"));
        }
    }
    out
}

/// `-o json`: what istioctl prints, a `DiscoveryResponse` of one `ClientConfig` per proxy, each type's
/// `configStatus` (SYNCED, NOT_SENT, STALE, or ERROR for a NACK, as istiod's `debugSyncStatus`) and a
/// NACK's `errorState.details`.
pub fn json(statuses: &[ProxyStatus], version: &str) -> Value {
    let resources: Vec<Value> = mesh_proxies(statuses)
        .into_iter()
        .map(|(id, p)| {
            let configs: Vec<Value> = p
                .status
                .iter()
                .map(|(type_url, s)| generic_config(type_url, s))
                .collect();
            json!({
                "@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
                "node": {"id": id, "metadata": {
                    "CLUSTER_ID": CLUSTER_ID, "ISTIO_VERSION": version, "NAMESPACE": namespace_of(id)
                }},
                "genericXdsConfigs": configs
            })
        })
        .collect();
    json!({
        "versionInfo": version,
        "resources": resources,
        "typeUrl": "istio.io/debug/syncz",
        "controlPlane": {"identifier": format!("{{\"Component\":\"istiod\",\"ID\":\"{ISTIOD}\"}}")}
    })
}

fn namespace_of(id: &str) -> &str {
    id.rsplit_once('.').map_or("", |(_, ns)| ns)
}

fn generic_config(type_url: &str, s: &TypeStatus) -> Value {
    let status = match (&s.nack, s.sync_status()) {
        (Some(_), _) => "ERROR",
        (None, "NOT SENT") => "NOT_SENT",
        (None, "SYNCED") => "SYNCED",
        (None, _) => "STALE",
    };
    let mut c = json!({"typeUrl": type_url, "configStatus": status});
    if let Some(n) = &s.nack {
        c["errorState"] = json!({"details": n.message});
    }
    c
}

#[cfg(test)]
mod tests;
