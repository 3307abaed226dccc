//! The graph a projector shows, on one real lab: what the gateway answered while the lab started is not drawn
//! as errors; a VirtualService naming a subset no DestinationRule defines draws recommendation's service node
//! marked with what is missing and a red edge with `503 NC` in words; the page in headless Chromium at
//! 1280×800 and at 150 % (screenshots of the right pixel sizes, the picture at its natural size with text of
//! 13 px and up, the details of a clicked edge); after the fix every edge is green within 15 s of good
//! traffic; `reset` clears the graph. Without Chromium the test FAILS with the install hint.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mesh_lab::guided::send::requests;
use mesh_lab::{Lab, LabOptions};
use serde_json::Value;

use crate::graph::{chromium, edge, headless};
use crate::{http, istio, repo};

/// Polls `url` back to back until `stop`, counting the answers that were not 200 (a connection refused is
/// no answer): what a trainee's `run.sh` loop gets from a gateway that is starting.
fn poll_while_starting(url: String, stop: Arc<AtomicBool>, refused: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        let client = tutorial_common::client::client(Duration::from_secs(2), None).unwrap();
        // Bounded: the lab starts in seconds or fails.
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            match client.get(&url).send().await {
                Ok(r) if r.status() != 200 => {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    });
}

async fn graph(client: &reqwest::Client, addr: std::net::SocketAddr, query: &str) -> Value {
    let url = format!("http://{addr}/api/graph{query}");
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// The PNG's width and height.
fn png_size(file: &Path) -> (u32, u32) {
    let bytes = std::fs::read(file).expect("the screenshot");
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        file.display()
    );
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

/// An attribute of the first `<svg` element in `html`.
fn svg_attr<'a>(html: &'a str, name: &str) -> &'a str {
    let svg = &html[html.find("<svg").expect("an svg")..];
    let head = &svg[..svg.find('>').unwrap()];
    let at = head.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    &head[at..at + head[at..].find('"').unwrap()]
}

async fn chromium_run(bin: &Path, args: Vec<String>) -> String {
    let bin = bin.to_path_buf();
    tokio::task::spawn_blocking(move || headless(&bin, &args))
        .await
        .unwrap()
}

/// The page at 1280×800 and at 150 %: the picture at its natural size (width = viewBox width, text of 13 px
/// and up), the screenshots' pixel sizes, and the details of the failing edge shown after the script ran.
async fn screenshots(bin: &Path, addr: std::net::SocketAddr, detail: &str) {
    let page = format!("http://{addr}/");
    let served = http()
        .get(&page)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let view: Vec<&str> = svg_attr(&served, "viewBox").split(' ').collect();
    assert_eq!(
        svg_attr(&served, "width"),
        format!("{}px", view[2]),
        "natural size"
    );
    let sizes: Vec<f64> = served
        .split("font-size: ")
        .skip(1)
        .map(|s| s.split("px").next().unwrap().parse().unwrap())
        .collect();
    assert!(
        sizes.len() > 5 && sizes.iter().all(|s| *s >= 13.0),
        "{sizes:?}"
    );
    let dir = std::env::temp_dir().join(format!("mesh-lab-graph-screens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (scale, want) in [(1.0, (1280, 800)), (1.5, (1920, 1200))] {
        let png = dir.join(format!("graph-{scale}.png"));
        chromium_run(
            bin,
            vec![
                format!("--screenshot={}", png.display()),
                "--window-size=1280,800".into(),
                format!("--force-device-scale-factor={scale}"),
                format!("{page}#{detail}"),
            ],
        )
        .await;
        assert_eq!(png_size(&png), want, "at {scale}");
        // MESH_LAB_GRAPH_SCREENSHOTS=DIR keeps them to look at.
        if let Some(keep) = std::env::var_os("MESH_LAB_GRAPH_SCREENSHOTS") {
            std::fs::copy(&png, Path::new(&keep).join(png.file_name().unwrap())).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let dom = chromium_run(bin, vec!["--dump-dom".into(), format!("{page}#{detail}")]).await;
    assert!(
        dom.contains("<body class=\"js\">"),
        "the script ran:\n{dom}"
    );
    assert_eq!(
        svg_attr(&dom, "width"),
        svg_attr(&served, "width"),
        "no script rescales it"
    );
    assert!(
        dom.contains(&format!("<article class=\"detail shown\" id=\"{detail}\">")),
        "{detail} shown:\n{dom}"
    );
    assert!(
        dom.contains(&format!("href=\"#{detail}\"")),
        "the edge links to it"
    );
    let shown = &dom[dom.find(&format!("id=\"{detail}\"")).unwrap()..];
    let shown = &shown[..shown.find("</article>").unwrap()];
    assert!(
        shown.contains("<dd class=\"why\">503 NC (no cluster: the route names a cluster"),
        "the flag in words:\n{shown}"
    );
}

// Two workers: the poller of the starting gateway runs beside the lab's start, never starved by it, so it
// sees the moment the gateway answers before the pods' endpoints reach it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_reads_on_a_projector_turns_green_after_a_fix_and_reset_clears_it() {
    let bin = chromium();
    tutorial_common::boot::install_crypto_provider();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (stop, refused) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    poll_while_starting(
        format!("http://127.0.0.1:{port}/"),
        stop.clone(),
        refused.clone(),
    );
    let lab = Lab::start(LabOptions {
        repo: repo(),
        gateway_port: port,
        standin_now: Some("2020-04-06T18:31+02:00".into()),
        ..LabOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the local mesh must start (is Envoy installed?): {e:#}"));
    stop.store(true, Ordering::Relaxed);
    let refused = refused.load(Ordering::Relaxed);
    let (server, addr) =
        mesh_lab::observe::graph::serve(lab.clone(), ([127, 0, 0, 1], 0).into()).unwrap();
    let handle = server.handle();
    let serving = tokio::spawn(server);
    let client = http();
    let started = lab.graph().await;
    assert!(
        refused > 0,
        "the gateway answered every request while the lab started: nothing was checked"
    );
    assert!(
        started.edges.iter().all(|e| e.errors == 0),
        "{refused} answers refused while starting are drawn: {:#?}",
        started.edges
    );

    // recommendation's subset version-v3 with only v1 and v2 defined: 503 NC at preference's sidecar.
    for f in [
        "destination-rule-recommendation-v1-v2.yml",
        "virtual-service-recommendation-v3.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
    }
    let failed = requests(&client, &lab.gateway_url, 5, None).await;
    assert!(failed.iter().all(|a| a.status == 503), "{failed:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let g = loop {
        let g = graph(&client, addr, "").await;
        let seen =
            edge(&g, "preference-v1", "service:recommendation").map(|e| e["requests"].clone());
        if seen == Some(Value::from(5)) || Instant::now() > deadline {
            break g;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let nc = edge(&g, "preference-v1", "service:recommendation").expect("the NC edge");
    assert_eq!(
        (&nc["health"], &nc["via"]),
        (&Value::from("failure"), &Value::from("missing-cluster"))
    );
    let why = nc["why"].as_array().unwrap();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].as_str().unwrap().starts_with("503 NC (no cluster: "),
        "{why:?}"
    );
    let nodes = g["nodes"].as_array().unwrap();
    let svc = nodes
        .iter()
        .find(|n| n["id"] == "service:recommendation")
        .unwrap();
    assert_eq!(
        (&svc["kind"], &svc["missing"]),
        (
            &Value::from("service"),
            &Value::from("subset version-v3: no cluster (503 NC) — no DestinationRule defines it")
        )
    );
    assert!(nodes.iter().all(|n| n["kind"] != "external"), "{nodes:?}");
    let bad = client
        .get(format!("http://{addr}/api/graph?window=2m"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("use 10s, 1m, 5m or 10m"));

    screenshots(
        &bin,
        addr,
        "d-edge--preference-v1--service_3arecommendation--sent",
    )
    .await;

    // Errors until the fix, then good traffic at run.sh's pace (back to back) until no edge is degraded or
    // failing: the default window must let the last errors out within 15 s.
    let failed = requests(&client, &lab.gateway_url, 5, None).await;
    assert!(failed.iter().all(|a| a.status == 503), "{failed:?}");
    lab.apply_file(&istio("virtual-service-recommendation-v1.yml"))
        .await
        .unwrap();
    let good = Instant::now();
    let deadline = good + Duration::from_secs(30);
    let (green, sent) = loop {
        let answers = requests(&client, &lab.gateway_url, 1, None).await;
        assert_eq!(answers[0].status, 200, "{}", answers[0].body);
        let g = graph(&client, addr, "").await;
        let edges = g["edges"].as_array().unwrap();
        let all_green = edges
            .iter()
            .all(|e| matches!(e["health"].as_str(), Some("healthy" | "idle")))
            && edge(&g, "istio-ingressgateway", "customer")
                .is_some_and(|e| e["health"] == "healthy");
        if all_green || Instant::now() > deadline {
            break (good.elapsed(), g);
        }
    };
    assert!(
        green < Duration::from_secs(15),
        "green after {green:?} of good traffic: {sent:#}"
    );
    eprintln!(
        "graph: {refused} answers refused while the lab started (not drawn); green {green:?} after the fix"
    );

    lab.reset().await.unwrap();
    let after = graph(&client, addr, "?window=10m").await;
    handle.stop(true).await;
    let _ = serving.await;
    lab.stop().await;
    assert_eq!(after["edges"], serde_json::json!([]), "{after:#}");
    assert!(
        after["since"].as_str() > g["since"].as_str(),
        "reset moves the start: {} then {}",
        g["since"],
        after["since"]
    );
    let ids: Vec<&str> = after["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "customer",
            "istio-ingressgateway",
            "preference-v1",
            "recommendation-v1",
            "recommendation-v2"
        ]
    );
}
