//! Where layout-rs puts the graph's nodes, edges and edge labels (a Sugiyama-style layered layout, left to
//! right), captured through its render backend instead of drawn.

use std::collections::{BTreeMap, HashMap, VecDeque};

use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::super::model::{Graph, Node};
use super::{LABEL_CHAR, LABEL_LINE, NODE_LINE, edge_label, node_lines};

/// A node name's character width (15 px bold) and a note's (13 px), generously.
const NAME_CHAR: f64 = 9.6;
const NOTE_CHAR: f64 = 8.0;
/// layout-rs sizes a label as `font_size` per character and per line: the width of a drawn character, with an
/// empty line after each drawn one so the height matches too ([`layout_label`]).
const LABEL_FONT: usize = LABEL_CHAR as usize;
const _: () = assert!(LABEL_LINE == 2.0 * LABEL_CHAR);

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

/// A node's size: wide enough for its lines, tall enough for all of them.
fn node_size(n: &Node) -> Point {
    let lines = node_lines(n);
    let width = lines
        .iter()
        .enumerate()
        .map(|(k, l)| l.chars().count() as f64 * if k == 0 { NAME_CHAR } else { NOTE_CHAR })
        .fold(0.0, f64::max);
    Point::new(
        (width + 28.0).max(110.0),
        14.0 + lines.len() as f64 * NODE_LINE,
    )
}

/// The text layout-rs sizes an edge's label by: its lines, each followed by an empty one.
fn layout_label(label: &str) -> String {
    label
        .lines()
        .map(|l| format!("{l}\n "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Node positions (top-left, size), edge paths and label positions from layout-rs.
pub(super) struct Placed {
    pub(super) boxes: Vec<(Point, Point)>,
    pub(super) paths: Vec<Vec<(Point, Point)>>,
    pub(super) labels: Vec<Option<Point>>,
}

pub(super) fn place(g: &Graph) -> Placed {
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
            node_size(n),
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
        let label = layout_label(&edge_label(e));
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
    let gateway = index.get(super::super::model::GATEWAY).copied();
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
                    .unwrap_or_else(|| (Point::zero(), node_size(&g.nodes[i])))
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
