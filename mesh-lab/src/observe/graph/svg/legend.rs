//! The SVG's legend: what the edge colours and the dashed line mean, and how to read the numbers.

use svg::Document;
use svg::node::element::{Group, Path, Title};

use super::super::model::{Health, window_words};
use super::{colour, text};

/// The legend's width: the narrowest the picture is drawn.
pub(super) const WIDTH: f64 = 940.0;

pub(super) fn render_legend(mut doc: Document, y: f64, window: i64) -> Document {
    let window = window_words(window);
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
        x += 40.0 + w.chars().count() as f64 * 7.6;
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
            "Colour: errors in the last {window}, Kiali's default thresholds (4xx: degraded from 10 %, failing from 20 %)."
        ),
        format!("Numbers: requests and errors so far, rate over the last {window}; the reason of failures in words."),
        "Grey boxes: an app and its versions. Dashed boxes: how egress left. Click a node or an edge for details."
            .to_owned(),
    ];
    for (k, l) in lines.into_iter().enumerate() {
        legend = legend.add(text(20.0, y + 34.0 + k as f64 * 18.0, "legend-text", l));
    }
    doc = doc.add(legend);
    doc
}
