//! The graph as SVG: positions from `layout-rs` (a Sugiyama-style layered layout, left to right), the picture
//! written with the `svg` crate. layout-rs has no clusters (subgraphs), so the app and egress boxes are drawn
//! around the positions it gives each group's nodes (a group's members share callers, so they land next to
//! each other in one layer). Each node and edge carries a `<title>` (hover: codes with Envoy's flags, routes,
//! clusters), labels are text, and colour is never the only sign: every edge label names its health.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write;

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;
use svg::Document;
use svg::node::element::{
    Definitions, Description, Group, Marker, Path, Rectangle, Style, Text, Title,
};

use super::model::{Edge, Graph, Health, Node, group_title};

/// Kiali's edge colours (PatternFly's success, warning, danger; grey for no traffic in the window).
pub fn colour(h: Health) -> &'static str {
    match h {
        Health::Healthy => "#3e8635",
        Health::Degraded => "#f0ab00",
        Health::Failure => "#c9190b",
        Health::Idle => "#8a8d90",
    }
}

/// Darker tones of the same colours for text on white (readable contrast).
fn text_colour(h: Health) -> &'static str {
    match h {
        Health::Healthy => "#1e4f18",
        Health::Degraded => "#795600",
        Health::Failure => "#a30000",
        Health::Idle => "#4f5255",
    }
}

const NODE_H: f64 = 46.0;
const CHAR_W: f64 = 8.6;
const LABEL_FONT: usize = 7;
const GROUP_PAD: f64 = 14.0;
const GROUP_TITLE: f64 = 20.0;

/// What layout-rs drew, captured instead of drawn: node boxes and edge paths by the index in their
/// `properties`, edge-label positions by their text (connectors are drawn in edge order).
#[derive(Default)]
struct Capture {
    boxes: HashMap<usize, (Point, Point)>,
    paths: HashMap<usize, Vec<(Point, Point)>>,
    labels: HashMap<String, VecDeque<usize>>,
    label_at: HashMap<usize, Point>,
}

impl RenderBackend for Capture {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        _: &StyleAttr,
        properties: Option<String>,
        _: Option<ClipHandle>,
    ) {
        if let Some(i) = properties.and_then(|p| p.parse().ok()) {
            self.boxes.insert(i, (xy, size));
        }
    }
    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_text(&mut self, xy: Point, text: &str, _: &StyleAttr) {
        if let Some(i) = self.labels.get_mut(text).and_then(VecDeque::pop_front) {
            self.label_at.insert(i, xy);
        }
    }
    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _: bool,
        _: (bool, bool),
        _: &StyleAttr,
        properties: Option<String>,
        _: &str,
    ) {
        if let Some(i) = properties.and_then(|p| p.parse().ok()) {
            self.paths.insert(i, path.to_vec());
        }
    }
    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// A node's two lines: its name and what to know about it.
pub fn node_lines(n: &Node) -> (String, String) {
    match n.kind.as_str() {
        "workload" => (
            n.version.clone().unwrap_or_default(),
            if !n.running {
                "pod gone".into()
            } else if n.missing_sidecar {
                "missing sidecar (1/1)".into()
            } else {
                "2/2".into()
            },
        ),
        "service" => (n.app.clone(), "service".into()),
        "gateway" => ("istio-ingressgateway".into(), "ingress gateway".into()),
        "external" => (n.app.clone(), "external host".into()),
        _ => (n.app.clone(), "no sidecar sent it".into()),
    }
}

fn fmt_rps(rps: f64) -> String {
    format!("{rps:.2}/s")
}

/// An edge's label: requests and rate, errors and the health in words (colour is not the only sign).
pub fn edge_label(e: &Edge) -> String {
    let first = if e.mirror {
        format!("mirror {} req {}", e.requests, fmt_rps(e.rps))
    } else {
        format!("{} req {}", e.requests, fmt_rps(e.rps))
    };
    let mut second = if e.errors > 0 {
        format!("{} err", e.errors)
    } else {
        "0 err".to_owned()
    };
    if e.window_requests > 0 && e.errors > 0 {
        let _ = write!(second, " ({:.0}% now)", e.error_pct);
    }
    let word = match e.health {
        Health::Healthy => "ok",
        Health::Degraded => "degraded",
        Health::Failure => "failing",
        Health::Idle => "idle",
    };
    let _ = write!(second, " {word}");
    if e.retries > 0 {
        let _ = write!(second, " +{} retries", e.retries);
    }
    format!("{first}\n{second}")
}

/// The hover text of an edge: both ends, counts, codes with Envoy's flags, routes and clusters.
pub fn edge_title(e: &Edge) -> String {
    let codes: Vec<String> = e.codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let mut t = format!(
        "{} → {}{}: {} requests, {} errors; last {} s: {} requests ({}), {:.1}% errors, {}; codes: {}",
        e.source,
        e.target,
        if e.mirror { " (mirrored copies)" } else { "" },
        e.requests,
        e.errors,
        super::model::WINDOW_SECONDS,
        e.window_requests,
        fmt_rps(e.rps),
        e.error_pct,
        e.health.word(),
        codes.join(", ")
    );
    if !e.routes.is_empty() {
        let _ = write!(
            t,
            "; route {}",
            e.routes.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if !e.clusters.is_empty() {
        let _ = write!(
            t,
            "; cluster {}",
            e.clusters.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if e.retries > 0 {
        let _ = write!(t, "; {} retries", e.retries);
    }
    let _ = write!(t, "; via {}", e.via);
    if let (Some(first), Some(last)) = (&e.first, &e.last) {
        let _ = write!(t, "; first {}, last {}", clock(first), clock(last));
    }
    t
}

/// `2026-12-01T13:05:02.123Z` → `13:05:02` (the time of day is what a trainee compares).
pub fn clock(rfc3339: &str) -> &str {
    rfc3339
        .split_once('T')
        .map_or(rfc3339, |(_, t)| t.get(..8).unwrap_or(t))
}

fn node_title(n: &Node, g: &Graph) -> String {
    let (a, b) = node_lines(n);
    let inn: usize = g
        .edges
        .iter()
        .filter(|e| e.target == n.id)
        .map(|e| e.requests)
        .sum();
    let out: usize = g
        .edges
        .iter()
        .filter(|e| e.source == n.id)
        .map(|e| e.requests)
        .sum();
    let mut t = match n.kind.as_str() {
        "workload" => format!("{} {a} ({b}): {inn} requests in, {out} out", n.app),
        _ => format!("{a} ({b}): {inn} requests in, {out} out"),
    };
    if n.missing_sidecar {
        t.push_str(
            "; without a sidecar it logs nothing, so its outgoing traffic is invisible (Kiali: missing sidecar)",
        );
    }
    t
}

fn group_label(name: &str, external: bool) -> String {
    if external {
        group_title(name).to_owned()
    } else {
        format!("app {name}")
    }
}

fn node_width(n: &Node) -> f64 {
    let (a, b) = node_lines(n);
    (a.chars().count().max(b.chars().count()) as f64 * CHAR_W + 28.0).max(96.0)
}

/// Node positions (top-left, size), edge paths and label positions from layout-rs.
struct Placed {
    boxes: Vec<(Point, Point)>,
    paths: Vec<Vec<(Point, Point)>>,
    labels: Vec<Option<Point>>,
}

fn place(g: &Graph) -> Placed {
    let mut vg = VisualGraph::new(Orientation::LeftToRight);
    let index: BTreeMap<&str, usize> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut handles = Vec::new();
    for (i, n) in g.nodes.iter().enumerate() {
        let shape = ShapeKind::new_box(&n.id);
        let el = Element::create_with_properties(
            shape,
            StyleAttr::simple(),
            Orientation::LeftToRight,
            Point::new(node_width(n), NODE_H),
            i.to_string(),
        );
        handles.push(vg.add_node(el));
    }
    let mut capture = Capture::default();
    let mut has_in = vec![false; g.nodes.len()];
    for (i, e) in g.edges.iter().enumerate() {
        let (Some(&s), Some(&t)) = (index.get(e.source.as_str()), index.get(e.target.as_str()))
        else {
            continue;
        };
        has_in[t] = true;
        let label = edge_label(e);
        capture
            .labels
            .entry(label.clone())
            .or_default()
            .push_back(i);
        let look = StyleAttr::new(Color::fast("black"), 2, None, 0, LABEL_FONT);
        let style = if e.mirror {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let mut arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &label,
            &look,
            &None,
            &None,
        );
        arrow.properties = Some(i.to_string());
        vg.add_edge(arrow, handles[s], handles[t]);
    }
    // Layout only: a node nobody called yet sits where its group's callers point (its app's other versions'
    // callers), else right of the gateway, instead of in the first column.
    let gateway = index.get(super::model::GATEWAY).copied();
    for (i, n) in g.nodes.iter().enumerate() {
        if has_in[i] || Some(i) == gateway {
            continue;
        }
        let callers: Vec<usize> = g
            .edges
            .iter()
            .filter(|e| {
                g.nodes
                    .iter()
                    .any(|m| m.id == e.target && m.group == n.group && m.id != n.id)
            })
            .filter_map(|e| index.get(e.source.as_str()).copied())
            .collect();
        let from = callers.first().copied().or(gateway);
        if let Some(f) = from.filter(|f| *f != i) {
            // A label (blank) so it takes a label layer like the drawn edges, and the node their column.
            let mut arrow = Arrow::invisible();
            arrow.text = " ".into();
            arrow.look.font_size = LABEL_FONT;
            vg.add_edge(arrow, handles[f], handles[i]);
        }
    }
    // layout-rs panics on a graph without nodes; there is nothing to place then.
    if !g.nodes.is_empty() {
        vg.do_it(false, false, false, &mut capture);
    }
    Placed {
        boxes: (0..g.nodes.len())
            .map(|i| {
                capture
                    .boxes
                    .get(&i)
                    .copied()
                    .unwrap_or((Point::zero(), Point::new(96.0, NODE_H)))
            })
            .collect(),
        paths: (0..g.edges.len())
            .map(|i| capture.paths.remove(&i).unwrap_or_default())
            .collect(),
        labels: (0..g.edges.len())
            .map(|i| capture.label_at.get(&i).copied())
            .collect(),
    }
}

fn path_d(path: &[(Point, Point)]) -> String {
    let mut d = String::new();
    if path.len() < 2 {
        return d;
    }
    let _ = write!(
        d,
        "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
        path[0].0.x,
        path[0].0.y,
        path[0].1.x,
        path[0].1.y,
        path[1].0.x,
        path[1].0.y,
        path[1].1.x,
        path[1].1.y
    );
    for p in &path[2..] {
        let _ = write!(d, " S {:.1} {:.1}, {:.1} {:.1}", p.0.x, p.0.y, p.1.x, p.1.y);
    }
    d
}

fn text(x: f64, y: f64, class: &str, content: impl Into<String>) -> Text {
    Text::new(content)
        .set("x", format!("{x:.1}"))
        .set("y", format!("{y:.1}"))
        .set("class", class)
}

const CSS: &str = "
text { font-family: 'DejaVu Sans', Verdana, Arial, sans-serif; fill: #151515; }
.group-box { fill: #f5f5f5; stroke: #8a8d90; stroke-width: 1; }
.group-box.external { fill: #fdf7e7; stroke-dasharray: 6 3; }
.group-title { font-size: 13px; font-weight: bold; }
.node-box { fill: #ffffff; stroke: #4f5255; stroke-width: 1.5; }
.node-box.gateway { fill: #e7f1fa; stroke: #06c; }
.node-box.missing { stroke: #c9190b; stroke-dasharray: 4 2; }
.node-box.gone { fill: #eeeeee; }
.node-name { font-size: 14px; font-weight: bold; }
.node-note { font-size: 11px; fill: #4f5255; }
.node-note.missing { fill: #a30000; font-weight: bold; }
.edge-line { fill: none; stroke-width: 2.5; }
.edge-label { font-size: 11px; }
.edge-label-bg { fill: #ffffff; opacity: 0.9; }
.legend-text { font-size: 12px; }
.legend-title { font-size: 13px; font-weight: bold; }
.empty { font-size: 14px; fill: #4f5255; }
";

const HEALTHS: [Health; 4] = [
    Health::Healthy,
    Health::Degraded,
    Health::Failure,
    Health::Idle,
];

/// The graph as a standalone SVG document.
pub fn render(g: &Graph) -> String {
    let placed = place(g);
    // Bounds of everything laid out.
    let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut grow = |p: Point| {
        min_x = min_x.min(p.x);
        min_y = min_y.min(p.y);
        max_x = max_x.max(p.x);
        max_y = max_y.max(p.y);
    };
    // Group boxes around their members.
    let mut groups: BTreeMap<&str, (Point, Point, bool)> = BTreeMap::new();
    for (n, (xy, size)) in g.nodes.iter().zip(&placed.boxes) {
        grow(*xy);
        grow(xy.add(*size));
        if matches!(n.kind.as_str(), "gateway" | "unknown") {
            continue;
        }
        let lo = Point::new(xy.x - GROUP_PAD, xy.y - GROUP_PAD - GROUP_TITLE);
        let hi = Point::new(xy.x + size.x + GROUP_PAD, xy.y + size.y + GROUP_PAD);
        let entry = groups
            .entry(n.group.as_str())
            .or_insert((lo, hi, n.kind == "external"));
        entry.0 = Point::new(entry.0.x.min(lo.x), entry.0.y.min(lo.y));
        entry.1 = Point::new(entry.1.x.max(hi.x), entry.1.y.max(hi.y));
    }
    for (name, (lo, hi, external)) in groups.iter_mut() {
        // Wide enough for its title.
        let title = group_label(name, *external);
        let need = title.chars().count() as f64 * 8.6 + 20.0;
        if hi.x - lo.x < need {
            let grow_by = (need - (hi.x - lo.x)) / 2.0;
            *lo = Point::new(lo.x - grow_by, lo.y);
            *hi = Point::new(hi.x + grow_by, hi.y);
        }
        grow(*lo);
        grow(*hi);
    }
    for (i, p) in placed.paths.iter().enumerate() {
        for (a, b) in p {
            grow(*a);
            grow(*b);
        }
        if let Some(l) = placed.labels[i] {
            grow(Point::new(l.x - 90.0, l.y - 20.0));
            grow(Point::new(l.x + 90.0, l.y + 20.0));
        }
    }
    if g.nodes.is_empty() {
        (min_x, min_y, max_x, max_y) = (0.0, 0.0, 400.0, 100.0);
    }
    let margin = 20.0;
    let legend_h = 84.0;
    let width = (max_x - min_x + 2.0 * margin).max(900.0);
    let height = max_y - min_y + 2.0 * margin + legend_h;
    let (ox, oy) = (margin - min_x, margin - min_y);
    let at = |p: Point| Point::new(p.x + ox, p.y + oy);

    let total: usize = g
        .edges
        .iter()
        .filter(|e| !e.mirror)
        .map(|e| e.requests)
        .sum();
    let failing = g
        .edges
        .iter()
        .filter(|e| e.health == Health::Failure)
        .count();
    let mut doc = Document::new()
        .set("viewBox", format!("0 0 {width:.0} {height:.0}"))
        .set("width", format!("{width:.0}"))
        .set("height", format!("{height:.0}"))
        .set("role", "img")
        .set("aria-labelledby", "graph-title graph-desc")
        .add(Title::new("Traffic graph of the local mesh").set("id", "graph-title"))
        .add(
            Description::new().add(svg::node::Text::new(format!(
                "{} nodes and {} edges from the proxies' access logs at {}: {total} requests in all; {failing} \
                 edge(s) failing. Colours follow Kiali: green healthy, orange degraded, red failing, grey idle \
                 (no request in the last {} s); dashed edges are mirrored copies.",
                g.nodes.len(),
                g.edges.len(),
                g.generated_at,
                g.window_seconds
            )))
            .set("id", "graph-desc"),
        )
        .add(Style::new(CSS));
    let mut defs = Definitions::new();
    for h in HEALTHS {
        defs = defs.add(
            Marker::new()
                .set("id", format!("arrow-{}", h.word()))
                .set("viewBox", "0 0 10 10")
                .set("refX", 9)
                .set("refY", 5)
                .set("markerWidth", 7)
                .set("markerHeight", 7)
                .set("orient", "auto-start-reverse")
                .add(
                    Path::new()
                        .set("d", "M 0 0 L 10 5 L 0 10 z")
                        .set("fill", colour(h)),
                ),
        );
    }
    doc = doc.add(defs);

    for (name, (lo, hi, external)) in &groups {
        let (lo, hi) = (at(*lo), at(*hi));
        let title = group_label(name, *external);
        doc = doc.add(
            Group::new()
                .set("class", "group")
                .set("data-group", *name)
                .add(Title::new(title.clone()))
                .add(
                    Rectangle::new()
                        .set("x", format!("{:.1}", lo.x))
                        .set("y", format!("{:.1}", lo.y))
                        .set("width", format!("{:.1}", hi.x - lo.x))
                        .set("height", format!("{:.1}", hi.y - lo.y))
                        .set("rx", 8)
                        .set(
                            "class",
                            if *external {
                                "group-box external"
                            } else {
                                "group-box"
                            },
                        ),
                )
                .add(text(lo.x + 10.0, lo.y + 16.0, "group-title", title)),
        );
    }

    for (i, e) in g.edges.iter().enumerate() {
        let path = &placed.paths[i];
        if path.is_empty() {
            continue;
        }
        let moved: Vec<(Point, Point)> = path.iter().map(|(a, b)| (at(*a), at(*b))).collect();
        let mut line = Path::new()
            .set("d", path_d(&moved))
            .set("class", "edge-line")
            .set("stroke", colour(e.health))
            .set("marker-end", format!("url(#arrow-{})", e.health.word()));
        if e.mirror {
            line = line.set("stroke-dasharray", "8 5");
        }
        let mut group = Group::new()
            .set("class", format!("edge {}", e.health.word()))
            .set("data-source", e.source.as_str())
            .set("data-target", e.target.as_str())
            .set("data-requests", e.requests)
            .set("data-errors", e.errors)
            .add(Title::new(edge_title(e)))
            .add(line);
        if let Some(l) = placed.labels[i] {
            let l = at(l);
            let label = edge_label(e);
            let lines: Vec<&str> = label.lines().collect();
            let w = lines.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64 * 6.4 + 8.0;
            let h = lines.len() as f64 * 14.0 + 4.0;
            group = group.add(
                Rectangle::new()
                    .set("x", format!("{:.1}", l.x - w / 2.0))
                    .set("y", format!("{:.1}", l.y - h / 2.0))
                    .set("width", format!("{w:.1}"))
                    .set("height", format!("{h:.1}"))
                    .set("rx", 3)
                    .set("class", "edge-label-bg"),
            );
            for (k, s) in lines.iter().enumerate() {
                let y = l.y - h / 2.0 + 13.0 + k as f64 * 14.0;
                group = group.add(
                    text(l.x, y, "edge-label", *s)
                        .set("text-anchor", "middle")
                        .set("fill", text_colour(e.health)),
                );
            }
        }
        doc = doc.add(group);
    }

    for (n, (xy, size)) in g.nodes.iter().zip(&placed.boxes) {
        let xy = at(*xy);
        let (name, note) = node_lines(n);
        let mut class = String::from("node-box");
        if n.kind == "gateway" {
            class.push_str(" gateway");
        }
        if n.missing_sidecar {
            class.push_str(" missing");
        }
        if !n.running {
            class.push_str(" gone");
        }
        let cx = xy.x + size.x / 2.0;
        doc = doc.add(
            Group::new()
                .set("class", format!("node {}", n.kind))
                .set("data-id", n.id.as_str())
                .add(Title::new(node_title(n, g)))
                .add(
                    Rectangle::new()
                        .set("x", format!("{:.1}", xy.x))
                        .set("y", format!("{:.1}", xy.y))
                        .set("width", format!("{:.1}", size.x))
                        .set("height", format!("{:.1}", size.y))
                        .set("rx", 6)
                        .set("class", class),
                )
                .add(text(cx, xy.y + 19.0, "node-name", name).set("text-anchor", "middle"))
                .add(
                    text(
                        cx,
                        xy.y + 36.0,
                        if n.missing_sidecar {
                            "node-note missing"
                        } else {
                            "node-note"
                        },
                        note,
                    )
                    .set("text-anchor", "middle"),
                ),
        );
    }
    if g.edges.is_empty() {
        doc = doc.add(text(
            margin,
            height - legend_h - 4.0,
            "empty",
            "No traffic yet: send some, e.g. sh scripts/run.sh 4 $GATEWAY_URL",
        ));
    }
    render_legend(doc, height - legend_h + 8.0, g.window_seconds).to_string()
}

fn render_legend(mut doc: Document, y: f64, window: i64) -> Document {
    let mut legend = Group::new()
        .set("class", "legend")
        .add(Title::new("Legend"))
        .add(text(20.0, y + 12.0, "legend-title", "Edges:"));
    let mut x = 80.0;
    let words = [
        (Health::Healthy, "ok: no errors"),
        (Health::Degraded, "degraded: some 5xx (<10 %)"),
        (Health::Failure, "failing: ≥10 % 5xx"),
        (Health::Idle, "idle: none"),
    ];
    for (h, w) in words {
        legend = legend
            .add(
                Path::new()
                    .set("d", format!("M {x} {} h 28", y + 8.0))
                    .set("stroke", colour(h))
                    .set("stroke-width", 4),
            )
            .add(text(x + 34.0, y + 12.0, "legend-text", w));
        x += 40.0 + w.chars().count() as f64 * 6.8;
    }
    legend = legend
        .add(
            Path::new()
                .set("d", format!("M {x} {} h 28", y + 8.0))
                .set("stroke", "#4f5255")
                .set("stroke-width", 2.5)
                .set("stroke-dasharray", "8 5"),
        )
        .add(text(
            x + 34.0,
            y + 12.0,
            "legend-text",
            "mirror (shadow copies)",
        ));
    let lines = [
        format!(
            "Colour: errors in the last {window} s with Kiali's default thresholds (4xx: degraded from 10 %, failing \
             from 20 %). Numbers: requests and errors so far, rate over the last {window} s."
        ),
        "Grey boxes: an app and its versions. Dashed boxes: how egress left the mesh. Hover an edge for its \
         codes with Envoy's flags, its routes and clusters."
            .to_owned(),
    ];
    for (k, l) in lines.into_iter().enumerate() {
        legend = legend.add(text(20.0, y + 34.0 + k as f64 * 18.0, "legend-text", l));
    }
    doc = doc.add(legend);
    doc
}

#[cfg(test)]
mod tests {
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
            via: "mesh".into(),
            mirror: false,
            retries: 0,
            first: None,
            last: None,
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
                (name.to_owned(), note.to_owned()),
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
            edge_title(&e),
            "customer-v1 → preference-v1: 20 requests, 2 errors; last 60 s: 20 requests (0.33/s), 10.0% errors, \
             failure; codes: 200 ×18, 503 UF ×2; route default; cluster \
             outbound|8080||preference.tutorial.svc.cluster.local; 1 retries; via mesh; first 13:05:02, last 13:06:10"
        );
        let mut m = edge("customer-v1", "recommendation-v2", 1, 0, Health::Healthy);
        m.mirror = true;
        m.routes.clear();
        assert!(
            edge_title(&m)
                .starts_with("customer-v1 → recommendation-v2 (mirrored copies): 1 requests"),
            "{}",
            edge_title(&m)
        );
        assert!(
            !edge_title(&m).contains("; route "),
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
        assert!(svg.contains(
            "<title>istio-ingressgateway (ingress gateway): 0 requests in, 30 out</title>"
        ));
    }

    #[test]
    fn names_are_escaped_in_text_titles_and_attributes() {
        let svg = render(&sample());
        assert!(svg.contains(&text_of("a&amp;b&lt;c&gt;.example")), "{svg}");
        assert!(svg.contains("data-id=\"passthrough:a&amp;b&lt;c&gt;.example\""));
        assert!(
            svg.contains("<title>customer-v1 → passthrough:a&amp;b&lt;c&gt;.example: 5 requests")
        );
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
}
