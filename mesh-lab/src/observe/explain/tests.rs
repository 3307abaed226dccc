//! The explanations without a lab: facts from the repository's istio/ files, a proxy's configuration as
//! JSON, access-log entries as Envoy writes them.

use std::collections::BTreeMap;

use serde_json::json;

use super::facts::{Facts, Object, PodFacts, shipped};
use super::*;

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The facts after applying these istio/ files, with pods of these (Deployment, version) running.
fn facts(files: &[&str], pods: &[(&str, &str, &str)]) -> Facts {
    let mut applied = Vec::new();
    for f in files {
        let docs = mesh_manifests::load_file(repo().join("istio").join(f)).unwrap();
        applied.extend(
            docs.iter()
                .filter_map(|d| Object::of(&d.resource, (*f).to_owned())),
        );
    }
    Facts {
        applied,
        shipped: shipped(&repo()),
        pods: pods
            .iter()
            .map(|(d, app, v)| PodFacts {
                deployment: (*d).into(),
                pod: format!("{d}-1"),
                labels: BTreeMap::from([
                    ("app".into(), (*app).into()),
                    ("version".into(), (*v).into()),
                ]),
                addrs: vec![format!("127.0.0.1:1{}", d.len())],
            })
            .collect(),
        policies: BTreeMap::new(),
        fault: None,
    }
}

fn entry(
    listener: &str,
    authority: &str,
    path: &str,
    code: u16,
    flags: &str,
    cluster: &str,
) -> AccessLogEntry {
    AccessLogEntry {
        listener: Some(listener.into()),
        authority: Some(authority.into()),
        path: Some(path.into()),
        response_code: Some(code),
        response_flags: Some(flags.into()),
        upstream_cluster: Some(cluster.into()),
        ..AccessLogEntry::default()
    }
}

fn sidecar_routes() -> Vec<Value> {
    vec![json!({"name": "8080", "virtual_hosts": [
        {"name": "recommendation.tutorial.svc.cluster.local:8080",
         "domains": ["recommendation.tutorial.svc.cluster.local", "recommendation", "recommendation:8080"],
         "routes": [{"match": {"prefix": "/"}, "route": {"cluster": V3}}]},
        {"name": "allow_any", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]},
    ]})]
}

const V3: &str = "outbound|8080|version-v3|recommendation.tutorial.svc.cluster.local";
const OUT: &str = "outbound_0.0.0.0_8080";

#[test]
fn nc_without_a_logged_cluster_names_the_routes_missing_cluster_and_the_file_defining_the_subset() {
    let f = facts(&["destination-rule-recommendation-v1-v2.yml"], &[]);
    let rcs = sidecar_routes();
    let p = Proxy {
        name: "preference-v1",
        route_configs: rcs.clone(),
        clusters: vec!["PassthroughCluster".into()],
    };
    let x = explain(
        &f,
        &p,
        &entry(OUT, "recommendation:8080", "/", 503, "NC", "-"),
    )
    .unwrap();
    assert_eq!(x.cluster, V3);
    assert_eq!(
        x.route,
        format!("[recommendation.tutorial.svc.cluster.local:8080] -> {V3}")
    );
    assert_eq!(
        x.fix,
        "DestinationRule recommendation defines only [version-v1, version-v2]; fix: mesh-lab apply -f \
         istio/destination-rule-recommendation-v1-v2-v3.yml (defines subset version-v3)"
    );
    assert!(
        x.line()
            .starts_with("preference-v1's sidecar: 503 NC (no cluster: "),
        "{}",
        x.line()
    );
}

#[test]
fn nr_names_the_proxys_virtual_hosts() {
    let f = facts(&[], &[]);
    let rcs = vec![
        json!({"name": "8080", "virtual_hosts": [{"name": "customer:8080", "domains": ["customer"], "routes": []}]}),
    ];
    let p = Proxy {
        name: "customer",
        route_configs: rcs.clone(),
        clusters: vec![],
    };
    let x = explain(&f, &p, &entry(OUT, "nowhere:8080", "/x", 404, "NR", "-")).unwrap();
    assert_eq!(x.route, "(no virtual host)");
    assert_eq!(
        x.fix,
        "no route of customer matches Host nowhere:8080 path /x (its virtual hosts: customer:8080); fix: call a \
         host and path a VirtualService routes, or add a route for them"
    );
}

#[test]
fn static_notes_say_what_a_virtual_service_to_a_missing_or_empty_subset_will_get() {
    let f = facts(
        &["virtual-service-recommendation-v3.yml"],
        &[("recommendation-v1", "recommendation", "v1")],
    );
    assert_eq!(
        static_notes(&f),
        [
            "VirtualService recommendation routes to subset version-v3 of recommendation, which no DestinationRule \
          defines: requests get 503 NC (no cluster) and an empty body; no DestinationRule for recommendation is \
          applied; fix: mesh-lab apply -f istio/destination-rule-recommendation-v1-v2-v3.yml (defines subset \
          version-v3)"
        ]
    );
    let f = facts(
        &[
            "virtual-service-recommendation-v3.yml",
            "destination-rule-recommendation-v1-v2-v3.yml",
        ],
        &[("recommendation-v1", "recommendation", "v1")],
    );
    assert_eq!(
        static_notes(&f),
        [
            "VirtualService recommendation routes to subset version-v3 of recommendation, which no running pod \
          carries the labels of: requests get 503 UH (no healthy upstream); no pod of subset version-v3 of \
          recommendation runs; fix: mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml (its pods carry \
          those labels)"
        ]
    );
    let f = facts(
        &[
            "virtual-service-recommendation-v3.yml",
            "destination-rule-recommendation-v1-v2-v3.yml",
        ],
        &[("recommendation-v3", "recommendation", "v3")],
    );
    assert_eq!(
        static_notes(&f),
        Vec::<String>::new(),
        "a pod runs: nothing to say"
    );
}

#[test]
fn an_external_host_without_a_service_entry_gets_the_shipped_one() {
    let f = facts(&[], &[]);
    assert_eq!(
        rules::no_cluster(&f, "outbound|80||worldclockapi.com"),
        "no ServiceEntry declares worldclockapi.com; fix: mesh-lab apply -f \
         istio/service-entry-egress-worldclockapi.yml (declares worldclockapi.com on port 80)"
    );
    assert_eq!(
        rules::no_cluster(&f, "outbound|443||example.org"),
        "no ServiceEntry declares example.org; fix: apply a ServiceEntry declaring example.org on port 443"
    );
}

#[test]
fn a_subset_no_shipped_file_defines_says_what_to_write_and_a_defined_one_says_it_is_defined_now() {
    let f = facts(&["destination-rule-recommendation-v1-v2.yml"], &[]);
    assert_eq!(
        rules::missing_subset(&f, "recommendation", "version-v9"),
        "DestinationRule recommendation defines only [version-v1, version-v2]; fix: apply a DestinationRule for \
         host recommendation with a subset named version-v9 whose labels select its pods"
    );
    assert_eq!(
        rules::missing_subset(&f, "recommendation", "version-v2"),
        "DestinationRule recommendation defines subset version-v2 now (it was applied after these requests)"
    );
}

#[test]
fn entries_alike_are_counted_once_and_answers_without_a_reason_are_left_out() {
    let f = facts(&[], &[]);
    let rcs = sidecar_routes();
    let p = Proxy {
        name: "preference-v1",
        route_configs: rcs.clone(),
        clusters: vec![],
    };
    let log = [
        entry(OUT, "recommendation:8080", "/", 503, "NC", "-"),
        entry(OUT, "recommendation:8080", "/", 200, "-", V3),
        entry(OUT, "recommendation:8080", "/", 503, "NC", "-"),
        entry(
            "virtualInbound",
            "preference:8080",
            "/",
            503,
            "DC",
            "inbound|8080||",
        ),
    ];
    let x = explain_log(&f, &p, &log);
    assert_eq!(
        x.iter()
            .map(|e| (e.why.flag.as_str(), e.requests))
            .collect::<Vec<_>>(),
        [("NC", 2), ("DC", 1)]
    );
    assert_eq!(
        (x[1].route.as_str(), x[1].cluster.as_str()),
        ("inbound", "inbound|8080||")
    );
    assert_eq!(
        x[1].fix,
        "the caller gave up first (its own timeout, or a route timeout at the calling proxy: look for its UT); nothing to fix at this proxy"
    );
}
