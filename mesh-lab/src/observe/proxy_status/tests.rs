use super::*;
use crate::xds::Nack;

fn acked(nonce: &str) -> TypeStatus {
    TypeStatus {
        sent_version: Some(3),
        sent_nonce: nonce.into(),
        acked_version: Some(3),
        acked_nonce: nonce.into(),
        ..TypeStatus::default()
    }
}

fn proxy(node: &str, status: Vec<(&'static str, TypeStatus)>) -> ProxyStatus {
    ProxyStatus {
        node: node.into(),
        status: status.into_iter().collect(),
    }
}

fn lab() -> Vec<ProxyStatus> {
    let nacked = TypeStatus {
        sent_version: Some(4),
        sent_nonce: "9".into(),
        acked_version: Some(3),
        acked_nonce: "5".into(),
        nack: Some(Nack {
            version: 4,
            nonce: "9".into(),
            message: "regex 'x' RE2 program size of 40004 > max program size of 32768".into(),
        }),
        ..TypeStatus::default()
    };
    vec![
        proxy(
            "sidecar~127.0.0.1~recommendation-v1-abc12-x9z8y.tutorial~tutorial.svc.cluster.local",
            vec![
                (CLUSTER, acked("1")),
                (LISTENER, acked("2")),
                (ROUTE, nacked),
            ],
        ),
        proxy("kube-proxy", vec![(CLUSTER, acked("3"))]),
        proxy(
            "router~127.0.0.1~istio-ingressgateway.istio-system~istio-system.svc.cluster.local",
            vec![
                (CLUSTER, acked("6")),
                (
                    LISTENER,
                    TypeStatus {
                        sent_nonce: "7".into(),
                        sent_version: Some(1),
                        ..TypeStatus::default()
                    },
                ),
                (ROUTE, acked("8")),
            ],
        ),
    ]
}

#[test]
fn the_table_is_istioctls_with_each_nack_and_its_reason_below() {
    assert_eq!(
        table(&lab(), "1.20"),
        "NAME                                       CLUSTER        CDS        LDS                            EDS          RDS        ECDS         ISTIOD       VERSION\n\
         istio-ingressgateway.istio-system          Kubernetes     SYNCED     STALE (Never Acknowledged)     NOT SENT     SYNCED     NOT SENT     mesh-lab     1.20\n\
         recommendation-v1-abc12-x9z8y.tutorial     Kubernetes     SYNCED     SYNCED                         NOT SENT     STALE      NOT SENT     mesh-lab     1.20\n\
         \n\
         Rejected by Envoy (NACK); what it rejected stays as it was:\n  \
         recommendation-v1-abc12-x9z8y.tutorial RDS (version 4): regex 'x' RE2 program size of 40004 > max program size of 32768\n"
    );
}

#[test]
fn json_is_a_client_config_per_mesh_proxy_with_the_nack_as_an_error_state() {
    let j = json(&lab(), "1.20");
    let resources = j["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "kube-proxy is not a mesh proxy: {j}");
    let rec = &resources[1];
    assert_eq!(rec["node"]["id"], "recommendation-v1-abc12-x9z8y.tutorial");
    assert_eq!(rec["node"]["metadata"]["NAMESPACE"], "tutorial");
    let rds = rec["genericXdsConfigs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["typeUrl"] == ROUTE)
        .unwrap();
    assert_eq!(rds["configStatus"], "ERROR");
    assert!(
        rds["errorState"]["details"]
            .as_str()
            .unwrap()
            .contains("40004")
    );
    let gw_lds = &resources[0]["genericXdsConfigs"][1];
    assert_eq!(gw_lds["configStatus"], "STALE");
}

#[test]
fn proxy_ids_are_istiods() {
    assert_eq!(
        proxy_id("sidecar~127.0.0.1~customer-1.tutorial~tutorial.svc.cluster.local"),
        Some("customer-1.tutorial")
    );
    assert_eq!(proxy_id("kube-proxy"), None);
}
