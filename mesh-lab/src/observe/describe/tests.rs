use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::render::{Facts, Ingress, PodFacts, describe};
use super::{exposed, istio_proxy};
use mesh_istiod::model::registry;
use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::core::v1::{Container, ContainerPort};

/// The objects of the repository's files (`istio/…`, `recommendation/kubernetes/…`).
fn load(files: &[&str]) -> Vec<Resource> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    files
        .iter()
        .flat_map(|f| mesh_manifests::load_file(root.join(f)).unwrap())
        .map(|d| d.resource)
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn app_container(name: &str) -> Container {
    Container {
        name: name.into(),
        ports: Some(vec![ContainerPort {
            container_port: 8080,
            name: Some("http".into()),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        ..Container::default()
    }
}

const REC: &str = "recommendation.tutorial.svc.cluster.local";
const DR_PATH: &str = "/apis/networking.istio.io/v1/namespaces/tutorial/destination-rule/";
const VS_PATH: &str = "/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/";

fn meta(path: &str) -> Value {
    json!({"filter_metadata": {"istio": {"config": path}}})
}

/// A sidecar's config dump as Envoy's admin gives it: recommendation's clusters shaped by DestinationRule
/// `dr`, its route by VirtualService `vs` (a 90/10 split), and `rbac` in the inbound listener by ECDS.
fn sidecar_dump(dr: &str, vs: &str, rbac: Value) -> Value {
    let cluster = |subset: &str| {
        json!({"cluster": {"name": format!("outbound|8080|{subset}|{REC}"),
            "metadata": meta(&format!("{DR_PATH}{dr}"))}})
    };
    let split = json!({"weighted_clusters": {"clusters": [
        {"name": format!("outbound|8080|version-v1|{REC}"), "weight": 90},
        {"name": format!("outbound|8080|version-v2|{REC}"), "weight": 10}]}});
    let hcm = json!({"@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "http_filters": [{"name": "envoy.filters.http.rbac.deny", "config_discovery": {}},
            {"name": "envoy.filters.http.rbac.allow", "config_discovery": {}},
            {"name": "envoy.filters.http.router"}]});
    json!({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": [
            {"cluster": {"name": "outbound|8080||customer.tutorial.svc.cluster.local"}},
            cluster("version-v1"), cluster("version-v2"), cluster("")]},
        {"@type": "type.googleapis.com/envoy.admin.v3.EcdsConfigDump", "ecds_filters": [
            {"ecds_filter": {"name": "envoy.filters.http.rbac.deny", "typed_config": {}}},
            {"ecds_filter": {"name": "envoy.filters.http.rbac.allow", "typed_config": rbac}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", "dynamic_listeners": [
            {"name": "virtualInbound", "active_state": {"listener": {"name": "virtualInbound",
                "filter_chains": [{"filters": [{"typed_config": hcm}]}]}}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", "dynamic_route_configs": [
            {"route_config": {"name": "8080", "virtual_hosts": [{"name": format!("{REC}:8080"),
                "domains": [REC, "recommendation"],
                "routes": [{"match": {"prefix": "/"}, "route": split,
                    "metadata": meta(&format!("{VS_PATH}{vs}"))}]}]}}]}
    ]})
}

/// The gateway's dump: `http.80` routing `/customer` and `/` to customer, both from customer-gateway.
fn gateway_dump() -> Value {
    let route = |prefix: &str| {
        json!({"match": {"prefix": prefix},
            "route": {"cluster": "outbound|8080||customer.tutorial.svc.cluster.local"},
            "metadata": meta(&format!("{VS_PATH}customer-gateway"))})
    };
    json!({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
        "dynamic_route_configs": [{"route_config": {"name": "http.80", "virtual_hosts": [
            {"name": "*:80", "domains": ["*"], "routes": [route("/customer"), route("/")]}]}}]}]})
}

fn facts(pod: &str, pod_labels: &[(&str, &str)], objects: &[&str], dump: Value) -> Facts {
    let services = load(&[
        "customer/kubernetes/Service.yml",
        "recommendation/kubernetes/Service.yml",
    ]);
    let app = pod_labels
        .iter()
        .find(|(k, _)| *k == "app")
        .map_or("app", |(_, v)| *v);
    Facts {
        pod: PodFacts {
            name: pod.into(),
            labels: labels(pod_labels),
            revision: "default".into(),
            containers: vec![app_container(app), istio_proxy()],
            run_as_user: None,
        },
        services: registry::services(&services).unwrap(),
        objects: load(objects),
        dump,
        ingress: None,
        docs_version: "v1.30".into(),
    }
}

const V1: &[(&str, &str)] = &[("app", "recommendation"), ("version", "v1")];
const SPLIT: &[&str] = &[
    "istio/destination-rule-recommendation-v1-v2.yml",
    "istio/virtual-service-recommendation-v1-v2-90-10.yml",
];

#[test]
fn the_v1_pod_of_the_90_10_split_shows_its_subset_and_weight() {
    let f = facts(
        "recommendation-v1-abc",
        V1,
        SPLIT,
        sidecar_dump("recommendation", "recommendation", json!({})),
    );

    let text = describe(&f);

    assert_eq!(
        text,
        "Pod: recommendation-v1-abc\n   Pod Revision: default\n\
         \x20  Pod Ports: 8080 (recommendation), 15090 (istio-proxy)\n\
         --------------------\n\
         Service: recommendation\n   Port: http 8080/HTTP targets pod port 8080\n\
         DestinationRule: recommendation for \"recommendation\"\n\
         \x20  Matching subsets: version-v1\n      (Non-matching subsets version-v2)\n\
         \x20  No Traffic Policy\n\
         VirtualService: recommendation\n\
         \x20  Route to host \"recommendation\" subset \"version-v1\" with weight 90%\n\
         --------------------\n\
         Effective PeerAuthentication:\n   Workload mTLS mode: PERMISSIVE\n\
         Skipping Gateway information (no ingress gateway pods)\n"
    );
}

#[test]
fn a_route_to_a_subset_no_destination_rule_defines_is_warned_of() {
    let objects = [
        "istio/destination-rule-recommendation-v1-v2.yml",
        "istio/virtual-service-recommendation-v3.yml",
    ];
    let f = facts(
        "recommendation-v1-abc",
        V1,
        &objects,
        sidecar_dump("recommendation", "recommendation", json!({})),
    );

    let text = describe(&f);

    assert!(
        text.contains(
            "VirtualService: recommendation\n\
             \x20  WARNING: No destinations match pod subsets (checked 1 HTTP routes)\n\
             \x20     Warning: Route to UNKNOWN subset version-v3; check DestinationRule recommendation\n"
        ),
        "{text}"
    );
}

#[test]
fn the_rbac_policies_and_peer_authentication_are_those_the_pod_has() {
    let mut objects = SPLIT.to_vec();
    objects.push("istio/peer-authentication-tutorial-strict.yml");
    let rbac = json!({"rules": {"policies": {"ns[tutorial]-policy[recommendation]-rule[0]": {},
        "ns[tutorial]-policy[deny-all]-rule[0]": {}}}});
    let f = facts(
        "recommendation-v1-abc",
        V1,
        &objects,
        sidecar_dump("recommendation", "recommendation", rbac),
    );

    let text = describe(&f);

    let tail = "RBAC policies: ns[tutorial]-policy[deny-all]-rule[0], ns[tutorial]-policy[recommendation]-rule[0]\n\
                --------------------\n\
                Effective PeerAuthentication:\n   Workload mTLS mode: STRICT\n\
                Applied PeerAuthentication:\n   default.tutorial\n";
    assert!(text.contains(tail), "{text}");
}

#[test]
fn an_object_the_proxy_names_but_the_lab_lacks_is_a_stale_proxy() {
    let f = facts(
        "recommendation-v1-abc",
        V1,
        SPLIT,
        sidecar_dump("gone", "recommendation", json!({})),
    );

    let text = describe(&f);

    assert!(
        text.contains(
            "Port: http 8080/HTTP targets pod port 8080\n\
             WARNING: Proxy is stale; it references to non-existent destination rule gone.tutorial\n\
             VirtualService: recommendation\n\
             \x20  WARNING: No destinations match pod subsets (checked 1 HTTP routes)\n\
             \x20     Warning: Route to subset version-v1 but NO DESTINATION RULE defining subsets!\n"
        ),
        "{text}"
    );
}

#[test]
fn the_gateway_section_names_where_it_is_exposed_and_its_virtual_service() {
    let mut f = facts(
        "customer-abc",
        &[("app", "customer"), ("version", "v1")],
        &["kubernetes/app/customer-gateway.yml"],
        json!({"configs": []}),
    );
    f.ingress = Some(Ingress {
        exposed: exposed("http://127.0.0.1:8080/"),
        dump: gateway_dump(),
    });

    let text = describe(&f);

    assert!(
        text.ends_with(
            "Effective PeerAuthentication:\n   Workload mTLS mode: PERMISSIVE\n\
             --------------------\n\
             Exposed on Ingress Gateway http://127.0.0.1:8080\n\
             VirtualService: customer-gateway\n   Match: /customer*\n"
        ),
        "{text}"
    );
    assert_eq!(exposed("http://127.0.0.1:80/"), "http://127.0.0.1");
}

#[test]
fn a_pod_without_service_or_telemetry_labels_gets_istioctls_advice() {
    let f = facts("lonely-abc", &[("team", "x")], &[], json!({"configs": []}));

    let text = describe(&f);

    let url = "https://istio.io/v1.30/docs/ops/deployment/requirements/";
    assert_eq!(
        text.lines().take(7).collect::<Vec<_>>(),
        [
            "Pod: lonely-abc",
            "   Pod Revision: default",
            "   Pod Ports: 8080 (app), 15090 (istio-proxy)",
            &format!("Suggestion: add required service name label for Istio telemetry. See {url}."),
            &format!(
                "Suggestion: add required service revision label for Istio telemetry. See {url}."
            ),
            "Warning: No Kubernetes Services select pod lonely-abc (see https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )",
            "--------------------",
        ]
    );
}

#[test]
fn a_fault_prints_as_its_proto_text() {
    let fault = json!({"delay": {"fixedDelay": "7s", "percentage": {"value": 50.0}},
        "abort": {"percentage": {"value": 50}, "httpStatus": 503}});

    assert_eq!(
        super::prototext::fault(&fault),
        "delay:{fixed_delay:{seconds:7} percentage:{value:50}} abort:{http_status:503 percentage:{value:50}}"
    );
    assert_eq!(
        super::prototext::string_match(&json!({"regex": ".*Safari.*"})),
        "regex:\".*Safari.*\""
    );
}
