//! The graph model's tests: health from response codes, edges from outbound entries, egress nodes, mirrored
//! copies, the window, gone pods and missing sidecars.

use super::*;

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
    });
    let v1 = edge(&g, "preference-v1", "recommendation-v1", false);
    assert_eq!((v1.requests, v1.errors, v1.health), (1, 0, Health::Healthy));
    let v2 = edge(&g, "preference-v1", "recommendation-v2", false);
    assert_eq!(v2.requests, 2);
    assert_eq!(v2.codes, BTreeMap::from([("200".to_owned(), 2)]));
    assert_eq!(v2.rps, 2.0 / 60.0);
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
    });
    let mirror = edge(&g, "preference-v1", "recommendation-v2", true);
    assert_eq!((mirror.requests, mirror.via), (1, WayOut::Mirror));
    assert_eq!(g.edges.len(), 2, "{:#?}", g.edges);
}
