//! The egress chapter's outcomes with exact bodies: the mesh-mode files, run.sh, a down time API, an unmeshed v3.

use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::guided::send::requests;

use crate::{http, istio, lab, repo};

pub(crate) const NOW: &str = "2020-04-06T18:31+02:00";

const TIME_URL: &str = "http://worldclockapi.com/api/json/cet/now";

/// The chain's answer when the sidecar gave recommendation v3's time lookup `status` with `body`.
pub(crate) fn mesh_error_line(status: u16, body: &str) -> String {
    let what = recommendation::time_api::describe_status(
        reqwest::StatusCode::from_u16(status).unwrap(),
        &reqwest::header::HeaderMap::new(),
        body.as_bytes(),
    );
    assert!(
        what.starts_with(&format!("the mesh proxy answered {status}")),
        "{what}"
    );
    format!(
        "customer => Error: 503 - preference => Error: 500 - time lookup {TIME_URL} failed: {what}\n"
    )
}

/// The tutorial's egress steps 2-3: recommendation v3 deployed and every request routed to it.
pub(crate) async fn egress_lab() -> (Lab, String) {
    let lab = lab().await;
    for f in [
        repo().join("recommendation/kubernetes/Deployment-v3.yml"),
        istio("destination-rule-recommendation-v1-v2-v3.yml"),
        istio("virtual-service-recommendation-v3.yml"),
    ] {
        lab.apply_file(&f).await.unwrap();
    }
    let v3 = lab.pod_name("recommendation-v3").await.unwrap();
    (lab, v3)
}

#[tokio::test]
async fn every_mesh_config_file_and_sidecar_switches_v3s_egress_and_run_sh_works_unchanged() {
    let (lab, v3) = egress_lab().await;
    let client = http();
    let blocked = mesh_error_line(502, "");
    let mut seen = Vec::new();
    for f in [
        "registry-only-ossm2-smcp-patch.yml",
        "allow-any-ossm2-smcp-patch.yml",
        "registry-only-ossm3-istio-patch.yml",
        "allow-any-ossm3-istio-patch.yml",
        "sidecar-registry-only.yml",
        "sidecar-allow-any.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
        let a = requests(&client, &lab.gateway_url, 1, None).await;
        seen.push((f, a[0].body.clone()));
    }
    let run_sh = repo().join("scripts/run.sh");
    let url = lab.gateway_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg(run_sh)
            .args(["2", &url])
            .output()
            .expect("sh runs")
    })
    .await
    .unwrap();
    lab.stop().await;
    let v3_line =
        |n: u64| format!("customer => preference => recommendation v3 {NOW} from '{v3}': {n}\n");
    let want = [
        blocked.clone(),
        v3_line(2),
        blocked.clone(),
        v3_line(4),
        blocked,
        v3_line(6),
    ];
    for ((f, body), want) in seen.iter().zip(want) {
        assert_eq!(*body, want, "after {f}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, format!("# 0: {}# 1: {}", v3_line(7), v3_line(8)));
}

#[tokio::test]
async fn a_down_time_api_is_the_sidecars_connect_error_and_an_unmeshed_v3_bypasses_registry_only() {
    let (lab, _) = egress_lab().await;
    let client = http();
    lab.fault("down", None).await.unwrap();
    let down = requests(&client, &lab.gateway_url, 1, None).await;
    lab.fault("up", None).await.unwrap();
    lab.set_mode(mesh_istiod::model::sidecar::Mode::RegistryOnly)
        .await
        .unwrap();
    let meshed = requests(&client, &lab.gateway_url, 1, None).await;
    // Without its sidecar, v3's call leaves directly: REGISTRY_ONLY does not see it.
    let v3 = std::fs::read_to_string(repo().join("recommendation/kubernetes/Deployment-v3.yml"))
        .unwrap();
    let without = v3.replace(
        "sidecar.istio.io/inject: \"true\"",
        "sidecar.istio.io/inject: \"false\"",
    );
    lab.apply_text(Path::new("Deployment-v3-noinject.yml"), &without)
        .await
        .unwrap();
    let pod = lab.pod_name("recommendation-v3").await.unwrap();
    let unmeshed = requests(&client, &lab.gateway_url, 1, None).await;
    lab.stop().await;
    assert_eq!(down[0].status, 503);
    assert!(
        down[0].body.contains(
            "the mesh proxy answered 503 upstream connect error or disconnect/reset before headers"
        ),
        "{}",
        down[0].body
    );
    assert_eq!(meshed[0].body, mesh_error_line(502, ""));
    assert_eq!(
        unmeshed[0].body,
        format!("customer => preference => recommendation v3 {NOW} from '{pod}': 1\n")
    );
}

/// `gateways: []` means what an absent `gateways` means (istiod's `getGatewayNames`: the mesh): the egress
/// blog's timeout VirtualService (with its ServiceEntry) written either way cuts a slow time lookup at 3s in
/// v3's sidecar. It is
/// neither refused nor accepted and left untranslated.
#[tokio::test]
async fn an_egress_virtual_service_with_an_empty_gateways_list_takes_effect_as_without() {
    let (lab, _) = egress_lab().await;
    let client = http();
    let file = istio("virtual-service-worldclockapi-timeout.yml");
    let absent = std::fs::read_to_string(&file).unwrap();
    let empty = absent.replace("spec:\n", "spec:\n  gateways: []\n");
    assert_ne!(empty, absent);
    lab.apply_file(&istio("service-entry-egress-worldclockapi.yml"))
        .await
        .unwrap();
    lab.fault("slow", None).await.unwrap();
    let mut bodies = Vec::new();
    for text in [&absent, &empty] {
        lab.apply_text(
            Path::new("istio/virtual-service-worldclockapi-timeout.yml"),
            text,
        )
        .await
        .unwrap();
        bodies.push(
            requests(&client, &lab.gateway_url, 1, None).await[0]
                .body
                .clone(),
        );
        lab.delete("virtualservice", "worldclockapi-timeout")
            .await
            .unwrap();
    }
    lab.stop().await;
    let timed_out = mesh_error_line(504, "upstream request timeout");
    assert_eq!(bodies, [timed_out.clone(), timed_out]);
}
