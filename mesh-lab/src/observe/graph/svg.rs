//! The graph as SVG: positions from `layout-rs` (a Sugiyama-style layered layout, left to right), the picture
//! written with the `svg` crate. layout-rs has no clusters (subgraphs), so the app and egress boxes are drawn
//! around the positions it gives each group's nodes (a group's members share callers, so they land next to
//! each other in one layer). Each node and edge carries a `<title>` (hover: codes with Envoy's flags, routes,
//! clusters) and is a link to its details on the page ([`detail_id`]), labels are text, and colour is never the
//! only sign: every edge label names its health. The picture is drawn at its natural size in CSS pixels (text
//! 13 px and up, the same size whatever the window; browser zoom enlarges it), `scale` multiplies it.

mod legend;
mod placement;

use std::collections::BTreeMap;
use std::fmt::Write;

use layout::core::geometry::Point;
use svg::Document;
use svg::node::element::{
    Anchor, Definitions, Description, Group, Marker, Path, Rectangle, Style, Text, Title,
};

use super::model::{Edge, Graph, Health, Node, window_words};
use crate::observe::flags::flag_words;
use crate::observe::way_out::WayOut;
use legend::render_legend;
use placement::{Placed, place};

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

const GROUP_PAD: f64 = 14.0;
const GROUP_TITLE: f64 = 20.0;

/// The picture's sizes a reader can ask for (`?scale=`): from half to three times the natural size.
pub const SCALES: std::ops::RangeInclusive<f64> = 0.5..=3.0;

/// A scale from `?scale=` (`1.5`), within [`SCALES`].
pub fn parse_scale(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| SCALES.contains(f))
        .ok_or_else(|| format!("scale={s} is not a size the graph draws: use a number from 0.5 to 3 (1 = natural size)"))
}

/// The id of a node's or an edge's details on the page (`d-` and the id, each character outside
/// `[A-Za-z0-9-]` written `_XX` in hex): unique, and the same from one reload to the next.
pub fn detail_id(kind: &str, parts: &[&str]) -> String {
    let mut id = format!("d-{kind}");
    for p in parts {
        id.push_str("--");
        for b in p.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' {
                id.push(b as char);
            } else {
                let _ = write!(id, "_{b:02x}");
            }
        }
    }
    id
}

/// An edge's details id.
pub fn edge_detail_id(e: &Edge) -> String {
    let mirror = if e.mirror { "mirror" } else { "sent" };
    detail_id("edge", &[&e.source, &e.target, mirror])
}

/// A node's details id.
pub fn node_detail_id(n: &Node) -> String {
    detail_id("node", &[&n.id])
}

/// A node's lines: its name, what to know about it, and what is missing (a line per clause, so the node stays
/// narrow).
pub fn node_lines(n: &Node) -> Vec<String> {
    let (name, note) = node_name_note(n);
    let mut lines = vec![name, note];
    if let Some(m) = &n.missing {
        for part in m.split("; ").flat_map(|p| p.split(" — ")) {
            match part.split_once(": ") {
                Some((what, why)) => lines.extend([format!("{what}:"), why.to_owned()]),
                None => lines.push(part.to_owned()),
            }
        }
    }
    lines
}

fn node_name_note(n: &Node) -> (String, String) {
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

/// A failure's flag and the first words of its meaning (`503 NC: no cluster`), from a [`Why::line`]
/// (`503 NC (no cluster: …)`).
///
/// [`Why::line`]: crate::observe::flags::Why::line
pub fn short_why(line: &str) -> String {
    let (head, _) = line.split_once(" (").unwrap_or((line, ""));
    let flag = head.split_whitespace().nth(1).unwrap_or_default();
    let first = flag.split(',').next().unwrap_or_default();
    match flag_words(first).and_then(|w| w.split_once(": ")) {
        Some((short, _)) => format!("{head}: {short}"),
        None => head.to_owned(),
    }
}

/// An edge's label: requests and rate, errors and the health in words (colour is not the only sign), and
/// why its requests failed (the first reason, and how many more).
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
    match e.why.split_first() {
        Some((w, [])) => format!("{first}\n{second}\n{}", short_why(w)),
        Some((w, more)) => format!("{first}\n{second}\n{} +{} more", short_why(w), more.len()),
        None => format!("{first}\n{second}"),
    }
}

/// The hover text of an edge: both ends, counts, codes with Envoy's flags, routes and clusters, and why its
/// requests failed.
pub fn edge_title(e: &Edge, window_seconds: i64) -> String {
    let codes: Vec<String> = e.codes.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
    let mut t = format!(
        "{} → {}{}: {} requests, {} errors; last {}: {} requests ({}), {:.1}% errors, {}; codes: {}",
        e.source,
        e.target,
        if e.mirror { " (mirrored copies)" } else { "" },
        e.requests,
        e.errors,
        window_words(window_seconds),
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
    let _ = write!(t, "; via {}", e.via.name());
    if let (Some(first), Some(last)) = (&e.first, &e.last) {
        let _ = write!(t, "; first {}, last {}", clock(first), clock(last));
    }
    for w in &e.why {
        let _ = write!(t, "; {w}");
    }
    t
}

/// `2026-12-01T13:05:02.123Z` → `13:05:02` (the time of day is what a trainee compares).
pub fn clock(rfc3339: &str) -> &str {
    rfc3339
        .split_once('T')
        .map_or(rfc3339, |(_, t)| t.get(..8).unwrap_or(t))
}

/// The hover text of a node: its name, state, requests in and out, and what is missing.
pub fn node_title(n: &Node, g: &Graph) -> String {
    let (a, b) = node_name_note(n);
    // The requests of the edges whose `end` is this node.
    let requests = |end: fn(&Edge) -> &str| -> usize {
        g.edges
            .iter()
            .filter(|e| end(e) == n.id)
            .map(|e| e.requests)
            .sum()
    };
    let inn = requests(|e| &e.target);
    let out = requests(|e| &e.source);
    let mut t = match n.kind.as_str() {
        "workload" => format!("{} {a} ({b}): {inn} requests in, {out} out", n.app),
        _ => format!("{a} ({b}): {inn} requests in, {out} out"),
    };
    if n.missing_sidecar {
        t.push_str(
            "; without a sidecar it logs nothing, so its outgoing traffic is invisible (Kiali: missing sidecar)",
        );
    }
    if let Some(m) = &n.missing {
        let _ = write!(t, "; {m}");
    }
    t
}

fn group_label(name: &str, external: bool) -> String {
    if external {
        WayOut::from_name(name).map_or_else(|| name.to_owned(), |w| w.title().to_owned())
    } else {
        format!("app {name}")
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
.group-title { font-size: 14px; font-weight: bold; }
.node-box { fill: #ffffff; stroke: #4f5255; stroke-width: 1.5; }
.node-box.gateway { fill: #e7f1fa; stroke: #06c; }
.node-box.missing { stroke: #c9190b; stroke-dasharray: 4 2; }
.node-box.gone { fill: #eeeeee; }
.node-name { font-size: 15px; font-weight: bold; }
.node-note { font-size: 13px; fill: #4f5255; }
.node-note.missing { fill: #a30000; font-weight: bold; }
.edge-line { fill: none; stroke-width: 2.5; }
.edge-label { font-size: 13px; }
.edge-label-bg { fill: #ffffff; opacity: 0.9; }
.legend-text { font-size: 13px; }
.legend-title { font-size: 14px; font-weight: bold; }
a:focus rect, a:hover rect.node-box { stroke-width: 3; }
a:focus path.edge-line, a:hover path.edge-line { stroke-width: 4.5; }
.empty { font-size: 14px; fill: #4f5255; }
";

const HEALTHS: [Health; 4] = [
    Health::Healthy,
    Health::Degraded,
    Health::Failure,
    Health::Idle,
];

/// A group's box: its top-left and bottom-right corners, and whether it holds external hosts.
type GroupBox = (Point, Point, bool);

/// The extent of everything laid out.
struct Bounds {
    min_x: f64,
    min_y: f64,
    max_x: f64,
    max_y: f64,
}

impl Bounds {
    fn grow(&mut self, p: Point) {
        self.min_x = self.min_x.min(p.x);
        self.min_y = self.min_y.min(p.y);
        self.max_x = self.max_x.max(p.x);
        self.max_y = self.max_y.max(p.y);
    }
}

/// The boxes around each group's members (the gateway and the unknown caller stand alone), each wide enough
/// for its title; the bounds grow by the nodes and the boxes.
fn group_boxes<'a>(
    g: &'a Graph,
    placed: &Placed,
    bounds: &mut Bounds,
) -> BTreeMap<&'a str, GroupBox> {
    let mut groups: BTreeMap<&str, GroupBox> = BTreeMap::new();
    for (n, (xy, size)) in g.nodes.iter().zip(&placed.boxes) {
        bounds.grow(*xy);
        bounds.grow(xy.add(*size));
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
        bounds.grow(*lo);
        bounds.grow(*hi);
    }
    groups
}

/// The document's head: size (the natural one times `scale`, in CSS pixels), title, a description for
/// screen readers, the style and the arrow markers.
fn document(g: &Graph, width: f64, height: f64, scale: f64) -> Document {
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
    let doc = Document::new()
        .set("viewBox", format!("0 0 {width:.0} {height:.0}"))
        .set("width", format!("{:.0}px", width * scale))
        .set("height", format!("{:.0}px", height * scale))
        .set("role", "img")
        .set("aria-labelledby", "graph-title graph-desc")
        .add(Title::new("Traffic graph of the local mesh").set("id", "graph-title"))
        .add(
            Description::new().add(svg::node::Text::new(format!(
                "{} nodes and {} edges from the proxies' access logs at {}: {total} requests in all; {failing} \
                 edge(s) failing. Colours follow Kiali: green healthy, orange degraded, red failing, grey idle \
                 (no request in the last {}); dashed edges are mirrored copies.",
                g.nodes.len(),
                g.edges.len(),
                g.generated_at,
                window_words(g.window_seconds)
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
    doc.add(defs)
}

fn draw_groups(
    mut doc: Document,
    groups: &BTreeMap<&str, GroupBox>,
    at: impl Fn(Point) -> Point,
) -> Document {
    for (name, (lo, hi, external)) in groups {
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
    doc
}

/// A label line's height (13 px text).
pub(super) const LABEL_LINE: f64 = 16.0;
/// A label character's width, generously (13 px DejaVu Sans).
pub(super) const LABEL_CHAR: f64 = 8.0;

/// An edge's label at `l`: a white box and one text line per label line, in the health's darker tone.
fn draw_edge_label(mut group: Group, e: &Edge, l: Point) -> Group {
    let label = edge_label(e);
    let lines: Vec<&str> = label.lines().collect();
    let w = lines.iter().map(|s| s.chars().count()).max().unwrap_or(0) as f64 * LABEL_CHAR + 8.0;
    let h = lines.len() as f64 * LABEL_LINE + 4.0;
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
        let y = l.y - h / 2.0 + 15.0 + k as f64 * LABEL_LINE;
        group = group.add(
            text(l.x, y, "edge-label", *s)
                .set("text-anchor", "middle")
                .set("fill", text_colour(e.health)),
        );
    }
    group
}

fn draw_edges(
    mut doc: Document,
    g: &Graph,
    placed: &Placed,
    at: impl Fn(Point) -> Point,
) -> Document {
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
            .add(Title::new(edge_title(e, g.window_seconds)))
            .add(line);
        if let Some(l) = placed.labels[i] {
            group = draw_edge_label(group, e, at(l));
        }
        doc = doc.add(details_link(&edge_detail_id(e)).add(group));
    }
    doc
}

fn draw_nodes(
    mut doc: Document,
    g: &Graph,
    placed: &Placed,
    at: impl Fn(Point) -> Point,
) -> Document {
    for (n, (xy, size)) in g.nodes.iter().zip(&placed.boxes) {
        let xy = at(*xy);
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
        if n.missing.is_some() {
            class.push_str(" missing");
        }
        let cx = xy.x + size.x / 2.0;
        let mut group = Group::new()
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
            );
        for (k, line) in node_lines(n).into_iter().enumerate() {
            let class = match k {
                0 => "node-name",
                1 if !n.missing_sidecar => "node-note",
                _ => "node-note missing",
            };
            let y = xy.y + 20.0 + k as f64 * NODE_LINE;
            group = group.add(text(cx, y, class, line).set("text-anchor", "middle"));
        }
        doc = doc.add(details_link(&node_detail_id(n)).add(group));
    }
    doc
}

/// A node's line height.
pub(super) const NODE_LINE: f64 = 18.0;

/// A link to a node's or an edge's details on the page (`#d-…`): a click, or Enter on it, shows them.
fn details_link(id: &str) -> Anchor {
    Anchor::new()
        .set("href", format!("#{id}"))
        .set("class", "details-link")
}

/// The graph as a standalone SVG document at its natural size.
pub fn render(g: &Graph) -> String {
    render_scaled(g, 1.0)
}

/// The graph as a standalone SVG document, `scale` times its natural size.
pub fn render_scaled(g: &Graph, scale: f64) -> String {
    let placed = place(g);
    // Bounds of everything laid out.
    let mut bounds = Bounds {
        min_x: f64::MAX,
        min_y: f64::MAX,
        max_x: f64::MIN,
        max_y: f64::MIN,
    };
    // Group boxes around their members.
    let groups = group_boxes(g, &placed, &mut bounds);
    for (i, p) in placed.paths.iter().enumerate() {
        for (a, b) in p {
            bounds.grow(*a);
            bounds.grow(*b);
        }
        if let Some(l) = placed.labels[i] {
            let label = edge_label(&g.edges[i]);
            let w = label.lines().map(|s| s.chars().count()).max().unwrap_or(0) as f64 * LABEL_CHAR;
            let h = label.lines().count() as f64 * LABEL_LINE;
            bounds.grow(Point::new(l.x - w / 2.0 - 8.0, l.y - h / 2.0 - 4.0));
            bounds.grow(Point::new(l.x + w / 2.0 + 8.0, l.y + h / 2.0 + 4.0));
        }
    }
    if g.nodes.is_empty() {
        bounds = Bounds {
            min_x: 0.0,
            min_y: 0.0,
            max_x: 400.0,
            max_y: 100.0,
        };
    }
    let margin = 20.0;
    let legend_h = 92.0;
    let width = (bounds.max_x - bounds.min_x + 2.0 * margin).max(legend::WIDTH);
    let height = bounds.max_y - bounds.min_y + 2.0 * margin + legend_h;
    let (ox, oy) = (margin - bounds.min_x, margin - bounds.min_y);
    let at = |p: Point| Point::new(p.x + ox, p.y + oy);

    let mut doc = document(g, width, height, scale);
    doc = draw_groups(doc, &groups, at);
    doc = draw_edges(doc, g, &placed, at);
    doc = draw_nodes(doc, g, &placed, at);
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

#[cfg(test)]
mod tests;
