//! The ingress gateway's hosts and selector on the real Envoy, as istiod builds `http.80`: the shipped
//! `kubernetes/app/customer-gateway.yml` (server and VirtualService hosts `*`) answers every Host; a Gateway
//! for `customer.example.com` narrows the same `*` VirtualService to that host (any other Host: 404); a
//! Gateway whose selector misses the ingress gateway's labels configures nothing (404).

use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::guided::send::chain_prefix;

use crate::{http, lab, only_v1};

/// One request through the gateway with this Host header: status and body.
async fn get(lab: &Lab, host: &str) -> (u16, String) {
    let r = http()
        .get(format!("{}customer", lab.gateway_url))
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .expect("the gateway answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Replaces the shipped Gateway `customer-gateway` (the shipped VirtualService, hosts `*`, stays bound to it).
async fn gateway(lab: &Lab, selector: &str, hosts: &str) {
    let yaml = format!(
        "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: customer-gateway}}
spec:
  selector: {selector}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: {hosts}
"
    );
    lab.apply_text(Path::new("customer-gateway.yml"), &yaml)
        .await
        .unwrap();
}

/// Every answer is a chain line from the v1 pod, counting from `first`.
fn assert_chain(answers: &[(u16, String)], pod: &str, first: u64, what: &str) {
    for (i, (status, body)) in answers.iter().enumerate() {
        let want = format!("{}{}\n", chain_prefix("v1", pod), first + i as u64);
        assert_eq!((*status, body.as_str()), (200, want.as_str()), "{what} {i}");
    }
}

#[tokio::test]
async fn a_gateway_server_host_narrows_the_star_virtual_service_to_that_host() {
    let lab = lab().await;
    let pod = only_v1(&lab).await;
    let shipped = [
        get(&lab, "customer.example.com").await,
        get(&lab, "other.example.com").await,
        get(&lab, "localhost").await,
    ];
    gateway(&lab, "{istio: ingressgateway}", "[customer.example.com]").await;
    let named = get(&lab, "customer.example.com").await;
    let other = [
        get(&lab, "other.example.com").await,
        get(&lab, "localhost").await,
    ];
    let again = get(&lab, "Customer.Example.com:8080").await;
    lab.stop().await;
    assert_chain(&shipped, &pod, 1, "the shipped Gateway (hosts *), any Host");
    assert_chain(&[named, again], &pod, 4, "customer.example.com");
    for (status, body) in other {
        assert_eq!(
            (status, body.as_str()),
            (404, ""),
            "a Host the Gateway does not serve"
        );
    }
}

#[tokio::test]
async fn a_gateway_whose_selector_misses_the_ingress_gateway_does_not_configure_it() {
    let lab = lab().await;
    let pod = only_v1(&lab).await;
    gateway(&lab, "{istio: my-ingressgateway}", "['*']").await;
    let missed = get(&lab, "customer.example.com").await;
    gateway(&lab, "{app: istio-ingressgateway}", "['*']").await;
    let selected = get(&lab, "customer.example.com").await;
    lab.stop().await;
    assert_eq!(
        (missed.0, missed.1.as_str()),
        (404, ""),
        "istio: my-ingressgateway"
    );
    assert_chain(&[selected], &pod, 1, "app: istio-ingressgateway");
}
