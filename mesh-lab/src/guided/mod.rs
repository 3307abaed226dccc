//! `mesh-lab guided [egress|routing|resilience|chaos|security|troubleshoot|all]`: which chapters, in the tutorial's order, each
//! on the lab reset to the setup, with one summary of every verdict at the end.
//!
//! Each chapter is a table of [`Step`]s (its number as printed, its title, the `oc` and `mesh-lab` commands it
//! stands for, the function that runs it). [`Pick`] says which steps are shown: the lab starts fresh, so the
//! steps before one asked for run first, quietly, one line each. [`Enter`] paces a run: before each shown step
//! its title and commands, then a wait for Enter on the standard input.

/// `patch!(oc "DEPLOYMENT", "PATCH")` and `patch!(lab "DEPLOYMENT", "PATCH")`: a strategic merge patch of a
/// Deployment as the learner runs it on a cluster and in the lab, as `&'static str` for a step's table.
macro_rules! patch {
    (oc $deployment:literal, $patch:literal) => {
        concat!(
            "oc patch deployment ",
            $deployment,
            " -n tutorial -p '",
            $patch,
            "'"
        )
    };
    (lab $deployment:literal, $patch:literal) => {
        concat!(
            "mesh-lab patch deployment ",
            $deployment,
            " -p '",
            $patch,
            "'"
        )
    };
}

/// A [`Step`] of a chapter's table: `step!(number, title, oc commands, lab commands, function)`, the
/// function an `async fn(&mut Guide<W>, &LabFiles)` that returns `()` or `anyhow::Result<()>`; or
/// `step!(number, title, apply "FILE", function)` for a step that applies istio/FILE.
macro_rules! step {
    ($n:expr, $title:expr, apply $file:literal, $f:path) => {
        step!(
            $n,
            $title,
            &[concat!("oc apply -f istio/", $file, " -n tutorial")],
            &[concat!("mesh-lab apply -f istio/", $file)],
            $f
        )
    };
    ($n:expr, $title:expr, $oc:expr, $lab:expr, $f:path) => {{
        fn run<'a, 'b, W: std::io::Write>(
            g: &'a mut crate::guided::guide::Guide<'b, W>,
            files: &'a crate::guided::guide::LabFiles,
        ) -> crate::guided::StepFuture<'a> {
            Box::pin(async move { crate::guided::Done::done($f(g, files).await) })
        }
        crate::guided::Step {
            number: $n,
            title: $title,
            oc: $oc,
            lab: $lab,
            run: run::<W>,
        }
    }};
}

pub mod chaos;
pub mod egress;
pub mod guide;
pub mod pace;
pub mod resilience;
pub mod routing;
pub mod security;
pub mod send;
pub mod troubleshoot;
pub mod why;

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use anyhow::anyhow;
use chrono::{DateTime, Utc};

use crate::guided::guide::{Guide, LabFiles, Outcome};
use crate::lab::Lab;
pub use pace::{Enter, Pick};

/// A chapter of the tutorial `guided` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chapter {
    Routing,
    Resilience,
    Chaos,
    Egress,
    Security,
    Troubleshoot,
}

/// What a step's function returns: done (its verdicts are in the guide), or an error that ends the run.
pub(crate) type StepFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + 'a>>;

/// What a step's function may return.
pub(crate) trait Done {
    fn done(self) -> anyhow::Result<()>;
}

impl Done for () {
    fn done(self) -> anyhow::Result<()> {
        Ok(())
    }
}

impl Done for anyhow::Result<()> {
    fn done(self) -> anyhow::Result<()> {
        self
    }
}

/// One step of a chapter.
pub struct Step<W: Write> {
    /// The number printed (`━━ Step 4: …`) and asked for (`--step 4`).
    pub number: u32,
    pub title: &'static str,
    /// The commands it stands for on a cluster, as the step prints them after `on a cluster:`.
    pub oc: &'static [&'static str],
    /// The lab's commands it runs, as the step prints them after `$ `.
    pub lab: &'static [&'static str],
    pub(crate) run: for<'a, 'b> fn(&'a mut Guide<'b, W>, &'a LabFiles) -> StepFuture<'a>,
}

impl Chapter {
    /// The chapter's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Chapter::Routing => "routing",
            Chapter::Resilience => "resilience",
            Chapter::Chaos => "chaos",
            Chapter::Egress => "egress",
            Chapter::Security => "security",
            Chapter::Troubleshoot => "troubleshoot",
        }
    }

    /// The chapter's steps, in order.
    pub fn steps<W: Write>(self) -> Vec<Step<W>> {
        match self {
            Chapter::Routing => routing::steps(),
            Chapter::Resilience => resilience::steps(),
            Chapter::Chaos => chaos::steps(),
            Chapter::Egress => egress::steps(),
            Chapter::Security => security::steps(),
            Chapter::Troubleshoot => troubleshoot::steps(),
        }
    }

    /// The chapter's step numbers, `1..=N`.
    pub fn numbers(self) -> Vec<u32> {
        self.steps::<std::io::Sink>()
            .iter()
            .map(|s| s.number)
            .collect()
    }

    /// The line that opens the chapter.
    fn intro(self) -> &'static str {
        match self {
            Chapter::Routing => {
                "Routing chapter: customer -> preference -> recommendation v1 and v2, each pod with its sidecar."
            }
            Chapter::Resilience => "Resilience chapter: retries, timeout, circuit breaker.",
            Chapter::Chaos => "Chaos chapter: fault injection by the caller's sidecar.",
            Chapter::Egress => egress::INTRO,
            Chapter::Security => {
                "Security chapter: mutual TLS between the sidecars, authorization by identity, end-user JWT."
            }
            Chapter::Troubleshoot => troubleshoot::INTRO,
        }
    }
}

/// `egress`, `routing`, `resilience`, `chaos`, `security`, `troubleshoot` or `all` (in the tutorial's order,
/// troubleshooting last).
pub fn chapters(name: &str) -> anyhow::Result<Vec<Chapter>> {
    Ok(match name {
        "all" => vec![
            Chapter::Routing,
            Chapter::Resilience,
            Chapter::Chaos,
            Chapter::Egress,
            Chapter::Security,
            Chapter::Troubleshoot,
        ],
        "routing" => vec![Chapter::Routing],
        "resilience" => vec![Chapter::Resilience],
        "chaos" => vec![Chapter::Chaos],
        "egress" => vec![Chapter::Egress],
        "security" => vec![Chapter::Security],
        "troubleshoot" => vec![Chapter::Troubleshoot],
        other => {
            return Err(anyhow!(
                "unknown chapter {other:?}: egress, routing, resilience, chaos, security, troubleshoot or all"
            ));
        }
    })
}

/// Runs `chapters` in order on `lab` (fresh), every step shown, resetting the lab between chapters.
pub async fn run_chapters<W: Write>(
    lab: &Lab,
    files: &LabFiles,
    chapters: &[Chapter],
    out: W,
) -> anyhow::Result<Outcome> {
    run_paced(lab, files, chapters, &Pick::All, None, out).await
}

/// [`run_chapters`] showing the steps `pick` asks for (of one chapter), each after an Enter with `enter`;
/// ends with the summary of every verdict.
pub async fn run_paced<W: Write>(
    lab: &Lab,
    files: &LabFiles,
    chapters: &[Chapter],
    pick: &Pick,
    mut enter: Option<&mut Enter>,
    mut out: W,
) -> anyhow::Result<Outcome> {
    pick.check_all(chapters)?;
    let mut total = Outcome::default();
    for (i, c) in chapters.iter().enumerate() {
        if i > 0 {
            lab.reset().await?;
        }
        let o = run_chapter(lab, files, *c, pick, enter.as_deref_mut(), &mut out).await?;
        total.passed += o.passed;
        total.failed.extend(o.failed);
        total.last_step_started = o.last_step_started.or(total.last_step_started);
        total.stopped = o.stopped;
        if o.stopped {
            break;
        }
    }
    summary(&total, &mut out);
    Ok(total)
}

/// The closing line: how many verdicts passed and every one that failed.
pub fn summary<W: Write>(total: &Outcome, mut out: W) {
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
    let _ = out.flush();
}

/// Runs `chapter` on `lab` (fresh or reset): the steps `pick` shows in full, the ones before them quietly;
/// with `enter`, each shown step waits for Enter first (the end of the input stops the run cleanly).
pub async fn run_chapter<W: Write>(
    lab: &Lab,
    files: &LabFiles,
    chapter: Chapter,
    pick: &Pick,
    mut enter: Option<&mut Enter>,
    out: W,
) -> anyhow::Result<Outcome> {
    let steps = chapter.steps::<W>();
    pick.check(chapter)?;
    let seen = match chapter {
        Chapter::Egress => egress::log_seen(lab).await,
        _ => 0,
    };
    let mut g = Guide::new(lab, out, seen)?;
    g.say(chapter.intro());
    for step in steps.iter().take_while(|s| s.number <= pick.last(chapter)) {
        if !pick.shows(step.number) {
            catch_up(&mut g, files, step).await?;
            continue;
        }
        g.step(&step.number.to_string(), step.title);
        if let Some(enter) = enter.as_deref_mut() {
            preview(&mut g, step);
            if !enter.wait().await {
                g.say(&format!(
                    "\nthe standard input ended: stopping before step {} (the steps above ran)",
                    step.number
                ));
                g.outcome.stopped = true;
                break;
            }
        }
        g.outcome.last_step_started = Some(Utc::now());
        g.previewed = if enter.is_some() { step.oc } else { &[] };
        (step.run)(&mut g, files).await?;
    }
    Ok(g.outcome)
}

/// A step run quietly, as one line: `(catching up) step N title … ✔` (or ✘ and why).
async fn catch_up<W: Write>(
    g: &mut Guide<'_, W>,
    files: &LabFiles,
    step: &Step<W>,
) -> anyhow::Result<()> {
    let failed_before = g.outcome.failed.len();
    g.quiet = true;
    let ran = (step.run)(g, files).await;
    g.quiet = false;
    ran?;
    let line = match g.outcome.failed.get(failed_before..).unwrap_or_default() {
        [] => "✔".to_owned(),
        [first, ..] => format!("✘ {first}"),
    };
    g.say(&format!(
        "  (catching up) step {} {} … {line}",
        step.number, step.title
    ));
    Ok(())
}

/// Before waiting for Enter: what the step stands for on a cluster and what the lab will run.
fn preview<W: Write>(g: &mut Guide<'_, W>, step: &Step<W>) {
    g.previewed = &[];
    for oc in step.oc {
        g.oc(oc);
    }
    for cmd in step.lab {
        g.say(&format!("  in the lab: {cmd}"));
    }
    g.say(&format!(
        "  press Enter to run step {} (Ctrl-C stops the lab)",
        step.number
    ));
}

/// The graph of the traffic since `since` (the last step's start): only the access-log entries that began
/// then or later are drawn, coloured over the whole step.
pub async fn graph_since(lab: &Lab, since: DateTime<Utc>) -> crate::observe::graph::model::Graph {
    crate::observe::graph::model::build_since(&lab.graph_input().await, since)
}
