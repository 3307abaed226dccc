//! The graph model's tests: health from response codes, edges from outbound entries, egress nodes, mirrored
//! copies, the window, gone pods and missing sidecars.

use super::*;
use mesh_istiod::util::protomarshal::from_json;

fn pod(workload: &str, version: &str, endpoint: &str, sidecar: bool, running: bool) -> PodInfo {
    PodInfo {
        workload: workload.into(),
        app: workload
            .rsplit_once('-')
            .map_or(workload, |(a, _)| a)
            .into(),
        version: version.into(),
        endpoint: endpoint.parse().unwrap(),
        sidecar,
        running,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// An entry 10 s before [`now`].
fn entry(
    listener: &str,
    authority: &str,
    code: u16,
    flags: &str,
    cluster: &str,
    host: &str,
) -> AccessLogEntry {
    AccessLogEntry {
        listener: Some(listener.into()),
        start_time: Some("2026-01-01T11:59:50.000Z".into()),
        authority: Some(authority.into()),
        path: Some("/".into()),
        response_code: Some(code),
        response_flags: Some(flags.into()),
        response_code_details: None,
        route_name: Some("default".into()),
        upstream_cluster: Some(cluster.into()),
        upstream_host: Some(host.into()),
        user_agent: None,
        attempts: Some(1),
        duration_ms: Some(3),
        request_id: None,
    }
}

fn with_id(mut e: AccessLogEntry, id: &str) -> AccessLogEntry {
    e.request_id = Some(id.into());
    e
}

const REC: &str = "outbound|8080||recommendation.tutorial.svc.cluster.local";

fn pods() -> Vec<PodInfo> {
    vec![
        pod("preference-v1", "v1", "127.0.0.1:1001", true, true),
        pod("recommendation-v1", "v1", "127.0.0.1:2001", true, true),
        pod("recommendation-v2", "v2", "127.0.0.1:2002", true, true),
    ]
}

fn edge<'a>(g: &'a Graph, s: &str, t: &str, mirror: bool) -> &'a Edge {
    g.edges
        .iter()
        .find(|e| e.source == s && e.target == t && e.mirror == mirror)
        .unwrap_or_else(|| panic!("no edge {s} -> {t} (mirror {mirror}) in {:#?}", g.edges))
}

#[test]
fn kiali_default_tolerances_colour_the_edges() {
    assert_eq!(health(&[]), Health::Idle);
    assert_eq!(health(&[200; 10]), Health::Healthy);
    // Any 5xx is degraded, 10 % of them fail (5XX: failure 10, degraded 0).
    let mut codes = vec![200; 19];
    codes.push(503);
    assert_eq!(health(&codes), Health::Degraded, "5 % 5xx");
    let mut codes = vec![200; 9];
    codes.push(503);
    assert_eq!(health(&codes), Health::Failure, "10 % 5xx");
    // 4XX: degraded from 10 %, failure from 20 %.
    let mut codes = vec![200; 19];
    codes.push(404);
    assert_eq!(health(&codes), Health::Healthy, "5 % 4xx");
    let mut codes = vec![200; 9];
    codes.push(404);
    assert_eq!(health(&codes), Health::Degraded, "10 % 4xx");
    assert_eq!(health(&[200, 200, 200, 404]), Health::Failure, "25 % 4xx");
    // No response (code 0) counts like 5xx.
    assert_eq!(health(&[200, 0]), Health::Failure);
}

#[test]
fn outbound_entries_become_edges_to_the_pod_of_the_upstream_host_or_the_service() {
    let log = vec![
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            "127.0.0.1:2001",
        ),
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            "127.0.0.1:2002",
        ),
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            "127.0.0.1:2002",
        ),
        // A fault abort never reaches a pod: it ends at the Service.
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            503,
            "FI",
            REC,
            "-",
        ),
        entry(
            "virtualInbound",
            "preference:8080",
            200,
            "-",
            "inbound|8080||",
            "127.0.0.1:9",
        ),
    ];
    let g = build(&Input {
        pods: pods(),
        logs: vec![ProxyLog {
            proxy: "preference-v1".into(),
            entries: log,
        }],
        now: now(),
        ..Input::default()
    });
    let v1 = edge(&g, "preference-v1", "recommendation-v1", false);
    assert_eq!((v1.requests, v1.errors, v1.health), (1, 0, Health::Healthy));
    let v2 = edge(&g, "preference-v1", "recommendation-v2", false);
    assert_eq!(v2.requests, 2);
    assert_eq!(v2.codes, BTreeMap::from([("200".to_owned(), 2)]));
    assert_eq!(v2.rps, 2.0 / DEFAULT_WINDOW_SECONDS as f64);
    let fault = edge(&g, "preference-v1", "service:recommendation", false);
    assert_eq!((fault.requests, fault.errors), (1, 1));
    assert_eq!(fault.codes, BTreeMap::from([("503 FI".to_owned(), 1)]));
    assert_eq!(fault.health, Health::Failure);
    assert_eq!(fault.clusters.iter().next().map(String::as_str), Some(REC));
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "istio-ingressgateway",
            "preference-v1",
            "recommendation-v1",
            "recommendation-v2",
            "service:recommendation",
            "unknown"
        ]
    );
    // No sender logged preference's inbound entry (10 s old): a caller without a sidecar.
    assert_eq!(edge(&g, "unknown", "preference-v1", false).requests, 1);
}

#[test]
fn egress_goes_to_one_node_per_host_and_way_out() {
    let out = |code, flags, cluster, route: &str| {
        let mut e = entry(
            "outbound_0.0.0.0_80",
            "worldclockapi.com",
            code,
            flags,
            cluster,
            "127.0.0.1:7000",
        );
        e.route_name = Some(route.into());
        e
    };
    let log = vec![
        out(200, "-", "PassthroughCluster", "allow_any"),
        out(200, "-", "PassthroughCluster", "allow_any"),
        out(503, "NC", "outbound|80||worldclockapi.com", "-"),
        out(200, "-", "outbound|80||worldclockapi.com", "-"),
        out(504, "UT", "outbound|80||worldclockapi.com", "-"),
        out(502, "-", "-", "block_all"),
    ];
    let mut pods = pods();
    pods.push(pod("recommendation-v3", "v3", "127.0.0.1:2003", true, true));
    let g = build(&Input {
        pods,
        logs: vec![ProxyLog {
            proxy: "recommendation-v3".into(),
            entries: log,
        }],
        now: now(),
        ..Input::default()
    });
    let pass = edge(
        &g,
        "recommendation-v3",
        "passthrough:worldclockapi.com",
        false,
    );
    assert_eq!((pass.requests, pass.via), (2, WayOut::Passthrough));
    let se = edge(
        &g,
        "recommendation-v3",
        "service-entry:worldclockapi.com",
        false,
    );
    assert_eq!(
        se.codes,
        BTreeMap::from([("200".to_owned(), 1), ("504 UT".to_owned(), 1)])
    );
    assert_eq!(se.health, Health::Failure);
    let nc = edge(
        &g,
        "recommendation-v3",
        "missing-cluster:worldclockapi.com",
        false,
    );
    assert_eq!(nc.codes, BTreeMap::from([("503 NC".to_owned(), 1)]));
    let blocked = edge(&g, "recommendation-v3", "blocked:worldclockapi.com", false);
    assert_eq!(
        blocked.routes.iter().next().map(String::as_str),
        Some("block_all")
    );
    let n = g
        .nodes
        .iter()
        .find(|n| n.id == "blocked:worldclockapi.com")
        .unwrap();
    assert_eq!(
        (n.kind.as_str(), n.group.as_str(), n.app.as_str()),
        ("external", "blocked", "worldclockapi.com")
    );
}

#[test]
fn a_mirrored_copy_is_the_receivers_inbound_entry_whose_sender_went_elsewhere_in_one_attempt() {
    let sender = vec![
        with_id(
            entry(
                "outbound_0.0.0.0_8080",
                "recommendation:8080",
                200,
                "-",
                REC,
                "127.0.0.1:2001",
            ),
            "a",
        ),
        // Retried: two attempts, the first one on v2.
        {
            let mut e = with_id(
                entry(
                    "outbound_0.0.0.0_8080",
                    "recommendation:8080",
                    200,
                    "URX",
                    REC,
                    "127.0.0.1:2001",
                ),
                "b",
            );
            e.attempts = Some(2);
            e
        },
    ];
    let inbound = |id| {
        with_id(
            entry(
                "virtualInbound",
                "recommendation:8080",
                200,
                "-",
                "inbound|8080||",
                "127.0.0.1:3",
            ),
            id,
        )
    };
    let g = build(&Input {
        pods: pods(),
        logs: vec![
            ProxyLog {
                proxy: "preference-v1".into(),
                entries: sender,
            },
            ProxyLog {
                proxy: "recommendation-v1".into(),
                entries: vec![inbound("a"), inbound("b")],
            },
            ProxyLog {
                proxy: "recommendation-v2".into(),
                entries: vec![inbound("a"), inbound("b")],
            },
        ],
        now: now(),
        ..Input::default()
    });
    let primary = edge(&g, "preference-v1", "recommendation-v1", false);
    assert_eq!((primary.requests, primary.retries), (2, 1));
    assert_eq!(primary.codes.get("200 URX"), Some(&1));
    let mirror = edge(&g, "preference-v1", "recommendation-v2", true);
    assert_eq!(
        (mirror.requests, mirror.via),
        (1, WayOut::Mirror),
        "only a's copy; b's was an attempt"
    );
    assert_eq!(
        mirror.routes.iter().next().map(String::as_str),
        Some("default")
    );
    assert!(mirror.clusters.is_empty());
    assert_eq!(g.edges.len(), 2, "{:#?}", g.edges);
}

#[test]
fn old_requests_leave_the_window_and_a_gone_pod_is_still_named() {
    let mut old = entry(
        "outbound_0.0.0.0_8080",
        "recommendation:8080",
        503,
        "UF",
        REC,
        "127.0.0.1:2999",
    );
    old.start_time = Some("2026-01-01T11:58:00Z".into());
    let mut pods = pods();
    pods.push(pod(
        "recommendation-v3",
        "v3",
        "127.0.0.1:2999",
        false,
        false,
    ));
    let g = build(&Input {
        pods,
        logs: vec![ProxyLog {
            proxy: "preference-v1".into(),
            entries: vec![old],
        }],
        now: now(),
        ..Input::default()
    });
    let e = edge(&g, "preference-v1", "recommendation-v3", false);
    assert_eq!(
        (e.requests, e.errors, e.window_requests, e.health),
        (1, 1, 0, Health::Idle)
    );
    let n = g
        .nodes
        .iter()
        .find(|n| n.id == "recommendation-v3")
        .unwrap();
    assert!(!n.running);
}

#[test]
fn an_inbound_entry_younger_than_the_settling_time_waits_for_its_sender() {
    let mut e = entry(
        "virtualInbound",
        "preference:8080",
        200,
        "-",
        "inbound|8080||",
        "127.0.0.1:9",
    );
    e.start_time = Some("2026-01-01T11:59:59.500Z".into());
    let g = build(&Input {
        pods: pods(),
        logs: vec![ProxyLog {
            proxy: "preference-v1".into(),
            entries: vec![e],
        }],
        now: now(),
        ..Input::default()
    });
    assert!(g.edges.is_empty(), "{:#?}", g.edges);
}

#[test]
fn a_running_pod_without_a_sidecar_is_marked() {
    let g = build(&Input {
        pods: vec![pod(
            "recommendation-v3",
            "v3",
            "127.0.0.1:2003",
            false,
            true,
        )],
        logs: vec![],
        now: now(),
        ..Input::default()
    });
    let n = g
        .nodes
        .iter()
        .find(|n| n.id == "recommendation-v3")
        .unwrap();
    assert!(n.missing_sidecar && n.running);
    let svg = crate::observe::graph::svg::render(&g);
    assert!(svg.contains("missing sidecar (1/1)"), "{svg}");
    assert!(svg.contains("<title id=\"graph-title\">"), "{svg}");
}

/// Kiali's versioned-app graph: two pods of recommendation-v2 (each its own endpoint and sidecar log) are
/// one node, their requests summed on one edge, and two logs of the same Deployment one receiver.
#[test]
fn the_pods_of_one_version_are_one_node_with_their_requests_summed() {
    let mut pods = pods();
    pods.push(pod("recommendation-v2", "v2", "127.0.0.1:2003", true, true));
    let to = |host: &str| {
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            host,
        )
    };
    let inbound = || {
        entry(
            "virtualInbound",
            "recommendation:8080",
            200,
            "-",
            "inbound|8080||",
            "127.0.0.1:9",
        )
    };
    let g = build(&Input {
        pods,
        logs: vec![
            ProxyLog {
                proxy: "preference-v1".into(),
                entries: vec![
                    to("127.0.0.1:2002"),
                    to("127.0.0.1:2003"),
                    to("127.0.0.1:2003"),
                ],
            },
            ProxyLog {
                proxy: "recommendation-v2".into(),
                entries: vec![inbound()],
            },
            ProxyLog {
                proxy: "recommendation-v2".into(),
                entries: vec![inbound(), inbound()],
            },
        ],
        now: now(),
        ..Input::default()
    });
    let v2 = edge(&g, "preference-v1", "recommendation-v2", false);
    assert_eq!(v2.requests, 3);
    let v2_nodes = g
        .nodes
        .iter()
        .filter(|n| n.app == "recommendation" && n.version.as_deref() == Some("v2"))
        .count();
    assert_eq!(v2_nodes, 1, "{:#?}", g.nodes);
}

/// Before Istio 1.28 (`up --istio 1.20`) the copy arrives with Envoy's `-shadow` Host: still a mirror.
#[test]
fn a_mirrored_copy_with_the_shadow_host_is_still_a_mirror() {
    let sent = with_id(
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            "127.0.0.1:2001",
        ),
        "a",
    );
    let inbound = |host| {
        with_id(
            entry(
                "virtualInbound",
                host,
                200,
                "-",
                "inbound|8080||",
                "127.0.0.1:3",
            ),
            "a",
        )
    };
    let g = build(&Input {
        pods: pods(),
        logs: vec![
            ProxyLog {
                proxy: "preference-v1".into(),
                entries: vec![sent],
            },
            ProxyLog {
                proxy: "recommendation-v1".into(),
                entries: vec![inbound("recommendation:8080")],
            },
            ProxyLog {
                proxy: "recommendation-v2".into(),
                entries: vec![inbound("recommendation-shadow:8080")],
            },
        ],
        now: now(),
        ..Input::default()
    });
    let mirror = edge(&g, "preference-v1", "recommendation-v2", true);
    assert_eq!((mirror.requests, mirror.via), (1, WayOut::Mirror));
    assert_eq!(g.edges.len(), 2, "{:#?}", g.edges);
}

fn at(mut e: AccessLogEntry, time: &str) -> AccessLogEntry {
    e.start_time = Some(time.into());
    e
}

fn preference_log(entries: Vec<AccessLogEntry>) -> Vec<ProxyLog> {
    vec![ProxyLog {
        proxy: "preference-v1".into(),
        entries,
    }]
}

#[test]
fn the_window_is_picked_from_kialis_durations_and_a_fix_turns_green_once_the_errors_leave_it() {
    for (s, want) in [
        ("10s", 10),
        ("10", 10),
        ("1m", 60),
        ("60s", 60),
        ("5m", 300),
        ("10m", 600),
    ] {
        assert_eq!(parse_window(s), Ok(want), "{s}");
    }
    for bad in ["2m", "0", "abc", "", "-1m"] {
        let e = parse_window(bad).unwrap_err();
        assert!(e.contains("use 10s, 1m, 5m or 10m"), "{bad}: {e}");
    }
    let out = |code, flags: &str, host: &str| {
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            code,
            flags,
            REC,
            host,
        )
    };
    // Errors until 12 s ago (the fault), then only good answers.
    let mut log = vec![];
    for t in ["11:59:30", "11:59:40", "11:59:48"] {
        log.push(at(
            out(503, "UF", "127.0.0.1:2001"),
            &format!("2026-01-01T{t}Z"),
        ));
    }
    for t in ["11:59:52", "11:59:55", "11:59:59"] {
        log.push(at(
            out(200, "-", "127.0.0.1:2001"),
            &format!("2026-01-01T{t}Z"),
        ));
    }
    let input = Input {
        pods: pods(),
        logs: preference_log(log),
        now: now(),
        ..Input::default()
    };
    let short = build(&input);
    let e = edge(&short, "preference-v1", "recommendation-v1", false);
    assert_eq!(
        (
            e.requests,
            e.errors,
            e.window_requests,
            e.health,
            short.window_seconds
        ),
        (6, 3, 3, Health::Healthy, 10)
    );
    assert_eq!(e.rps, 0.3);
    let minute = build_view(&input, None, 60);
    let e = edge(&minute, "preference-v1", "recommendation-v1", false);
    assert_eq!((e.window_requests, e.health), (6, Health::Failure));
}

#[test]
fn requests_before_since_are_not_drawn_nor_the_nodes_only_they_named() {
    let old = at(
        entry(
            "outbound_0.0.0.0_80",
            "worldclockapi.com",
            200,
            "-",
            "PassthroughCluster",
            "127.0.0.1:7",
        ),
        "2026-01-01T11:59:40Z",
    );
    let refused = at(
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            503,
            "UH",
            REC,
            "-",
        ),
        "2026-01-01T11:59:41Z",
    );
    let new = at(
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            200,
            "-",
            REC,
            "127.0.0.1:2002",
        ),
        "2026-01-01T11:59:55Z",
    );
    let mut input = Input {
        pods: pods(),
        logs: preference_log(vec![old, refused, new]),
        now: now(),
        ..Input::default()
    };
    assert_eq!(build(&input).edges.len(), 3, "without since, all of it");
    input.since = Some(now() - chrono::Duration::seconds(10));
    let g = build(&input);
    assert_eq!(g.since.as_deref(), Some("2026-01-01T11:59:50.000Z"));
    assert_eq!(g.edges.len(), 1, "{:#?}", g.edges);
    assert_eq!(
        edge(&g, "preference-v1", "recommendation-v2", false).requests,
        1
    );
    let ids: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "istio-ingressgateway",
            "preference-v1",
            "recommendation-v1",
            "recommendation-v2"
        ]
    );
    // A later `since` (a guided step) narrows it; an earlier one cannot widen past the input's.
    let later = build_since(&input, now() - chrono::Duration::seconds(2));
    assert!(later.edges.is_empty(), "{:#?}", later.edges);
    let earlier = build_since(&input, now() - chrono::Duration::seconds(60));
    assert_eq!(earlier.edges, g.edges);
}

#[test]
fn a_missing_subset_of_a_mesh_service_stays_its_service_node_marked_with_what_is_missing() {
    let mut nc = entry(
        "outbound_0.0.0.0_8080",
        "recommendation:8080",
        503,
        "NC",
        "-",
        "-",
    );
    nc.route_name = None;
    nc.response_code_details = Some("cluster_not_found".into());
    let v3 = "outbound|8080|version-v3|recommendation.tutorial.svc.cluster.local";
    let g = build(&Input {
        pods: pods(),
        logs: preference_log(vec![nc.clone(), nc]),
        now: now(),
        services: vec!["recommendation.tutorial.svc.cluster.local".into()],
        missing_clusters: vec![
            ("preference-v1".into(), v3.into()),
            (
                "customer".into(),
                "outbound|8080|version-v9|recommendation.tutorial.svc.cluster.local".into(),
            ),
        ],
        ..Input::default()
    });
    let e = edge(&g, "preference-v1", "service:recommendation", false);
    assert_eq!(
        (e.requests, e.errors, e.via, e.health),
        (2, 2, WayOut::MissingCluster, Health::Failure)
    );
    assert_eq!(e.why.len(), 1, "{:?}", e.why);
    assert!(e.why[0].starts_with("503 NC (no cluster: "), "{:?}", e.why);
    let n = g
        .nodes
        .iter()
        .find(|n| n.id == "service:recommendation")
        .unwrap();
    assert_eq!(
        (n.kind.as_str(), n.group.as_str()),
        ("service", "recommendation")
    );
    assert_eq!(
        n.missing.as_deref(),
        Some("subset version-v3: no cluster (503 NC) — no DestinationRule defines it")
    );
    assert!(
        g.nodes.iter().all(|n| n.kind != "external"),
        "{:#?}",
        g.nodes
    );
}

#[test]
fn missing_clusters_are_the_routed_ones_the_proxy_does_not_have() {
    let v = |s: &str| format!("outbound|8080|{s}|recommendation.tutorial.svc.cluster.local");
    let routes: RouteConfiguration = from_json(&serde_json::json!({"virtual_hosts": [
        {"name": "a", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": v("version-v3")}}]},
        {"name": "b", "domains": ["*"], "routes": [
            {"match": {"prefix": "/"}, "route": {"weighted_clusters": {"clusters": [
                {"name": v("version-v1"), "weight": 50}, {"name": v("version-v4"), "weight": 50}]}}},
            {"match": {"prefix": "/"}, "direct_response": {"status": 502}}]}]}))
    .unwrap();
    let clusters = vec![Cluster {
        name: v("version-v1"),
        ..Cluster::default()
    }];
    assert_eq!(
        missing_clusters(&[routes], &clusters),
        BTreeSet::from([v("version-v3"), v("version-v4")])
    );
}

#[test]
fn no_healthy_upstream_right_after_readiness_before_the_first_pod_reached_is_the_start_not_an_error()
 {
    let gw = |code, flags: &str, host: &str, ms: i64| {
        let t = now() + chrono::Duration::milliseconds(ms);
        let e = entry(
            "0.0.0.0_8080",
            "127.0.0.1:8080",
            code,
            flags,
            "outbound|8080||customer.tutorial.svc.cluster.local",
            host,
        );
        at(e, &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    let mut pods = pods();
    pods.push(pod("customer", "v1", "127.0.0.1:3001", true, true));
    let input = |entries| Input {
        pods: pods.clone(),
        logs: vec![ProxyLog {
            proxy: GATEWAY.into(),
            entries,
        }],
        now: now() + chrono::Duration::seconds(5),
        since: Some(now()),
        ..Input::default()
    };
    // Refused while the gateway's workers had no endpoint yet, then routed: only the 200 is drawn.
    let g = build(&input(vec![
        gw(503, "UH", "-", 10),
        gw(200, "-", "127.0.0.1:3001", 40),
    ]));
    assert_eq!(g.edges.len(), 1, "{:#?}", g.edges);
    assert_eq!(
        (g.edges[0].target.as_str(), g.edges[0].errors),
        ("customer", 0)
    );
    // After the first pod was reached, or after the grace, a 503 UH is the mesh's: drawn.
    let g = build(&input(vec![
        gw(200, "-", "127.0.0.1:3001", 10),
        gw(503, "UH", "-", 40),
        gw(503, "UH", "-", 3000),
    ]));
    let svc = edge(&g, GATEWAY, "service:customer", false);
    assert_eq!((svc.requests, svc.errors), (2, 2));
    let late = build(&input(vec![gw(503, "UH", "-", 1500)]));
    assert_eq!(edge(&late, GATEWAY, "service:customer", false).errors, 1);
}

#[test]
fn a_denial_by_the_receivers_sidecar_is_said_on_the_senders_edge() {
    // preference's entry only logs the 403 it got; recommendation-v1's inbound says RBAC denied it.
    let sent = with_id(
        entry(
            "outbound_0.0.0.0_8080",
            "recommendation:8080",
            403,
            "-",
            REC,
            "127.0.0.1:2001",
        ),
        "a",
    );
    let mut denied = with_id(
        entry("virtualInbound", "recommendation:8080", 403, "-", "-", "-"),
        "a",
    );
    denied.response_code_details = Some("rbac_access_denied_matched_policy[none]".into());
    let logs = |inbound: AccessLogEntry| {
        vec![
            ProxyLog {
                proxy: "preference-v1".into(),
                entries: vec![sent.clone()],
            },
            ProxyLog {
                proxy: "recommendation-v1".into(),
                entries: vec![inbound],
            },
        ]
    };
    let g = build(&Input {
        pods: pods(),
        logs: logs(denied.clone()),
        now: now(),
        ..Input::default()
    });
    let e = edge(&g, "preference-v1", "recommendation-v1", false);
    assert_eq!(e.codes.get("403"), Some(&1));
    assert_eq!(
        e.why,
        ["403 RBAC (denied: no AuthorizationPolicy rule allows it (RBAC: access denied))"]
    );
    assert_eq!(g.edges.len(), 1, "no edge of its own: {:#?}", g.edges);
    // The app's own 403 passed through says nothing more.
    denied.response_code_details = Some("via_upstream".into());
    let g = build(&Input {
        pods: pods(),
        logs: logs(denied),
        now: now(),
        ..Input::default()
    });
    assert!(
        edge(&g, "preference-v1", "recommendation-v1", false)
            .why
            .is_empty()
    );
}
