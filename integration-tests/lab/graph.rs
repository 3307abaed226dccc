//! The traffic graph on a real lab: a 50/50 split and a fault abort through the gateway, then `GET /api/graph`
//! over HTTP (exact requests per edge, the errors on the faulted edge) and the page in a real headless
//! Chromium (the DOM shows every workload and the edge numbers; a 1280×800 screenshot). Without Chromium the
//! test FAILS with the install hint.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mesh_lab::guided::send::requests;
use serde_json::Value;

use crate::{http, istio, lab};

pub(crate) const CHROMIUM_HINT: &str = "chromium not found: install it with `apt-get install -y chromium` (Debian's \
package; scripts/test.sh does it), or set CHROMIUM=/path/to/chromium";

pub(crate) fn chromium() -> PathBuf {
    let bin = std::env::var_os("CHROMIUM")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from("chromium"), PathBuf::from);
    let ok = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{CHROMIUM_HINT} (tried {})", bin.display());
    bin
}

/// Runs headless Chromium with `args`, at most 60 s; its stdout.
pub(crate) fn headless(bin: &PathBuf, args: &[String]) -> String {
    let mut child = Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("chromium runs").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium {args:?} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("chromium output");
    assert!(out.status.success(), "chromium {args:?}: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The edge from `source` to `target` of `/api/graph`'s JSON (not a mirror's).
pub(crate) fn edge<'a>(g: &'a Value, source: &str, target: &str) -> Option<&'a Value> {
    g["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == source && e["target"] == target && e["mirror"] == false)
}

fn requests_of(g: &Value, source: &str, target: &str) -> u64 {
    edge(g, source, target).map_or(0, |e| e["requests"].as_u64().unwrap())
}

#[tokio::test]
async fn the_graph_counts_a_split_and_a_fault_exactly_and_chromium_shows_it() {
    let bin = chromium();
    let lab = lab().await;
    let (server, addr) =
        mesh_lab::observe::graph::serve(lab.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let handle = server.handle();
    let serving = tokio::spawn(server);
    let client = http();
    for f in [
        "destination-rule-recommendation-v1-v2.yml",
        "virtual-service-recommendation-v1-v2-50-50.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
    }
    let split = requests(&client, &lab.gateway_url, 20, None).await;
    lab.apply_file(&istio("virtual-service-recommendation-fault-abort.yml"))
        .await
        .unwrap();
    let fault = requests(&client, &lab.gateway_url, 20, None).await;
    let all: Vec<_> = split.iter().chain(&fault).collect();
    let count = |v: &str| all.iter().filter(|a| a.version() == Some(v)).count() as u64;
    let (v1, v2) = (count("v1"), count("v2"));
    let aborted = fault
        .iter()
        .filter(|a| a.body.contains("fault filter abort"))
        .count() as u64;
    assert_eq!(v1 + v2 + aborted, 40, "every answer is v1, v2 or the abort");
    assert!(split.iter().all(|a| a.status == 200));
    assert!(
        v1 > 0 && v2 > 0 && aborted > 0,
        "v1 {v1}, v2 {v2}, aborted {aborted}"
    );

    // Poll (bounded) until every proxy has flushed its log.
    // Over a minute: the rates below count every request of the test.
    let url = format!("http://{addr}/api/graph?window=1m");
    let deadline = Instant::now() + Duration::from_secs(10);
    let started = Instant::now();
    let (g, body_len) = loop {
        let body = client.get(&url).send().await.unwrap().text().await.unwrap();
        let g: Value = serde_json::from_str(&body).unwrap();
        let flushed = requests_of(&g, "istio-ingressgateway", "customer") == 40
            && requests_of(&g, "preference-v1", "recommendation-v1")
                + requests_of(&g, "preference-v1", "recommendation-v2")
                + requests_of(&g, "preference-v1", "service:recommendation")
                == 40;
        if flushed || Instant::now() > deadline {
            break (g, body.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let json_time = started.elapsed();
    let ids: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for id in [
        "istio-ingressgateway",
        "customer",
        "preference-v1",
        "recommendation-v1",
        "recommendation-v2",
        "service:recommendation",
    ] {
        assert!(ids.contains(&id), "node {id} missing from {ids:?}");
    }
    let rec_v2 = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "recommendation-v2")
        .unwrap();
    assert_eq!(
        (&rec_v2["app"], &rec_v2["version"], &rec_v2["kind"]),
        (
            &Value::from("recommendation"),
            &Value::from("v2"),
            &Value::from("workload")
        )
    );
    assert_eq!(requests_of(&g, "istio-ingressgateway", "customer"), 40);
    assert_eq!(requests_of(&g, "customer", "preference-v1"), 40);
    assert_eq!(requests_of(&g, "preference-v1", "recommendation-v1"), v1);
    assert_eq!(requests_of(&g, "preference-v1", "recommendation-v2"), v2);
    let faulted = edge(&g, "preference-v1", "service:recommendation").expect("the faulted edge");
    assert_eq!(faulted["requests"], aborted);
    assert_eq!(faulted["errors"], aborted);
    assert_eq!(faulted["codes"], serde_json::json!({"503 FI": aborted}));
    assert_eq!(faulted["health"], "failure");
    // The 503s travel back: customer's and the gateway's edges carry them as upstream answers.
    let gw = edge(&g, "istio-ingressgateway", "customer").unwrap();
    assert_eq!(gw["errors"], aborted);
    assert_eq!(gw["codes"]["503"], aborted);
    let healthy = edge(&g, "preference-v1", "recommendation-v1").unwrap();
    assert_eq!(
        (&healthy["errors"], &healthy["health"]),
        (&Value::from(0), &Value::from("healthy"))
    );
    assert_eq!(g["window_seconds"], 60);
    let rps = healthy["rps"].as_f64().unwrap();
    assert!((rps - v1 as f64 / 60.0).abs() < 1e-9, "rps {rps}");

    // The page in a real browser.
    let page = format!("http://{addr}/");
    let started = Instant::now();
    let dom = tokio::task::spawn_blocking({
        let (bin, page) = (bin.clone(), page.clone());
        move || headless(&bin, &["--dump-dom".into(), page])
    })
    .await
    .unwrap();
    let dom_time = started.elapsed();
    assert!(dom.contains("<svg"), "{dom}");
    for id in [
        "customer",
        "preference-v1",
        "recommendation-v1",
        "recommendation-v2",
    ] {
        assert!(
            dom.contains(&format!("data-id=\"{id}\"")),
            "{id} not drawn:\n{dom}"
        );
    }
    for (s, t, n) in [
        ("istio-ingressgateway", "customer", 40),
        ("preference-v1", "recommendation-v1", v1),
        ("preference-v1", "recommendation-v2", v2),
        ("preference-v1", "service:recommendation", aborted),
    ] {
        // The SVG writer sorts attributes by name.
        let drawn = format!("data-requests=\"{n}\" data-source=\"{s}\" data-target=\"{t}\"");
        assert!(dom.contains(&drawn), "missing {drawn}:\n{dom}");
        assert!(dom.contains(&format!("{n} req ")), "label {n} req missing");
    }
    assert!(dom.contains("503 FI ×"), "the faulted edge's codes:\n{dom}");
    let png = std::env::temp_dir().join(format!("mesh-lab-graph-{}.png", std::process::id()));
    tokio::task::spawn_blocking({
        let (bin, png) = (bin.clone(), png.clone());
        move || {
            headless(
                &bin,
                &[
                    format!("--screenshot={}", png.display()),
                    "--window-size=1280,800".into(),
                    page,
                ],
            )
        }
    })
    .await
    .unwrap();
    let bytes = std::fs::read(&png).expect("the screenshot");
    // MESH_LAB_GRAPH_SCREENSHOT=FILE keeps the screenshot to look at.
    match std::env::var_os("MESH_LAB_GRAPH_SCREENSHOT") {
        Some(keep) => std::fs::rename(&png, keep).expect("keeping the screenshot"),
        None => std::fs::remove_file(&png).expect("removing the screenshot"),
    }
    handle.stop(true).await;
    let _ = serving.await;
    lab.stop().await;
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (w, h) = (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    );
    assert_eq!((w, h), (1280, 800));
    assert!(
        (20_000..5_000_000).contains(&bytes.len()),
        "a drawn page, not a blank one: {} bytes",
        bytes.len()
    );
    eprintln!(
        "graph: JSON {body_len} bytes (until flushed {json_time:?}), DOM {} bytes in {dom_time:?}, PNG {} bytes",
        dom.len(),
        bytes.len()
    );
}

/// After the guided egress chapter the graph shows worldclockapi.com reached through PassthroughCluster and
/// through the ServiceEntry, the NC and UT failures and the blocked calls — the same counts as `show`.
#[tokio::test]
async fn after_the_egress_chapter_the_graph_matches_shows_egress_counts() {
    let lab = lab().await;
    let files = mesh_lab::guided::guide::LabFiles::find(&crate::repo().join("istio")).unwrap();
    let mut out = Vec::new();
    let outcome = mesh_lab::guided::egress::run(&lab, &files, &mut out)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(outcome.failed.is_empty(), "{text}");
    let graph = lab.graph().await;
    let show = lab.show().await.unwrap();
    lab.stop().await;
    let mut from_show: std::collections::BTreeMap<String, usize> = Default::default();
    for row in show
        .traffic
        .iter()
        .filter(|r| r.proxy == "recommendation-v3" && r.listener == "outbound_0.0.0.0_80")
    {
        *from_show.entry(row.via.name().to_owned()).or_default() += row.requests;
    }
    let external: Vec<&str> = graph
        .nodes
        .iter()
        .filter(|n| n.kind == "external")
        .map(|n| n.id.as_str())
        .collect();
    let mut from_graph: std::collections::BTreeMap<String, usize> = Default::default();
    let mut codes: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for e in graph
        .edges
        .iter()
        .filter(|e| e.source == "recommendation-v3" && external.contains(&e.target.as_str()))
    {
        *from_graph.entry(e.via.name().to_owned()).or_default() += e.requests;
        codes
            .entry(e.via.name().to_owned())
            .or_default()
            .extend(e.codes.keys().cloned());
    }
    assert_eq!(from_graph, from_show, "graph {graph:#?}");
    for via in ["passthrough", "service-entry", "missing-cluster", "blocked"] {
        assert!(
            from_graph.get(via).is_some_and(|n| *n > 0),
            "no {via} edge: {from_graph:?}"
        );
    }
    assert!(
        codes["service-entry"].contains(&"504 UT".to_owned()),
        "{codes:?}"
    );
    assert!(
        codes["missing-cluster"].contains(&"503 NC".to_owned()),
        "{codes:?}"
    );
    assert_eq!(codes["blocked"], ["502"], "{codes:?}");
    // First through PassthroughCluster, then through the ServiceEntry: the edges' first requests say so.
    let first = |via: &str| {
        graph
            .edges
            .iter()
            .filter(|e| e.source == "recommendation-v3" && e.via.name() == via)
            .filter_map(|e| e.first.clone())
            .min()
            .unwrap_or_else(|| panic!("no first time on the {via} edge"))
    };
    assert!(
        first("passthrough") < first("service-entry"),
        "passthrough {} vs service-entry {}",
        first("passthrough"),
        first("service-entry")
    );
}
