//! `show`'s tests: grouping access-log entries, route lines, egress notes, the text.

use serde_json::json;

use super::*;
use mesh_istiod::fixtures::{internet, v3};
use mesh_istiod::model::sidecar::Labels;
use mesh_istiod::networking::core::egress;

fn entry(route: &str, flags: &str, cluster: &str, code: u16) -> AccessLogEntry {
    AccessLogEntry {
        listener: Some("outbound_0.0.0.0_80".into()),
        start_time: Some("2026-01-01T11:59:50.000Z".into()),
        authority: Some("worldclockapi.com".into()),
        path: Some("/api/json/cet/now".into()),
        response_code: Some(code),
        response_flags: Some(flags.into()),
        response_code_details: None,
        route_name: Some(route.into()),
        upstream_cluster: Some(cluster.into()),
        upstream_host: None,
        user_agent: None,
        attempts: Some(1),
        duration_ms: Some(3),
        request_id: None,
    }
}

#[test]
fn traffic_rows_group_by_listener_host_route_and_cluster_with_codes_and_flags() {
    let se = "outbound|80||worldclockapi.com";
    let log = [
        entry("default", "-", se, 200),
        entry("default", "UF", se, 503),
        entry("default", "", se, 200),
        entry("allow_any", "-", "PassthroughCluster", 200),
    ];
    let rows = traffic_rows("recommendation-v3", &log);
    assert_eq!(
        rows,
        [
            TrafficRow {
                proxy: "recommendation-v3".into(),
                listener: "outbound_0.0.0.0_80".into(),
                host: "worldclockapi.com".into(),
                route: "allow_any".into(),
                cluster: "PassthroughCluster".into(),
                via: WayOut::Passthrough,
                requests: 1,
                statuses: [("200".to_owned(), 1)].into(),
            },
            TrafficRow {
                proxy: "recommendation-v3".into(),
                listener: "outbound_0.0.0.0_80".into(),
                host: "worldclockapi.com".into(),
                route: "default".into(),
                cluster: se.into(),
                via: WayOut::ServiceEntry,
                requests: 3,
                statuses: [("200".to_owned(), 2), ("503 UF".to_owned(), 1)].into(),
            },
        ]
    );
    let bare = AccessLogEntry {
        route_name: None,
        upstream_cluster: None,
        ..entry("x", "-", "x", 404)
    };
    let rows = traffic_rows("p", &[bare]);
    assert_eq!(
        (rows[0].route.as_str(), rows[0].cluster.as_str()),
        ("-", "-"),
        "no route or cluster logged: shown as -"
    );
}

/// `[name]` padded to 48 columns, then the targets.
fn line(vhost: &str, targets: &str) -> String {
    let name = format!("[{vhost}]");
    format!("{name}{} -> {targets}", " ".repeat(48 - name.len()))
}

#[test]
fn route_lines_say_where_each_route_goes_and_with_what() {
    let rc = json!({"virtual_hosts": [
        {"name": "r:8080", "routes": [
            {"match": {"prefix": "/", "case_sensitive": true, "headers": [
                {"name": "baggage-user-agent", "string_match": {"safe_regex": {"regex": ".*Safari.*"}}}]},
             "route": {"cluster": "v2", "timeout": "0s"}},
            {"match": {"prefix": "/"}, "route": {
                "weighted_clusters": {"clusters": [{"name": "v1", "weight": 90}, {"name": "v2", "weight": 10}]},
                "timeout": "1s",
                "request_mirror_policies": [{"cluster": "v3"}],
                "retry_policy": {"num_retries": 3, "retry_on": "5xx"}}},
        ]},
        {"name": "c:8080", "routes": [
            {"match": {"prefix": "/customer"}, "route": {"cluster": "c", "timeout": "0s"},
             "typed_per_filter_config": {"envoy.filters.http.fault": {
                 "abort": {"http_status": 503}, "delay": {"fixed_delay": "7s"}}}},
        ]},
        {"name": "block_all", "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 502}}]},
        {"name": "blackhole:80", "routes": []},
        {"name": "old:80", "routes": [
            {"match": {"prefix": "/old"}, "redirect": {"path_redirect": "/new", "response_code": "FOUND"}},
        ]},
    ]});
    assert_eq!(
        route_lines(&rc, &[]),
        [
            line(
                "r:8080",
                "if baggage-user-agent {\"safe_regex\":{\"regex\":\".*Safari.*\"}}: v2; \
                 v1 90%, v2 10%, timeout 1s, mirror to v3, retries 3 on 5xx"
            ),
            line(
                "c:8080",
                "if path /customer*: c, fault abort 503, fault delay 7s"
            ),
            line("block_all", "direct response 502"),
            line("blackhole:80", "(no route: 404 NR)"),
            line(
                "old:80",
                "if path /old*: redirect {\"path_redirect\":\"/new\",\"response_code\":\"FOUND\"}"
            ),
        ]
    );
    let lines = route_lines(&rc, &["v2".to_owned()]);
    assert_eq!(
        lines[1],
        line(
            "c:8080",
            "if path /customer*: c, fault abort 503, fault delay 7s (NO SUCH CLUSTER: 503, flag NC)"
        ),
        "given the clusters, a route to a missing one is marked"
    );
    assert!(!lines[0].contains("NO SUCH CLUSTER"), "{}", lines[0]);
}

/// The lab's state after applying these files of istio/, and v3's egress configuration.
fn applied(files: &[&str]) -> (LabState, EnvoyConfig) {
    let mut state = LabState::new();
    for f in files {
        let docs =
            mesh_manifests::load_file(format!("{}/../istio/{f}", env!("CARGO_MANIFEST_DIR")))
                .unwrap_or_else(|e| panic!("{f}: {e}"));
        state.apply(&docs).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let config = egress::to_envoy(
        &state.resources(),
        state.mesh_mode,
        &internet(),
        &v3(),
        mesh_istiod::model::release::IstioRelease::CURRENT,
    )
    .unwrap();
    (state, config)
}

#[test]
fn egress_routes_mark_the_wrong_port_service_entrys_missing_cluster() {
    let (_, config) = applied(&[
        "service-entry-egress-worldclockapi-wrong-port.yml",
        "virtual-service-worldclockapi-timeout.yml",
    ]);
    assert_eq!(
        routes(&config),
        [
            line(
                "worldclockapi.com:80",
                "outbound|80||worldclockapi.com, timeout 3s, retries 2 on \
                 connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes \
                 (NO SUCH CLUSTER: 503, flag NC)"
            ),
            line("allow_any", "PassthroughCluster"),
        ]
    );
}

#[test]
fn egress_notes_explain_each_egress_lab_step() {
    let passthrough = "the catch-all allow_any -> PassthroughCluster: nothing in the mesh governs them \
                       (no timeout, no retries, no ServiceEntry)";
    let cases: Vec<(&str, Vec<&str>, Vec<String>)> = vec![
        ("nothing applied: nothing to say", vec![], vec![]),
        (
            "step 5: the port-81 entry does not catch port 80",
            vec!["service-entry-egress-worldclockapi-wrong-port.yml"],
            vec![format!(
                "ServiceEntry worldclockapi-egress-rule declares worldclockapi.com on port(s) [81] only, but the \
                 app calls port 80: those requests do not match it and take {passthrough}."
            )],
        ),
        (
            "step 6: the VirtualService routes port 80 to a cluster nobody declared",
            vec![
                "service-entry-egress-worldclockapi-wrong-port.yml",
                "virtual-service-worldclockapi-timeout.yml",
            ],
            vec!["Virtual host worldclockapi.com:80 routes to outbound|80||worldclockapi.com, a cluster that \
                  does not exist (no ServiceEntry declares that host and port): Envoy answers 503 with an \
                  empty body, response flag NC."
                .to_owned()],
        ),
        (
            "step 8: port 80 declared, nothing to notice",
            vec![
                "service-entry-egress-worldclockapi.yml",
                "virtual-service-worldclockapi-timeout.yml",
            ],
            vec![],
        ),
        (
            "step 10: a namespace Sidecar makes v3 REGISTRY_ONLY under an ALLOW_ANY mesh",
            vec!["sidecar-registry-only.yml", "service-entry-egress-worldclockapi-wrong-port.yml"],
            vec![
                "ServiceEntry worldclockapi-egress-rule declares worldclockapi.com on port(s) [81] only, but the \
                 app calls port 80: those requests do not match it and take the catch-all block_all: Envoy \
                 answers 502 with an empty body (REGISTRY_ONLY)."
                    .to_owned(),
                "A Sidecar sets REGISTRY_ONLY for recommendation v3's sidecar (the mesh-wide mode is ALLOW_ANY)."
                    .to_owned(),
            ],
        ),
    ];
    for (why, files, want) in cases {
        let (state, config) = applied(&files);
        assert_eq!(egress_notes(&state, &config, &[]), want, "{why}");
    }
    let (state, config) = applied(&[]);
    let log = [
        entry("allow_any", "-", "PassthroughCluster", 200),
        entry("allow_any", "-", "PassthroughCluster", 200),
        entry("default", "-", "outbound|80||worldclockapi.com", 200),
    ];
    assert_eq!(
        egress_notes(&state, &config, &log),
        [
            "2 request(s) so far left through PassthroughCluster: egress that no ServiceEntry governs (on a \
          cluster Kiali shows them going to PassthroughCluster)."
        ]
    );
}

fn workload(pod: &str, sidecar: bool, policies: &[&str]) -> WorkloadRow {
    WorkloadRow {
        name: pod.rsplit_once('-').unwrap().0.into(),
        pod: pod.into(),
        labels: Labels::new(),
        app: "127.0.0.1:18001".into(),
        inbound: sidecar.then(|| "127.0.0.1:18101".into()),
        ready: if sidecar { "2/2" } else { "1/1" }.into(),
        identity: sidecar.then(|| "spiffe://cluster.local/ns/tutorial/sa/default".into()),
        mtls: if sidecar {
            "PERMISSIVE (mesh default)"
        } else {
            "none"
        }
        .into(),
        policies: policies.iter().map(|p| (*p).to_owned()).collect(),
    }
}

fn proxy_routes(proxy: &str, lines: &[&str]) -> ProxyRoutes {
    ProxyRoutes {
        proxy: proxy.into(),
        route_config: "8080".into(),
        routes: lines.iter().map(|l| (*l).to_owned()).collect(),
    }
}

fn show() -> Show {
    Show {
        gateway_url: "http://127.0.0.1:18080".into(),
        mesh_mode: "ALLOW_ANY".into(),
        mesh_mode_source: "default".into(),
        istio: "Istio 1.20: a 503 is retried by default".into(),
        jwks: vec!["https://keys.example/jwks.json".into()],
        fault: "none".into(),
        workloads: vec![
            workload("customer-1", true, &["AuthorizationPolicy customer: ALLOW"]),
            workload("recommendation-v3-1", false, &[]),
        ],
        objects: vec![ObjectSummary {
            kind: "VirtualService".into(),
            name: "recommendation".into(),
            file: "istio/virtual-service-recommendation-v1.yml".into(),
            summary: "recommendation -> version-v1".into(),
        }],
        routes: vec![
            proxy_routes("customer", &["[a] -> x"]),
            proxy_routes("preference", &["[a] -> x"]),
            proxy_routes("recommendation-v1", &["[a] -> y"]),
        ],
        traffic: vec![],
        notes: vec!["look here".into()],
        explained: vec![],
    }
}

#[test]
fn render_prints_pods_objects_shared_routes_once_and_notes() {
    let pod = |name: &str, rest: &str| format!("  {name}{} {rest}", " ".repeat(42 - name.len()));
    let want = [
        "gateway: http://127.0.0.1:18080".to_owned(),
        "istiod defaults: Istio 1.20: a 503 is retried by default (mesh-lab up --istio)".into(),
        "jwksUri https://keys.example/jwks.json: the key set given by mesh-lab jwks set".into(),
        "mesh outboundTrafficPolicy mode: ALLOW_ANY (from default); time API fault: none".into(),
        String::new(),
        "Pods:".into(),
        pod(
            "customer-1",
            "2/2  app 127.0.0.1:18001  inbound 127.0.0.1:18101  mTLS PERMISSIVE (mesh default)  \
             spiffe://cluster.local/ns/tutorial/sa/default",
        ),
        "      AuthorizationPolicy customer: ALLOW".into(),
        pod(
            "recommendation-v3-1",
            "1/1  app 127.0.0.1:18001  inbound (no sidecar)  mTLS none  (no identity)",
        ),
        String::new(),
        "Applied objects:".into(),
        "  virtualservice.networking.istio.io/recommendation  recommendation -> version-v1  \
         [istio/virtual-service-recommendation-v1.yml]"
            .into(),
        String::new(),
        "Route configuration \"8080\" of customer, preference:".into(),
        "  [a] -> x".into(),
        String::new(),
        "Route configuration \"8080\" of recommendation-v1:".into(),
        "  [a] -> y".into(),
        String::new(),
        "Traffic so far (access logs):".into(),
        "  (none)".into(),
        String::new(),
        "Notes:".into(),
        "  ! look here".into(),
    ];
    assert_eq!(render(&show()), want.join("\n") + "\n");
}

#[test]
fn render_prints_one_traffic_line_per_row_and_no_notes_heading_without_notes() {
    let mut s = show();
    s.notes.clear();
    s.traffic = traffic_rows(
        "recommendation-v3",
        &[
            entry("default", "-", "outbound|80||worldclockapi.com", 200),
            entry("default", "UT", "outbound|80||worldclockapi.com", 504),
        ],
    );
    let text = render(&s);
    let traffic = text
        .split("Traffic so far (access logs):\n")
        .nth(1)
        .unwrap();
    assert_eq!(
        traffic,
        [
            "  recommendation-v3      ",
            "outbound_0.0.0.0_80  ",
            "worldclockapi.com            ",
            "route default        ",
            "-> outbound|80||worldclockapi.com                             ",
            "   2  200 x1, 504 UT x1\n",
        ]
        .concat(),
        "columns of 22, 20, 28, 14 and 58 characters, then the count right-aligned in 4"
    );
    assert!(!text.contains("Notes:"));
}

#[test]
fn an_object_a_note_is_about_is_marked() {
    let mut s = show();
    s.notes = vec![
        "VirtualService recommendation routes to subset version-v3 of recommendation, …".into(),
    ];
    assert!(
        render(&s).contains("[istio/virtual-service-recommendation-v1.yml]  ! see Notes\n"),
        "{}",
        render(&s)
    );
    s.notes = vec!["VirtualService recommendation-other routes …".into()];
    assert!(!render(&s).contains("! see Notes"), "another object's note");
}

#[test]
fn a_route_line_naming_a_podless_subset_is_marked_once_whatever_its_weight() {
    let mut routes = vec![proxy_routes(
        "preference-v1",
        &[
            "[r] -> outbound|8080|version-v1|r.tutorial.svc.cluster.local 50%, outbound|8080|version-v3|r.tutorial.svc.cluster.local 50%",
            "[s] -> outbound|8080|version-v1|r.tutorial.svc.cluster.local",
        ],
    )];
    mark_podless(
        &mut routes,
        &["|version-v3|r.tutorial.svc.cluster.local".to_owned()],
    );
    assert!(routes[0].routes[0].ends_with("50% (NO POD OF THAT SUBSET RUNS: 503, flag UH)"));
    assert!(!routes[0].routes[1].contains("NO POD"));
}
