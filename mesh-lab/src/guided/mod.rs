//! `mesh-lab guided [egress|routing|resilience|chaos|security|all]`: which chapters, in the tutorial's order, each
//! on the lab reset to the setup, with one summary of every verdict at the end.

pub mod chaos;
pub mod egress;
pub mod guide;
pub mod resilience;
pub mod routing;
pub mod security;
pub mod send;
pub mod why;

use std::io::Write;

use anyhow::anyhow;

use crate::guided::guide::{LabFiles, Outcome};
use crate::lab::Lab;

/// A chapter of the tutorial `guided` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chapter {
    Routing,
    Resilience,
    Chaos,
    Egress,
    Security,
}

/// `egress`, `routing`, `resilience`, `chaos`, `security` or `all` (in the tutorial's order).
pub fn chapters(name: &str) -> anyhow::Result<Vec<Chapter>> {
    Ok(match name {
        "all" => vec![
            Chapter::Routing,
            Chapter::Resilience,
            Chapter::Chaos,
            Chapter::Egress,
            Chapter::Security,
        ],
        "routing" => vec![Chapter::Routing],
        "resilience" => vec![Chapter::Resilience],
        "chaos" => vec![Chapter::Chaos],
        "egress" => vec![Chapter::Egress],
        "security" => vec![Chapter::Security],
        other => {
            return Err(anyhow!(
                "unknown chapter {other:?}: egress, routing, resilience, chaos, security or all"
            ));
        }
    })
}

/// Runs `chapters` in order on `lab` (fresh), resetting it between chapters.
pub async fn run_chapters<W: Write>(
    lab: &Lab,
    files: &LabFiles,
    chapters: &[Chapter],
    mut out: W,
) -> anyhow::Result<Outcome> {
    let mut total = Outcome::default();
    for (i, c) in chapters.iter().enumerate() {
        if i > 0 {
            lab.reset().await?;
        }
        let o = match c {
            Chapter::Routing => routing::run(lab, files, &mut out).await?,
            Chapter::Resilience => resilience::run(lab, files, &mut out).await?,
            Chapter::Chaos => chaos::run(lab, files, &mut out).await?,
            Chapter::Egress => egress::run(lab, files, &mut out).await?,
            Chapter::Security => security::run(lab, files, &mut out).await?,
        };
        total.passed += o.passed;
        total.failed.extend(o.failed);
    }
    let _ = writeln!(
        out,
        "\n{} step(s) passed, {} failed{}",
        total.passed,
        total.failed.len(),
        if total.failed.is_empty() { "" } else { ":" }
    );
    for f in &total.failed {
        let _ = writeln!(out, "  ✘ {f}");
    }
    Ok(total)
}
