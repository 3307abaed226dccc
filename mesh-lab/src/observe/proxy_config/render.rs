//! The routes, clusters, listeners and endpoints tables, each as istioctl's writer makes it from the same
//! Envoy output (istioctl/pkg/writer/envoy/configdump/{route,cluster,listener}.go and
//! istioctl/pkg/writer/envoy/clusters/clusters.go).

use anyhow::{anyhow, bail};
use serde_json::Value;

use super::{ProxyConfigQuery, dump_of, tabwrite};
use mesh_istiod::networking::core::cluster_builder::parse_subset_key;

/// The cluster of every connection or request Envoy lets through unrouted.
const PASSTHROUGH: &str = "PassthroughCluster";
const BLACKHOLE: &str = "BlackHoleCluster";
const HCM: &str = "envoy.filters.network.http_connection_manager";
const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| s(x).to_owned()).collect())
        .unwrap_or_default()
}

/// A config dump entry without the `@type` the admin adds to each Any (istioctl prints the message).
fn message(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("@type");
    }
    v
}

/// The dynamic then the static entries of a section, each's `field`.
fn entries(dump: &Value, kind: &str, dynamic: &str, stat: &str, field: &[&str]) -> Vec<Value> {
    let Some(d) = dump_of(dump, kind) else {
        return Vec::new();
    };
    [dynamic, stat]
        .iter()
        .flat_map(|k| d[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|e| {
            let inner = field.iter().fold(&e, |v, f| &v[*f]);
            (!inner.is_null()).then(|| message(inner))
        })
        .collect()
}

/// Go's insertion sort (what `sort.Slice` runs on fewer than 13 elements), for a `less` that is no
/// order: istioctl's route sort compares numeric names only.
fn insertion_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// The route configurations, as `retrieveSortedRouteSlice` orders them, that `--name` keeps.
pub fn routes(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<Vec<Value>> {
    let mut all = entries(
        dump,
        "RoutesConfigDump",
        "dynamic_route_configs",
        "static_route_configs",
        &["route_config"],
    );
    if all.is_empty() {
        bail!("no routes found");
    }
    insertion_sort(&mut all, |a, b| {
        match (s(&a["name"]).parse::<i64>(), s(&b["name"]).parse::<i64>()) {
            (Ok(a), Ok(b)) => a < b,
            _ => false,
        }
    });
    all.retain(|r| q.name.as_deref().is_none_or(|n| s(&r["name"]) == n));
    Ok(all)
}

/// `PrintRouteSummary` (verbose, istioctl's default): a line per route but the passthrough ones.
pub fn routes_table(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<String> {
    let mut rows = vec![cells(&[
        "NAME",
        "VHOST NAME",
        "DOMAINS",
        "MATCH",
        "VIRTUAL SERVICE",
    ])];
    for rc in routes(dump, q)? {
        for vh in rc["virtual_hosts"].as_array().into_iter().flatten() {
            let domains = describe_route_domains(&strings(&vh["domains"]));
            let head = [s(&rc["name"]), s(&vh["name"]), &domains];
            let rs = vh["routes"].as_array().cloned().unwrap_or_default();
            for r in rs
                .iter()
                .filter(|r| s(&r["route"]["cluster"]) != PASSTHROUGH)
            {
                let (m, vs) = (describe_match(&r["match"]), describe_management(r));
                rows.push(cells(&[head[0], head[1], head[2], &m, &vs]));
            }
            if rs.is_empty() {
                rows.push(cells(&[head[0], head[1], head[2], "/*", "404"]));
            }
        }
    }
    Ok(tabwrite(&rows, 5))
}

fn cells(c: &[&str]) -> Vec<String> {
    c.iter().map(|x| (*x).to_owned()).collect()
}

/// `describeRouteDomains`: the one domain, or the shortest forms without a port, two at most.
pub fn describe_route_domains(domains: &[String]) -> String {
    match domains {
        [] => return String::new(),
        [one] => return one.clone(),
        _ => {}
    }
    let without_port: Vec<&String> = domains
        .iter()
        .filter(|d| !d.contains(':') || (d.matches(':').count() > 2 && d.ends_with(']')))
        .collect();
    let redundant = |h: &str| {
        [".svc.cluster.local", ".svc"].iter().any(|suffix| {
            h.strip_suffix(suffix)
                .is_some_and(|short| without_port.iter().any(|d| *d == short))
        })
    };
    let kept: Vec<&str> = without_port
        .iter()
        .map(|d| d.as_str())
        .filter(|d| !redundant(d))
        .collect();
    if kept.len() > 2 {
        return format!("{} + {} more...", kept[..2].join(", "), kept.len() - 2);
    }
    kept.join(", ")
}

/// `describeMatch`: prefix, path-separated prefix, path, regex (headers left out).
pub fn describe_match(m: &Value) -> String {
    let mut conds = Vec::new();
    if !s(&m["prefix"]).is_empty() {
        conds.push(format!("{}*", s(&m["prefix"])));
    }
    if !s(&m["path_separated_prefix"]).is_empty() {
        conds.push(format!("PathPrefix:{}", s(&m["path_separated_prefix"])));
    }
    if !s(&m["path"]).is_empty() {
        conds.push(s(&m["path"]).to_owned());
    }
    if m["safe_regex"].is_object() {
        conds.push(format!("regex {}", s(&m["safe_regex"]["regex"])));
    }
    conds.join(" ")
}

/// `describeManagement`: the Istio config an object came from, as istiod records it in the metadata
/// `filter_metadata.istio.config` (`/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`
/// reads `NAME.NS`); empty when Envoy has no such metadata.
pub fn describe_management(object: &Value) -> String {
    let Some(path) = object["metadata"]["filter_metadata"]["istio"]["config"].as_str() else {
        return String::new();
    };
    if !path.starts_with("/apis/networking.istio.io/") {
        return "<unknown>".into();
    }
    let pieces: Vec<&str> = path.split('/').collect();
    if pieces.len() != 8 {
        return String::new();
    }
    format!("{}.{}", pieces[7], pieces[5])
}

/// `model.ParseSubsetKey` of a name with more than three `|` parts (direction, port, subset, host), else
/// the name alone (istioctl's `safelyParseSubsetKey`).
fn subset_key(name: &str) -> Option<(&str, u32, &str, &str)> {
    parse_subset_key(name).map(|k| (k.direction, k.port.parse().unwrap_or(0), k.subset, k.host))
}

/// The sort key of `retrieveSortedClusterSlice`: host, subset, port, direction.
fn cluster_order(name: &str) -> (String, String, u32, String) {
    match subset_key(name) {
        Some((d, p, sub, h)) => (h.into(), sub.into(), p, d.into()),
        None => (name.into(), String::new(), 0, String::new()),
    }
}

/// `ClusterFilter.Verify`: each filter given is a part of the name.
fn keeps_cluster(name: &str, q: &ProxyConfigQuery) -> bool {
    let contains = |f: &Option<String>| f.as_deref().is_none_or(|f| name.contains(f));
    contains(&q.fqdn)
        && contains(&q.direction)
        && contains(&q.subset)
        && q.port.is_none_or(|p| name.contains(&format!("|{p}|")))
}

/// The clusters, as istioctl orders them, that the filters keep.
pub fn clusters(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<Vec<Value>> {
    let mut all = entries(
        dump,
        "ClustersConfigDump",
        "dynamic_active_clusters",
        "static_clusters",
        &["cluster"],
    );
    if all.is_empty() {
        bail!("no clusters found");
    }
    all.sort_by_key(|c| cluster_order(s(&c["name"])));
    all.retain(|c| keeps_cluster(s(&c["name"]), q));
    Ok(all)
}

/// `PrintClusterSummary`: a line per cluster (`-` for what a name without `|` parts lacks).
pub fn clusters_table(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<String> {
    let mut rows = vec![cells(&[
        "SERVICE FQDN",
        "PORT",
        "SUBSET",
        "DIRECTION",
        "TYPE",
        "DESTINATION RULE",
    ])];
    for c in clusters(dump, q)? {
        let name = s(&c["name"]);
        // proto3 JSON leaves the default out: STATIC.
        let kind = c["type"].as_str().unwrap_or("STATIC");
        let dr = describe_management(&c);
        rows.push(match subset_key(name) {
            Some((direction, port, subset, fqdn)) => {
                let subset = if subset.is_empty() { "-" } else { subset };
                let port = port.to_string();
                cells(&[fqdn, &port, subset, direction, kind, &dr])
            }
            None => cells(&[name, "-", "-", "-", kind, &dr]),
        });
    }
    Ok(tabwrite(&rows, 5))
}

fn listener_port(l: &Value) -> u64 {
    l["address"]["socket_address"]["port_value"]
        .as_u64()
        .unwrap_or(0)
}

fn listener_address(l: &Value) -> String {
    let a = &l["address"];
    if a["socket_address"].is_object() {
        s(&a["socket_address"]["address"]).to_owned()
    } else {
        s(&a["pipe"]["path"]).to_owned()
    }
}

/// The listener's filter chains, then its default one.
fn filter_chains(l: &Value) -> Vec<&Value> {
    let mut chains: Vec<&Value> = l["filter_chains"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if l["default_filter_chain"].is_object() {
        chains.push(&l["default_filter_chain"]);
    }
    chains
}

fn to_blackhole(filter: &Value) -> bool {
    filter["typed_config"].to_string().contains(BLACKHOLE)
}

/// `retrieveListenerType`: HTTP, TCP, HTTP+TCP or UNKNOWN (a TCP proxy to the black hole not counted).
fn listener_type(l: &Value) -> &'static str {
    let filters: Vec<&Value> = filter_chains(l)
        .into_iter()
        .flat_map(|c| c["filters"].as_array().into_iter().flatten())
        .collect();
    let http = filters.iter().any(|f| s(&f["name"]) == HCM);
    let tcp = filters
        .iter()
        .any(|f| s(&f["name"]) == TCP_PROXY && !to_blackhole(f));
    match (http, tcp) {
        (true, false) => "HTTP",
        (true, true) => "HTTP+TCP",
        (false, true) => "TCP",
        (false, false) => "UNKNOWN",
    }
}

/// The listeners that `--address`, `--port` and `--type` keep (`ListenerFilter.Verify`).
pub fn listeners(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<Vec<Value>> {
    let d = dump_of(dump, "ListenersConfigDump").ok_or_else(|| anyhow!("listener dump: none"))?;
    let dynamic = d["dynamic_listeners"].as_array().into_iter().flatten();
    let stat = d["static_listeners"].as_array().into_iter().flatten();
    let all: Vec<Value> = dynamic
        .map(|l| &l["active_state"]["listener"])
        .chain(stat.map(|l| &l["listener"]))
        .filter(|l| l.is_object())
        .map(message)
        .collect();
    if all.is_empty() {
        bail!("no listeners found");
    }
    Ok(all
        .into_iter()
        .filter(|l| {
            let addresses = all_addresses(l);
            q.address
                .as_deref()
                .is_none_or(|a| addresses.iter().any(|x| x.eq_ignore_ascii_case(a)))
                && q.port.is_none_or(|p| listener_port(l) == u64::from(p))
                && q.listener_type
                    .as_deref()
                    .is_none_or(|t| listener_type(l).eq_ignore_ascii_case(t))
        })
        .collect())
}

/// The listener's address, then its additional ones.
fn all_addresses(l: &Value) -> Vec<String> {
    let extra = l["additional_addresses"].as_array().into_iter().flatten();
    std::iter::once(listener_address(l))
        .chain(extra.map(|a| s(&a["address"]["socket_address"]["address"]).to_owned()))
        .collect()
}

/// `PrintListenerSummary` (verbose): a line per filter chain, by port, address and type.
pub fn listeners_table(dump: &Value, q: &ProxyConfigQuery) -> anyhow::Result<String> {
    let mut ls = listeners(dump, q)?;
    ls.sort_by_key(|l| (listener_port(l), listener_address(l), listener_type(l)));
    let mut rows = vec![cells(&["ADDRESSES", "PORT", "MATCH", "DESTINATION"])];
    for l in &ls {
        let addresses = all_addresses(l).join(",");
        let port = listener_port(l).to_string();
        let mut chains: Vec<(String, String)> = filter_chains(l)
            .into_iter()
            .map(|c| (get_matches(&c["filter_chain_match"]), filter_type(c)))
            .collect();
        insertion_sort(&mut chains, |a, b| a.1 > b.1);
        for (m, d) in chains {
            rows.push(vec![addresses.clone(), port.clone(), m, d]);
        }
    }
    Ok(tabwrite(&rows, 1))
}

/// istioctl's names of the ALPN lists Istio's listeners match.
const PROTOCOLS: &[(&str, &[&str])] = &[
    (
        "App: HTTP TLS",
        &[
            "http/1.0",
            "http/1.1",
            "h2c",
            "istio-http/1.0",
            "istio-http/1.1",
            "istio-h2",
        ],
    ),
    (
        "App: Istio HTTP Plain",
        &["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"],
    ),
    ("App: TCP TLS", &["istio-peer-exchange", "istio"]),
    ("App: HTTP", &["http/1.0", "http/1.1", "h2c"]),
];

/// `getMatches`: SNI, transport, application protocols, destination addresses and port; `ALL` for none.
pub fn get_matches(m: &Value) -> String {
    let mut descrs = Vec::new();
    let sni = strings(&m["server_names"]);
    if !sni.is_empty() {
        descrs.push(format!("SNI: {}", sni.join(",")));
    }
    if !s(&m["transport_protocol"]).is_empty() {
        descrs.push(format!("Trans: {}", s(&m["transport_protocol"])));
    }
    let alpn = strings(&m["application_protocols"]);
    if !alpn.is_empty() {
        descrs.push(
            PROTOCOLS
                .iter()
                .find(|(_, p)| *p == alpn.as_slice())
                .map_or_else(
                    || format!("App: {}", alpn.join(",")),
                    |(d, _)| d.to_string(),
                ),
        );
    }
    let port = m["destination_port"]
        .as_u64()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let ranges: Vec<String> = m["prefix_ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let len = r["prefix_len"].as_u64().unwrap_or(0);
            format!("{}/{len}", s(&r["address_prefix"]))
        })
        .collect();
    if !ranges.is_empty() {
        descrs.push(format!("Addr: {}{port}", ranges.join(",")));
    } else if !port.is_empty() {
        descrs.push(format!("Addr: *{port}"));
    }
    if descrs.is_empty() {
        return "ALL".into();
    }
    descrs.join("; ")
}

/// `getFilterType`: where the chain sends what it accepts.
pub fn filter_type(chain: &Value) -> String {
    for f in chain["filters"].as_array().into_iter().flatten() {
        let tc = &f["typed_config"];
        if s(&f["name"]) == HCM {
            if tc["route_config"].is_object() {
                return describe_route_config(&tc["route_config"]);
            }
            let rds = s(&tc["rds"]["route_config_name"]);
            if !rds.is_empty() {
                return format!("Route: {rds}");
            }
            return "HTTP".into();
        }
        if s(&f["name"]) == TCP_PROXY && !to_blackhole(f) {
            return cluster_words(s(&tc["cluster"]));
        }
    }
    "Non-HTTP/Non-TCP".into()
}

fn cluster_words(cluster: &str) -> String {
    if cluster.contains("Cluster") {
        cluster.to_owned()
    } else {
        format!("Cluster: {cluster}")
    }
}

/// `describeRouteConfig` of an inline route configuration.
fn describe_route_config(rc: &Value) -> String {
    let vhosts: Vec<&Value> = rc["virtual_hosts"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    if let [vh] = vhosts.as_slice()
        && strings(&vh["domains"]) == ["*"]
        && let Some([r]) = vh["routes"].as_array().map(Vec::as_slice)
        && s(&r["match"]["prefix"]) == "/"
        && r["route"]["cluster"].is_string()
    {
        return cluster_words(s(&r["route"]["cluster"]));
    }
    let described: Vec<String> = vhosts
        .iter()
        .map(|vh| {
            let domains = strings(&vh["domains"]);
            let routes: Vec<String> = vh["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| describe_match(&r["match"]))
                .collect();
            if domains == ["*"] {
                routes.join(", ")
            } else {
                format!("{} {}", domains.join("/"), routes.join(", "))
            }
        })
        .collect();
    format!("Inline Route: {}", described.join("; "))
}

/// One host of Envoy's `/clusters?format=json`: address, port, EDS health, outlier verdict, cluster.
struct Host {
    address: String,
    port: u64,
    status: String,
    failed_outlier: bool,
    cluster: String,
}

fn host_of(h: &Value, cluster: &str) -> Host {
    let a = &h["address"];
    let address = if a["socket_address"].is_object() {
        s(&a["socket_address"]["address"]).to_owned()
    } else if a["pipe"].is_object() {
        format!("unix://{}", s(&a["pipe"]["path"]))
    } else {
        "unknown".into()
    };
    Host {
        address,
        port: a["socket_address"]["port_value"].as_u64().unwrap_or(0),
        // proto3 JSON leaves the default out: UNKNOWN.
        status: h["health_status"]["eds_health_status"]
            .as_str()
            .unwrap_or("UNKNOWN")
            .to_owned(),
        failed_outlier: h["health_status"]["failed_outlier_check"]
            .as_bool()
            .unwrap_or(false),
        cluster: cluster.to_owned(),
    }
}

/// `EndpointFilter.Verify` of clusters.go.
fn keeps_host(h: &Host, q: &ProxyConfigQuery) -> bool {
    q.address
        .as_deref()
        .is_none_or(|a| h.address.eq_ignore_ascii_case(a))
        && q.port.is_none_or(|p| h.port == u64::from(p))
        && q.cluster
            .as_deref()
            .is_none_or(|c| h.cluster.eq_ignore_ascii_case(c))
        && q.status
            .as_deref()
            .is_none_or(|st| h.status.eq_ignore_ascii_case(st))
}

fn cluster_statuses(clusters: &Value) -> Vec<&Value> {
    clusters["cluster_statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

fn hosts_of(c: &Value) -> Vec<Host> {
    c["host_statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| host_of(h, s(&c["name"])))
        .collect()
}

/// `PrintEndpoints`: the cluster statuses with a host the filters keep.
pub fn endpoint_clusters(clusters: &Value, q: &ProxyConfigQuery) -> Vec<Value> {
    cluster_statuses(clusters)
        .into_iter()
        .filter(|c| hosts_of(c).iter().any(|h| keeps_host(h, q)))
        .cloned()
        .collect()
}

/// `PrintEndpointsSummary`: a line per host, by address, port and cluster.
pub fn endpoints_table(clusters: &Value, q: &ProxyConfigQuery) -> String {
    let mut hosts: Vec<Host> = cluster_statuses(clusters)
        .into_iter()
        .flat_map(hosts_of)
        .filter(|h| keeps_host(h, q))
        .collect();
    hosts.sort_by(|a, b| (&a.address, a.port, &a.cluster).cmp(&(&b.address, b.port, &b.cluster)));
    let mut rows = vec![cells(&["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"])];
    for h in hosts {
        let endpoint = match h.port {
            0 => h.address,
            p => format!("{}:{p}", h.address),
        };
        let outlier = if h.failed_outlier { "FAILED" } else { "OK" };
        rows.push(vec![endpoint, h.status, outlier.into(), h.cluster]);
    }
    tabwrite(&rows, 5)
}
