//! Pods from the Deployments: names, the gateway's two paths, injection, patch and delete, the control endpoint.

use std::path::Path;
use std::time::Duration;

use mesh_lab::guided::send::{chain_prefix, requests};

use crate::served::Served;
use crate::{http, istio, lab, repo};

#[tokio::test]
async fn gateway_serves_root_and_customer_with_cluster_like_pod_names() {
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let show = lab.show().await.unwrap();
    let json = serde_json::to_value(&show).unwrap();
    crate::only_v1(&lab).await;
    let client = http();
    let root = requests(&client, &lab.gateway_url, 1, None).await;
    let customer = requests(&client, &format!("{}customer", lab.gateway_url), 1, None).await;
    lab.stop().await;
    assert_eq!(root[0].body, format!("{}1\n", chain_prefix("v1", &v1)));
    assert_eq!(customer[0].body, format!("{}2\n", chain_prefix("v1", &v1)));
    let parts: Vec<&str> = v1.rsplitn(3, '-').collect();
    assert!(
        v1.starts_with("recommendation-v1-") && parts[0].len() == 5 && parts[1].len() == 10,
        "{v1}"
    );
    let workloads = json["workloads"].as_array().unwrap();
    let names: Vec<&str> = workloads
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "customer",
            "preference-v1",
            "recommendation-v1",
            "recommendation-v2"
        ]
    );
    for w in workloads {
        assert_eq!(w["ready"], "2/2", "{w}");
        assert!(w["app"].as_str().unwrap().starts_with("127.0.0.1:"), "{w}");
        assert!(
            w["inbound"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{w}"
        );
        assert!(w["labels"]["app"].is_string(), "{w}");
    }
}

#[tokio::test]
async fn a_pod_without_the_inject_label_runs_1_of_1_and_the_label_fix_restarts_it_2_of_2() {
    let lab = lab().await;
    let v3 = std::fs::read_to_string(repo().join("recommendation/kubernetes/Deployment-v3.yml"))
        .unwrap();
    // The blog's file: a pod template that does not ask for a sidecar.
    let without = v3.replacen("        sidecar.istio.io/inject: \"true\"\n", "", 1);
    assert_ne!(
        without, v3,
        "Deployment-v3.yml requests a sidecar by pod label"
    );
    lab.apply_text(Path::new("Deployment-v3-noinject.yml"), &without)
        .await
        .unwrap();
    let before = lab.show().await.unwrap();
    let row = before
        .workloads
        .iter()
        .find(|w| w.name == "recommendation-v3")
        .unwrap()
        .clone();
    // The fix: the inject label back on the pod template (the webhook selects by it).
    let label_fix = without.replacen(
        "      labels:\n        app: recommendation\n        version: v3\n",
        "      labels:\n        app: recommendation\n        version: v3\n        sidecar.istio.io/inject: \"true\"\n",
        1,
    );
    assert_ne!(
        label_fix, without,
        "the pod template has the labels block this test patches"
    );
    lab.apply_text(Path::new("Deployment-v3-label.yml"), &label_fix)
        .await
        .unwrap();
    let after = lab.show().await.unwrap();
    let deleted = lab.delete("deployment", "recommendation-v3").await.unwrap();
    let gone = lab.show().await.unwrap();
    lab.stop().await;
    assert_eq!(deleted, "deployment.apps \"recommendation-v3\" deleted");
    assert!(
        !gone.workloads.iter().any(|w| w.name == "recommendation-v3"),
        "{:?}",
        gone.workloads
    );
    assert_eq!(row.ready, "1/1");
    assert!(row.inbound.is_none());
    assert!(
        before
            .notes
            .iter()
            .any(|n| n.contains(&row.pod) && n.contains("bypass the mesh")),
        "{:?}",
        before.notes
    );
    let fixed = after
        .workloads
        .iter()
        .find(|w| w.name == "recommendation-v3")
        .unwrap();
    assert_eq!(fixed.ready, "2/2");
    assert_ne!(fixed.pod, row.pod, "a new pod template, a new pod");
}

#[tokio::test]
async fn the_control_endpoint_drives_the_lab_like_the_cli() {
    let served = Served::start().await;
    let (lab, c) = (served.lab.clone(), served.client());
    let dr = c
        .apply(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let vs = c
        .apply(&istio("virtual-service-recommendation-v2.yml"))
        .await
        .unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let a = requests(&http(), &lab.gateway_url, 2, None).await;
    let logs = c.logs("recommendation-v2").await.unwrap();
    let customer_logs = c.logs("customer").await.unwrap();
    let to_v2 = |t: &serde_json::Value| {
        t["proxy"] == "preference-v1"
            && t["cluster"] == "outbound|8080|version-v2|recommendation.tutorial.svc.cluster.local"
            && t["requests"] == 2
    };
    // Envoy flushes its access log every 50 ms: poll, bounded.
    let mut json = serde_json::Value::Null;
    for _ in 0..100 {
        json = serde_json::from_str(&c.show(true).await.unwrap()).unwrap();
        if json["traffic"].as_array().unwrap().iter().any(to_v2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deleted = c.delete("vs", "recommendation").await.unwrap();
    let missing = c
        .delete("vs", "recommendation")
        .await
        .unwrap_err()
        .to_string();
    served.stop().await;
    assert_eq!(
        dr.trim(),
        "destinationrule.networking.istio.io/recommendation created"
    );
    assert_eq!(
        vs.trim(),
        "virtualservice.networking.istio.io/recommendation created"
    );
    assert_eq!(a[1].body, format!("{}2\n", chain_prefix("v2", &v2)));
    assert!(
        logs.contains(&format!("recommendation request from {v2}: 2")),
        "{logs}"
    );
    assert!(
        customer_logs.contains("customer listening on 127.0.0.1:"),
        "{customer_logs}"
    );
    let traffic = json["traffic"].as_array().unwrap();
    assert!(
        traffic.iter().any(|t| t["proxy"] == "preference-v1"
            && t["cluster"]
                == "outbound|8080|version-v2|recommendation.tutorial.svc.cluster.local"
            && t["requests"] == 2),
        "{traffic:?}"
    );
    assert_eq!(
        deleted.trim(),
        "virtualservice.networking.istio.io \"recommendation\" deleted"
    );
    assert!(missing.contains("NotFound"), "{missing}");
}

#[tokio::test]
async fn a_relay_without_a_sidecar_calls_the_service_through_kube_proxy_past_the_mesh() {
    let lab = lab().await;
    let text =
        std::fs::read_to_string(repo().join("preference/kubernetes/Deployment.yml")).unwrap();
    let without = text.replace(
        "sidecar.istio.io/inject: \"true\"",
        "sidecar.istio.io/inject: \"false\"",
    );
    assert_ne!(without, text, "preference's Deployment requests a sidecar");
    let logged = |log: Vec<mesh_lab::dataplane::envoy::AccessLogEntry>| log.len();
    let before = logged(lab.proxy_log("recommendation-v1", "virtualInbound").await)
        + logged(lab.proxy_log("recommendation-v2", "virtualInbound").await);
    lab.apply_text(Path::new("preference-noinject.yml"), &without)
        .await
        .unwrap();
    let a = requests(&http(), &lab.gateway_url, 6, None).await;
    // The recommendation pods' sidecars see the calls arrive at the ClusterIP, not with the Host
    // `recommendation:8080` preference's sidecar would have set (bounded wait for the log flush).
    let mut hosts = Vec::new();
    for _ in 0..150 {
        let mut log = lab.proxy_log("recommendation-v1", "virtualInbound").await;
        log.extend(lab.proxy_log("recommendation-v2", "virtualInbound").await);
        if log.len() >= before + 6 {
            hosts = log
                .iter()
                .filter_map(|e| e.authority.clone())
                .collect::<Vec<_>>();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let show = lab.show().await.unwrap();
    lab.stop().await;
    for r in &a {
        assert!(
            r.body
                .starts_with("customer => preference => recommendation v"),
            "{}",
            r.body
        );
    }
    let pref = show
        .workloads
        .iter()
        .find(|w| w.name == "preference-v1")
        .unwrap();
    assert_eq!(pref.ready, "1/1");
    let via_cluster_ip = hosts.iter().filter(|h| h.starts_with("127.0.0.1:")).count();
    assert!(via_cluster_ip >= 6, "{hosts:?}");
}
