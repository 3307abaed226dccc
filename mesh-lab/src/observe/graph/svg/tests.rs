//! The SVG's tests: node lines, edge labels and titles, health colours, escaping, empty graphs.

use std::collections::{BTreeMap, BTreeSet};

use super::super::model;
use super::*;

/// A `<text>` element's content as the svg crate writes it (on a line of its own).
fn text_of(content: &str) -> String {
    format!(">\n{content}\n</text>")
}

fn node(id: &str, app: &str, version: Option<&str>, kind: &str, group: &str) -> Node {
    Node {
        id: id.into(),
        app: app.into(),
        version: version.map(str::to_owned),
        kind: kind.into(),
        group: group.into(),
        missing_sidecar: false,
        running: true,
        missing: None,
    }
}

fn edge(source: &str, target: &str, requests: usize, errors: usize, health: Health) -> Edge {
    Edge {
        source: source.into(),
        target: target.into(),
        requests,
        errors,
        rps: requests as f64 / 60.0,
        window_requests: requests,
        window_errors: errors,
        error_pct: if requests == 0 {
            0.0
        } else {
            errors as f64 * 100.0 / requests as f64
        },
        health,
        codes: [("200".to_owned(), requests - errors)]
            .into_iter()
            .chain((errors > 0).then(|| ("503 UF".to_owned(), errors)))
            .collect::<BTreeMap<_, _>>(),
        routes: BTreeSet::from(["default".to_owned()]),
        clusters: BTreeSet::new(),
        via: WayOut::Mesh,
        mirror: false,
        retries: 0,
        first: None,
        last: None,
        why: Vec::new(),
    }
}

#[test]
fn node_lines_name_each_kind_and_its_state() {
    let mut missing = node(
        "recommendation-v3",
        "recommendation",
        Some("v3"),
        "workload",
        "recommendation",
    );
    missing.missing_sidecar = true;
    let mut gone = node(
        "recommendation-v2",
        "recommendation",
        Some("v2"),
        "workload",
        "recommendation",
    );
    gone.running = false;
    gone.missing_sidecar = true;
    let cases = [
        (
            node(
                "customer-v1",
                "customer",
                Some("v1"),
                "workload",
                "customer",
            ),
            ("v1", "2/2"),
        ),
        (missing, ("v3", "missing sidecar (1/1)")),
        (gone, ("v2", "pod gone")),
        (
            node(
                "svc:recommendation",
                "recommendation",
                None,
                "service",
                "recommendation",
            ),
            ("recommendation", "service"),
        ),
        (
            node(
                "istio-ingressgateway",
                "istio-ingressgateway",
                None,
                "gateway",
                "",
            ),
            ("istio-ingressgateway", "ingress gateway"),
        ),
        (
            node(
                "passthrough:worldclockapi.com",
                "worldclockapi.com",
                None,
                "external",
                "passthrough",
            ),
            ("worldclockapi.com", "external host"),
        ),
        (
            node("unknown:x", "x", None, "unknown", ""),
            ("x", "no sidecar sent it"),
        ),
    ];
    for (n, (name, note)) in cases {
        assert_eq!(
            node_lines(&n),
            [name.to_owned(), note.to_owned()],
            "{}",
            n.id
        );
    }
}

#[test]
fn edge_labels_give_counts_rate_errors_and_health_in_words() {
    let mut mirrored = edge("customer-v1", "recommendation-v2", 6, 0, Health::Healthy);
    mirrored.mirror = true;
    let mut retried = edge(
        "preference-v1",
        "recommendation-v2",
        120,
        6,
        Health::Degraded,
    );
    retried.retries = 4;
    let mut old_errors = edge("a", "b", 10, 3, Health::Idle);
    old_errors.window_requests = 0;
    old_errors.rps = 0.0;
    let cases = [
        (
            edge("a", "b", 30, 0, Health::Healthy),
            "30 req 0.50/s\n0 err ok",
        ),
        (mirrored, "mirror 6 req 0.10/s\n0 err ok"),
        (
            retried,
            "120 req 2.00/s\n6 err (5% now) degraded +4 retries",
        ),
        (
            edge("a", "b", 4, 4, Health::Failure),
            "4 req 0.07/s\n4 err (100% now) failing",
        ),
        (old_errors, "10 req 0.00/s\n3 err idle"),
    ];
    for (e, want) in cases {
        assert_eq!(edge_label(&e), want);
    }
}

#[test]
fn edge_titles_carry_codes_routes_clusters_and_times() {
    let mut e = edge("customer-v1", "preference-v1", 20, 2, Health::Failure);
    e.clusters
        .insert("outbound|8080||preference.tutorial.svc.cluster.local".into());
    e.retries = 1;
    e.first = Some("2026-12-01T13:05:02.123Z".into());
    e.last = Some("2026-12-01T13:06:10.000Z".into());
    assert_eq!(
        edge_title(&e, 60),
        "customer-v1 → preference-v1: 20 requests, 2 errors; last 1 min: 20 requests (0.33/s), 10.0% errors, \
         failure; codes: 200 ×18, 503 UF ×2; route default; cluster \
         outbound|8080||preference.tutorial.svc.cluster.local; 1 retries; via mesh; first 13:05:02, last 13:06:10"
    );
    let mut m = edge("customer-v1", "recommendation-v2", 1, 0, Health::Healthy);
    m.mirror = true;
    m.routes.clear();
    assert!(
        edge_title(&m, 60)
            .starts_with("customer-v1 → recommendation-v2 (mirrored copies): 1 requests"),
        "{}",
        edge_title(&m, 60)
    );
    assert!(
        !edge_title(&m, 60).contains("; route "),
        "no routes: no route part"
    );
}

#[test]
fn clock_keeps_the_time_of_day() {
    for (t, want) in [
        ("2026-12-01T13:05:02.123Z", "13:05:02"),
        ("2026-12-01T13:05:02Z", "13:05:02"),
        ("2026-12-01T13:05", "13:05"),
        ("no time", "no time"),
    ] {
        assert_eq!(clock(t), want, "{t}");
    }
}

fn graph(nodes: Vec<Node>, edges: Vec<Edge>) -> Graph {
    Graph {
        nodes,
        edges,
        window_seconds: 60,
        generated_at: "2026-12-01T13:06:10Z".into(),
        since: Some("2026-12-01T13:00:00.250Z".into()),
    }
}

fn sample() -> Graph {
    let mut v3 = node(
        "recommendation-v3",
        "recommendation",
        Some("v3"),
        "workload",
        "recommendation",
    );
    v3.missing_sidecar = true;
    graph(
        vec![
            node(model::GATEWAY, "istio-ingressgateway", None, "gateway", ""),
            node(
                "customer-v1",
                "customer",
                Some("v1"),
                "workload",
                "customer",
            ),
            node(
                "recommendation-v2",
                "recommendation",
                Some("v2"),
                "workload",
                "recommendation",
            ),
            v3,
            node(
                "passthrough:a&b<c>.example",
                "a&b<c>.example",
                None,
                "external",
                "passthrough",
            ),
        ],
        vec![
            edge(model::GATEWAY, "customer-v1", 30, 0, Health::Healthy),
            edge("customer-v1", "recommendation-v2", 30, 30, Health::Failure),
            edge(
                "customer-v1",
                "passthrough:a&b<c>.example",
                5,
                1,
                Health::Degraded,
            ),
        ],
    )
}

#[test]
fn the_svg_draws_every_node_and_edge_with_its_health_colour() {
    let svg = render(&sample());
    assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for id in [
        "istio-ingressgateway",
        "customer-v1",
        "recommendation-v2",
        "recommendation-v3",
    ] {
        assert!(svg.contains(&format!("data-id=\"{id}\"")), "node {id}");
    }
    for (class, source, target, colour, text_colour) in [
        (
            "edge healthy",
            "istio-ingressgateway",
            "customer-v1",
            "#3e8635",
            "#1e4f18",
        ),
        (
            "edge failure",
            "customer-v1",
            "recommendation-v2",
            "#c9190b",
            "#a30000",
        ),
        (
            "edge degraded",
            "customer-v1",
            "passthrough:a&amp;b&lt;c&gt;.example",
            "#f0ab00",
            "#795600",
        ),
    ] {
        let start = svg
            .find(&format!("class=\"{class}\" data-errors="))
            .unwrap_or_else(|| panic!("no {class} edge in {svg}"));
        let group = &svg[start..start + svg[start..].find("</g>").unwrap()];
        assert!(
            group.contains(&format!("data-source=\"{source}\"")),
            "{group}"
        );
        assert!(
            group.contains(&format!("data-target=\"{target}\"")),
            "{group}"
        );
        assert!(group.contains(&format!("stroke=\"{colour}\"")), "{group}");
        assert!(
            group.contains(&format!("fill=\"{text_colour}\"")),
            "label text in the darker tone: {group}"
        );
        let word = class.trim_start_matches("edge ");
        assert!(
            group.contains(&format!("marker-end=\"url(#arrow-{word})\"")),
            "{group}"
        );
    }
    // Labels, as text lines.
    assert!(svg.contains(&text_of("30 req 0.50/s")), "{svg}");
    assert!(svg.contains(&text_of("30 err (100% now) failing")));
    assert!(svg.contains(&text_of("missing sidecar (1/1)")));
    assert!(svg.contains("class=\"node-box missing\""));
    assert!(svg.contains("class=\"node-box gateway\""));
    // Boxes: one per app, a dashed one for how egress left.
    assert!(svg.contains(&text_of("app recommendation")));
    assert!(svg.contains(&text_of("app customer")));
    assert!(svg.contains(&text_of("PassthroughCluster (not governed)")));
    assert!(svg.contains("class=\"group-box external\""));
    assert!(
        svg.contains("3 edge(s)") || svg.contains("and 3 edges"),
        "the description counts the edges"
    );
    assert!(!svg.contains("No traffic yet"));
    // Hover texts of nodes: requests in and out, and why a missing sidecar hides traffic.
    assert!(
        svg.contains("<title>customer v1 (2/2): 30 requests in, 35 out</title>"),
        "{svg}"
    );
    assert!(svg.contains(
        "<title>recommendation v3 (missing sidecar (1/1)): 0 requests in, 0 out; without a sidecar it logs \
         nothing, so its outgoing traffic is invisible (Kiali: missing sidecar)</title>"
    ));
    assert!(
        svg.contains(
            "<title>istio-ingressgateway (ingress gateway): 0 requests in, 30 out</title>"
        )
    );
}

#[test]
fn names_are_escaped_in_text_titles_and_attributes() {
    let svg = render(&sample());
    assert!(svg.contains(&text_of("a&amp;b&lt;c&gt;.example")), "{svg}");
    assert!(svg.contains("data-id=\"passthrough:a&amp;b&lt;c&gt;.example\""));
    assert!(svg.contains("<title>customer-v1 → passthrough:a&amp;b&lt;c&gt;.example: 5 requests"));
    assert!(
        !svg.contains("a&b"),
        "an unescaped & would make the SVG invalid XML"
    );
    assert!(
        !svg.contains("b<c"),
        "an unescaped < would make the SVG invalid XML"
    );
}

/// `render` handles a graph without nodes (its bounds default to 400×100); layout-rs panics on an
/// empty graph, so it must not be asked to lay one out.
#[test]
fn a_graph_without_nodes_renders_instead_of_panicking() {
    let svg = render(&graph(vec![], vec![]));
    assert!(svg.contains("0 nodes and 0 edges"));
    assert!(svg.contains(&text_of(
        "No traffic yet: send some, e.g. sh scripts/run.sh 4 $GATEWAY_URL"
    )));
}

#[test]
fn a_graph_without_edges_says_there_is_no_traffic_yet_and_keeps_the_legend() {
    // What `build` gives before any request: the gateway alone.
    let svg = render(&graph(
        vec![node(
            model::GATEWAY,
            "istio-ingressgateway",
            None,
            "gateway",
            "",
        )],
        vec![],
    ));
    assert!(svg.contains(&text_of(
        "No traffic yet: send some, e.g. sh scripts/run.sh 4 $GATEWAY_URL"
    )));
    assert!(svg.contains("1 nodes and 0 edges"));
    for (colour, words) in [
        ("#3e8635", "ok: no errors"),
        ("#f0ab00", "degraded: some 5xx (&lt;10 %)"),
        ("#c9190b", "failing: ≥10 % 5xx"),
        ("#8a8d90", "idle: none"),
    ] {
        assert!(
            svg.contains(&format!("stroke=\"{colour}\"")),
            "legend {colour}"
        );
        assert!(svg.contains(&text_of(words)), "legend {words}: {svg}");
    }
    for h in HEALTHS {
        assert!(
            svg.contains(&format!("id=\"arrow-{}\"", h.word())),
            "marker {}",
            h.word()
        );
    }
}

/// Every `font-size: Npx` of the SVG's style.
fn font_sizes(svg: &str) -> Vec<f64> {
    svg.split("font-size: ")
        .skip(1)
        .map(|s| s.split("px").next().unwrap().parse().unwrap())
        .collect()
}

/// An attribute of the `<svg>` element.
fn svg_attr<'a>(svg: &'a str, name: &str) -> &'a str {
    let head = &svg[..svg.find('>').unwrap()];
    let at = head.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    &head[at..at + head[at..].find('"').unwrap()]
}

#[test]
fn the_picture_keeps_its_natural_size_with_text_of_13_px_and_up_and_scales_on_request() {
    let svg = render(&sample());
    let sizes = font_sizes(&svg);
    assert!(
        !sizes.is_empty() && sizes.iter().all(|s| *s >= 13.0),
        "{sizes:?}"
    );
    let view: Vec<f64> = svg_attr(&svg, "viewBox")
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(
        svg_attr(&svg, "width"),
        format!("{}px", view[2]),
        "not scaled down to a width"
    );
    assert_eq!(svg_attr(&svg, "height"), format!("{}px", view[3]));
    let big = render_scaled(&sample(), 1.5);
    assert_eq!(svg_attr(&big, "viewBox"), svg_attr(&svg, "viewBox"));
    assert_eq!(svg_attr(&big, "width"), format!("{:.0}px", view[2] * 1.5));
    assert_eq!(parse_scale("1.5"), Ok(1.5));
    for bad in ["0.1", "4", "big", ""] {
        assert!(
            parse_scale(bad).unwrap_err().contains("from 0.5 to 3"),
            "{bad}"
        );
    }
}

#[test]
fn a_failure_reason_is_said_in_words_on_the_edge_and_what_is_missing_on_the_node() {
    let mut e = edge(
        "preference-v1",
        "service:recommendation",
        3,
        3,
        Health::Failure,
    );
    e.why = vec![
        "503 NC (no cluster: the route names a cluster the proxy does not have)".into(),
        "503 UH (no healthy upstream: the cluster has no endpoint)".into(),
    ];
    assert_eq!(
        edge_label(&e),
        "3 req 0.05/s\n3 err (100% now) failing\n503 NC: no cluster +1 more"
    );
    assert_eq!(
        short_why("403 RBAC (denied: no rule allows it (RBAC: access denied))"),
        "403 RBAC"
    );
    assert_eq!(
        short_why("503 URX,UF (retries exhausted: …)"),
        "503 URX,UF: retries exhausted"
    );
    assert!(
        edge_title(&e, 10).ends_with("; 503 UH (no healthy upstream: the cluster has no endpoint)")
    );
    let mut n = node(
        "service:recommendation",
        "recommendation",
        None,
        "service",
        "recommendation",
    );
    n.missing =
        Some("subset version-v3: no cluster (503 NC) — no DestinationRule defines it".into());
    assert_eq!(
        node_lines(&n),
        [
            "recommendation",
            "service",
            "subset version-v3:",
            "no cluster (503 NC)",
            "no DestinationRule defines it"
        ]
    );
    let svg = render(&graph(vec![n.clone()], vec![]));
    assert!(svg.contains("node-box missing"), "{svg}");
    assert!(
        svg.contains(&text_of("no DestinationRule defines it")),
        "{svg}"
    );
}

#[test]
fn every_node_and_edge_links_to_its_details_on_the_page() {
    let mut g = sample();
    g.edges[1].why = vec!["503 UF (upstream connection failure: nothing listens)".into()];
    let page = super::super::page::render(&g);
    let links: Vec<&str> = page
        .split("href=\"#d-")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(links.len(), g.nodes.len() + g.edges.len(), "{page}");
    for l in &links {
        assert_eq!(page.matches(&format!("id=\"d-{l}\"")).count(), 1, "d-{l}");
    }
    assert_eq!(
        edge_detail_id(&g.edges[2]),
        "d-edge--customer-v1--passthrough_3aa_26b_3cc_3e_2eexample--sent"
    );
    assert!(
        page.contains(
            "<dd class=\"why\">503 UF (upstream connection failure: nothing listens)</dd>"
        )
    );
    assert!(
        page.contains("<td>503 UF (upstream connection failure: nothing listens)</td>"),
        "the table's why"
    );
    assert!(
        page.contains("<option value=\"1m\" selected>last 1 min</option>"),
        "the window"
    );
    assert!(
        page.contains("requests since 13:00:00"),
        "since when it counts"
    );
    // Nothing in the page's style sizes the picture: it keeps its width and height in CSS px.
    let style = &page[page.find("<style>").unwrap()..page.find("</style>").unwrap()];
    let svg_rules: Vec<&str> = style.lines().filter(|l| l.contains("svg")).collect();
    assert_eq!(svg_rules, ["#graph svg { display: block; }"]);
}
