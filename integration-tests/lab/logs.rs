//! `mesh-lab logs` as kubectl's pasted spellings take it (the built binary against a lab's control
//! endpoint): `deploy/NAME`, `deployment/NAME`, a pod name, `-c` the app's container or `istio-proxy` (the
//! sidecar's access log), the default container, `--tail`, `-f`, and kubectl's errors — each answer,
//! error and exit status exactly kubectl's.

use std::io::BufRead;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mesh_lab::Lab;
use mesh_lab::guided::send::requests;

use crate::http;
use crate::served::Served;

/// The app's lines for the Deployment once `want` is among them (the app logs after answering: bounded).
async fn app_lines_with(lab: &Lab, deployment: &str, want: &str) -> Vec<String> {
    for _ in 0..250 {
        let lines = lab.logs(deployment).await.unwrap();
        if lines.iter().any(|l| l.contains(want)) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{deployment} never logged {want:?}");
}

/// A pod's sidecar access log, as Envoy wrote it, once it has `n` inbound entries (Envoy flushes every
/// 50 ms: bounded).
async fn access_log_with(lab: &Lab, deployment: &str, n: usize) -> String {
    let entries = lab
        .wait_proxy_log(deployment, "virtualInbound", n, |_| true)
        .await;
    assert_eq!(entries.len(), n, "{deployment}'s sidecar inbound entries");
    let pod = lab.pod_name(deployment).await.unwrap();
    std::fs::read_to_string(lab.dir.join(&pod).join(mesh_istiod::bootstrap::ACCESS_LOG)).unwrap()
}

/// The chain pinned to v1 and one request through the gateway: v1's pod, its app lines and its sidecar's
/// access log once both have the request.
async fn one_request_to_v1(lab: &Lab) -> (String, Vec<String>, String) {
    let v1 = crate::only_v1(lab).await;
    requests(&http(), &lab.gateway_url, 1, None).await;
    let request = format!("recommendation request from {v1}: 1");
    let app = app_lines_with(lab, "recommendation-v1", &request).await;
    let proxy = access_log_with(lab, "recommendation-v1", 1).await;
    (v1, app, proxy)
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test]
async fn logs_takes_kubectls_targets_containers_and_tail() {
    let served = Served::start().await;
    let lab = served.lab.clone();
    let (v1, app, proxy) = one_request_to_v1(&lab).await;
    let pod = format!("pod/{v1}");
    let mut answers = Vec::new();
    for args in [
        vec!["logs", "deploy/recommendation-v1"],
        vec!["logs", "deployment/recommendation-v1", "-n", "tutorial"],
        vec!["logs", "recommendation-v1"],
        vec!["logs", &v1],
        vec!["logs", &pod, "-c", "recommendation"],
        vec!["logs", &v1, "recommendation"],
    ] {
        answers.push((args.clone(), served.run(&args).await));
    }
    let sidecar = served
        .run(&["logs", "deploy/recommendation-v1", "-c", "istio-proxy"])
        .await;
    let tail = served
        .run(&["logs", "deploy/recommendation-v1", "--tail", "1"])
        .await;
    let no_deployment = served.run(&["logs", "deploy/recommendation-v9"]).await;
    let no_pod = served.run(&["logs", "recommendation-v1-x"]).await;
    let no_container = served
        .run(&["logs", "deploy/recommendation-v1", "-c", "nope"])
        .await;
    served.stop().await;
    for (args, answer) in answers {
        assert_eq!(answer, (0, text(&app), String::new()), "{args:?}");
    }
    assert_eq!(sidecar, (0, proxy, String::new()));
    assert_eq!(tail, (0, text(&app[app.len() - 1..]), String::new()));
    assert_eq!(
        no_deployment,
        (
            1,
            String::new(),
            "error: error from server (NotFound): deployments.apps \"recommendation-v9\" not found in namespace \"tutorial\"\n\
             the lab's Deployments: customer, preference-v1, recommendation-v1, recommendation-v2 (mesh-lab logs \
             deploy/NAME)\n"
                .into()
        )
    );
    assert_eq!(
        no_pod,
        (
            1,
            String::new(),
            "error: error from server (NotFound): pods \"recommendation-v1-x\" not found in namespace \"tutorial\"\n\
             the lab's Deployments: customer, preference-v1, recommendation-v1, recommendation-v2 (mesh-lab logs \
             deploy/NAME)\n"
                .into()
        )
    );
    assert_eq!(
        no_container,
        (
            1,
            String::new(),
            format!("error: container nope is not valid for pod {v1}\n")
        )
    );
}

/// `kubectl patch` of recommendation-v2's pod template: its default container annotation.
async fn annotate_default_container(served: &Served, container: &str) {
    let patch = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"annotations":{{"kubectl.kubernetes.io/default-container":"{container}"}}}}}}}}}}"#
    );
    let args = ["patch", "deployment", "recommendation-v2", "-p", &patch];
    let (code, _, err) = served.run(&args).await;
    assert_eq!((code, err.as_str()), (0, ""));
}

#[tokio::test]
async fn the_default_container_is_the_annotations_else_the_first_said_on_stderr() {
    let served = Served::start().await;
    let lab = served.lab.clone();
    annotate_default_container(&served, "istio-proxy").await;
    for file in [
        "destination-rule-recommendation-v1-v2.yml",
        "virtual-service-recommendation-v2.yml",
    ] {
        lab.apply_file(&crate::istio(file)).await.unwrap();
    }
    requests(&http(), &lab.gateway_url, 1, None).await;
    let proxy = access_log_with(&lab, "recommendation-v2", 1).await;
    let to_proxy = served.run(&["logs", "deploy/recommendation-v2"]).await;
    annotate_default_container(&served, "nope").await;
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let app = lab.logs("recommendation-v2").await.unwrap();
    let defaulted = served.run(&["logs", "deploy/recommendation-v2"]).await;
    served.stop().await;
    assert_eq!(to_proxy, (0, proxy, String::new()));
    assert_eq!(
        defaulted,
        (
            0,
            text(&app),
            format!(
                "Default container name \"nope\" not found in pod {v2}\n\
                 Defaulted container \"recommendation\" out of: recommendation, istio-proxy\n"
            )
        )
    );
}

/// `mesh-lab ARGS…` left running, its standard output line by line.
struct Following {
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
}

impl Following {
    fn start(served: &Served, args: &[&str]) -> Self {
        let mut child = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
            .args(args)
            .env(mesh_lab::cli::control::ENV_CONTROL, &served.addr)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child: Some(child),
            lines,
        }
    }

    /// The next line it prints (bounded to 20 s).
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a line within 20 s")
    }

    /// Whether it is still running (it follows until stopped).
    fn running(&mut self) -> bool {
        let child = self.child.as_mut().expect("running");
        matches!(child.try_wait(), Ok(None))
    }

    /// Its exit code once it ends by itself (bounded to 20 s).
    async fn ended(mut self) -> Option<i32> {
        let mut child = self.child.take().expect("running");
        let waiting = tokio::task::spawn_blocking(move || child.wait().map(|s| s.code()));
        let status = tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .expect("mesh-lab logs -f ends within 20 s once its pod is gone");
        status.unwrap().unwrap()
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn follow_prints_the_lines_that_come_after_it_started() {
    let served = Served::start().await;
    let lab = served.lab.clone();
    let (v1, app, proxy) = one_request_to_v1(&lab).await;
    let mut app_follow = Following::start(
        &served,
        &["logs", "-f", "deploy/recommendation-v1", "--tail", "1"],
    );
    let mut proxy_follow = Following::start(
        &served,
        &[
            "logs",
            "deploy/recommendation-v1",
            "-c",
            "istio-proxy",
            "--follow",
            "--tail=1",
        ],
    );
    // Their first pages (the last line so far) say they are following.
    let app_first = app_follow.next_line();
    let proxy_first = proxy_follow.next_line();
    requests(&http(), &lab.gateway_url, 1, None).await;
    let app_next = app_follow.next_line();
    let proxy_next = proxy_follow.next_line();
    let still = (app_follow.running(), proxy_follow.running());
    // The pod stops: its stream ends, as kubectl's does.
    let deleted = served
        .run(&["delete", "deployment", "recommendation-v1"])
        .await;
    let ended = (app_follow.ended().await, proxy_follow.ended().await);
    served.stop().await;
    assert_eq!(&app_first, app.last().unwrap());
    assert_eq!(proxy_first, proxy.lines().last().unwrap());
    assert!(
        app_next.ends_with(&format!("recommendation request from {v1}: 2")),
        "{app_next}"
    );
    let entry: serde_json::Value = serde_json::from_str(&proxy_next).unwrap();
    assert_ne!(proxy_next, proxy_first);
    assert_eq!(entry["listener"], "virtualInbound", "{proxy_next}");
    assert_eq!(still, (true, true));
    assert_eq!(deleted.0, 0, "{deleted:?}");
    assert_eq!(ended, (Some(0), Some(0)));
}
