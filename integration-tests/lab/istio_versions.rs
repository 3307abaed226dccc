//! `mesh-lab up --istio RELEASE` as a real process: the retry chapter's difference between releases. With
//! recommendation v2 misbehaving and no rule, current istiod's default retry policy leaves v2's 503 to the
//! client; Istio 1.20's (OpenShift Service Mesh 2.6) retries it on v1, so every answer is v1's. Exact
//! bodies; the retries from preference's sidecar access log as `mesh-lab logs` prints it.

use std::process::Output;
use std::time::Duration;

use integration_tests::process::{Proc, run_to_end};
use mesh_lab::dataplane::envoy::AccessLogEntry;
use mesh_lab::guided::send::{Answer, requests};
use serde_json::Value;

use crate::http;
use crate::routing::{PREFERENCE_OUT, tally};

const N: usize = 20;

/// `mesh-lab up --istio …` on free ports, once it serves.
struct Up {
    proc: Proc,
    control: String,
}

impl Up {
    fn start(options: &[&str]) -> Self {
        tutorial_common::boot::install_crypto_provider();
        let control = crate::process::free_control();
        let proc = crate::process::up_on(&control, 0, options);
        proc.wait_for_line("Ctrl-C stops the lab", Duration::from_secs(90));
        Self { proc, control }
    }

    /// `mesh-lab ARGS…` against this lab.
    fn run(&self, args: &[&str]) -> Output {
        run_to_end(
            "mesh-lab",
            args,
            &[(mesh_lab::cli::control::ENV_CONTROL, &self.control)],
        )
    }

    fn show(&self) -> Value {
        let out = self.run(&["show", "--json"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// preference's outbound calls to recommendation, once `n` are in its sidecar's access log.
    fn preference_calls(&self, n: usize) -> Vec<AccessLogEntry> {
        let (proxy, listener) = PREFERENCE_OUT;
        let pod = format!("deploy/{}", proxy);
        integration_tests::wait::until(
            "preference's outbound calls in its access log",
            Duration::from_secs(20),
            || {
                let out = self.run(&["logs", &pod, "-c", "istio-proxy"]);
                let calls: Vec<AccessLogEntry> = String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .filter_map(|l| serde_json::from_str::<AccessLogEntry>(l).ok())
                    .filter(|e| e.listener.as_deref() == Some(listener))
                    .collect();
                (calls.len() >= n).then_some(calls)
            },
        )
    }

    fn stop(mut self) {
        self.proc.signal("INT");
        let status = self.proc.wait_exit(Duration::from_secs(30));
        assert!(status.success(), "{status:?}");
    }
}

fn pod(show: &Value, deployment: &str) -> (String, String) {
    let w = show["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == deployment)
        .unwrap_or_else(|| panic!("{deployment} in {show}"));
    (
        w["pod"].as_str().unwrap().to_owned(),
        w["app"].as_str().unwrap().to_owned(),
    )
}

/// Starts the lab with `options`, makes v2 misbehave and sends `N` requests through the gateway.
async fn misbehaving_v2(options: &[&str]) -> (Up, Vec<Answer>, String, String, String) {
    let up = Up::start(options);
    let show = up.show();
    let (v1, _) = pod(&show, "recommendation-v1");
    let (v2, v2_app) = pod(&show, "recommendation-v2");
    crate::misbehave_at(&v2_app).await;
    let gateway = show["gateway_url"].as_str().unwrap().to_owned();
    let answers = requests(&http(), &gateway, N, None).await;
    (
        up,
        answers,
        v1,
        v2,
        show["istio"].as_str().unwrap().to_owned(),
    )
}

fn misbehavior(v2: &str) -> String {
    format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{v2}'\n"
    )
}

/// Current istiod: the default retry policy names `retriable-status-codes` but no code, so v2's 503 reaches
/// the client, each call in one attempt.
#[tokio::test]
async fn under_current_istio_the_misbehaving_v2s_503_reaches_the_client() {
    let (up, a, v1, v2, istio) = misbehaving_v2(&[]).await;
    let log = up.preference_calls(N);
    up.stop();
    assert_eq!(
        istio,
        "Istio current (1.30): a 503 is not retried by default"
    );
    let bad = misbehavior(&v2);
    let seen = tally(&a, &[("v1", v1.as_str())], &[(503, bad.as_str())]);
    // About half land on v2: none in 20 is a 1 in a million event.
    assert!(seen.get(&bad).copied().unwrap_or(0) >= 1, "{seen:?}");
    assert!(log.iter().all(|e| e.attempts == Some(1)), "{log:?}");
}

/// `--istio 1.20` (and `--ossm 2.6`): the default retry policy retries a 503 on another host, so every
/// answer is v1's, and the calls that met v2 took a second attempt.
#[tokio::test]
async fn under_istio_1_20_the_misbehaving_v2s_503_is_retried_on_v1() {
    for options in [&["--istio", "1.20"][..], &["--ossm", "2.6"][..]] {
        let (up, a, v1, _, istio) = misbehaving_v2(options).await;
        let log = up.preference_calls(N);
        up.stop();
        assert_eq!(
            istio, "Istio 1.20: a 503 is retried by default",
            "{options:?}"
        );
        let seen = tally(&a, &[("v1", v1.as_str())], &[]);
        assert_eq!(seen.get("v1"), Some(&(N as u64)), "{options:?}");
        assert_eq!(log.len(), N, "{options:?}");
        assert!(log.iter().all(|e| e.response_code == Some(200)), "{log:?}");
        // About half land on v2 first: none in 20 is a 1 in a million event.
        assert!(log.iter().any(|e| e.attempts == Some(2)), "{log:?}");
    }
}

/// An unknown release is refused before anything starts, with what the lab runs.
#[test]
fn an_unknown_release_is_refused_with_the_ones_the_lab_runs() {
    for (option, value, want) in [
        (
            "--istio",
            "1.19",
            "error: invalid value '1.19' for '--istio <ISTIO>': unknown Istio release \"1.19\": the lab runs 1.20 to 1.30 (e.g. 1.20, 1.20.8, 1.24) or current (1.30)",
        ),
        (
            "--ossm",
            "2.5",
            "error: invalid value '2.5' for '--ossm <OSSM>': unknown OpenShift Service Mesh release \"2.5\": the lab runs 2.6 (Istio 1.20), 3.0 (Istio 1.24) and 3.1 (Istio 1.26); for another, pass its Istio release to --istio",
        ),
    ] {
        let out = run_to_end("mesh-lab", &["up", option, value], &[]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().next(), Some(want), "{stderr}");
    }
}
