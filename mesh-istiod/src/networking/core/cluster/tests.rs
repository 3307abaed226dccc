use serde_json::json;

use super::*;
use crate::fixtures::istio;

fn recommendation() -> Vec<ServiceDef> {
    vec![ServiceDef {
        name: "recommendation".into(),
        port: 8080,
        selector: [("app".to_owned(), "recommendation".to_owned())].into(),
    }]
}

fn pod(version: &str, port: u16) -> Endpoint {
    Endpoint {
        labels: [("app", "recommendation"), ("version", version)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        addr: ([127, 0, 0, 1], port).into(),
        identity: None,
    }
}

fn ports(c: &Value) -> Vec<u64> {
    c["load_assignment"]["endpoints"][0]["lb_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["endpoint"]["address"]["socket_address"]["port_value"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

const R: &str = "recommendation.tutorial.svc.cluster.local";

#[test]
fn a_service_without_a_destination_rule_has_one_cluster_with_istiods_defaults() {
    let cs = mesh_clusters(&[], &recommendation(), &[pod("v1", 1), pod("v2", 2)], None).unwrap();
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    assert_eq!(c["name"], format!("outbound|8080||{R}"));
    assert_eq!(c["lb_policy"], "LEAST_REQUEST");
    assert_eq!(c["connect_timeout"], "10s");
    assert_eq!(
        c["circuit_breakers"]["thresholds"][0]["max_pending_requests"],
        u32::MAX
    );
    assert_eq!(ports(c), [1, 2]);
    assert!(c.get("outlier_detection").is_none());
}

#[test]
fn subsets_select_their_pods_and_the_circuit_breaker_policy_applies_to_each() {
    let cs = mesh_clusters(
        &istio("destination-rule-recommendation-circuit-breaker.yml"),
        &recommendation(),
        &[pod("v1", 1), pod("v2", 2)],
        None,
    )
    .unwrap();
    let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            format!("outbound|8080||{R}"),
            format!("outbound|8080|version-v1|{R}"),
            format!("outbound|8080|version-v2|{R}"),
            format!("outbound|8080|version-v3|{R}"),
        ]
    );
    assert_eq!(ports(&cs[1]), [1]);
    assert_eq!(ports(&cs[2]), [2]);
    assert!(ports(&cs[3]).is_empty(), "no v3 pod: no endpoint");
    for c in &cs {
        let t = &c["circuit_breakers"]["thresholds"][0];
        assert_eq!(
            (
                t["max_connections"].as_u64(),
                t["max_pending_requests"].as_u64()
            ),
            (Some(1), Some(1))
        );
        assert_eq!(
            c["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                ["common_http_protocol_options"]["max_requests_per_connection"],
            1
        );
        assert_eq!(
            c["outlier_detection"],
            json!({"enforcing_success_rate": 0, "consecutive_5xx": 1, "enforcing_consecutive_5xx": 100,
                   "interval": "1s", "base_ejection_time": "180s", "max_ejection_percent": 100})
        );
        assert_eq!(
            c["common_lb_config"]["healthy_panic_threshold"],
            json!({"value": 0})
        );
    }
}

#[test]
fn random_load_balancing_is_envoys_random() {
    let cs = mesh_clusters(
        &istio("destination-rule-recommendation-random.yml"),
        &recommendation(),
        &[],
        None,
    )
    .unwrap();
    assert!(cs.iter().all(|c| c["lb_policy"] == "RANDOM"));
}

#[test]
fn endpoints_with_a_sidecar_take_mutual_tls_and_the_others_plain_text() {
    let certs = CertFiles::in_dir(std::path::Path::new("/lab/customer"));
    let mut v1 = pod("v1", 1);
    v1.identity = Some("spiffe://cluster.local/ns/tutorial/sa/recommendation".into());
    let v3 = pod("v3", 3);
    let cs = mesh_clusters(
        &[],
        &recommendation(),
        &[v1.clone(), v3.clone()],
        Some(&certs),
    )
    .unwrap();
    let c = &cs[0];
    let eps = &c["load_assignment"]["endpoints"][0]["lb_endpoints"];
    assert_eq!(
        eps[0]["metadata"],
        json!({"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}})
    );
    assert!(eps[1].get("metadata").is_none(), "no sidecar: no tlsMode");
    let m = &c["transport_socket_matches"];
    assert_eq!(m[0]["name"], "tlsMode-istio");
    let ctx = &m[0]["transport_socket"]["typed_config"]["common_tls_context"];
    let default = &ctx["tls_certificate_sds_secret_configs"][0];
    assert_eq!(default["name"], "default");
    assert_eq!(
        default["sds_config"]["path_config_source"]["path"],
        "/lab/customer/sds/default.json"
    );
    let validation = &ctx["combined_validation_context"];
    assert_eq!(
        validation["validation_context_sds_secret_config"]["name"],
        "ROOTCA"
    );
    assert_eq!(
        validation["default_validation_context"]["match_typed_subject_alt_names"][0]["matcher"]["exact"],
        "spiffe://cluster.local/ns/tutorial/sa/recommendation"
    );
    // A namespace that disables mTLS: clients send plain text (BestEffortInferServiceMTLSMode).
    let disable = crate::fixtures::parse(
        "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n  name: default\nspec:\n  mtls:\n    mode: DISABLE\n",
    );
    let cs = mesh_clusters(&disable, &recommendation(), &[v1, v3], Some(&certs)).unwrap();
    assert!(cs[0].get("transport_socket_matches").is_none());
}
