//! `mesh-lab guided CHAPTER`: a lab of its own, served as `up` serves one (the graph page and the control
//! endpoint, so `mesh-lab show`, `logs` and `apply` work from another terminal), the chapters with their
//! verdicts, paced by `--step`, `--from` and `-i`, and the graph of the last step written if asked.

use std::process::ExitCode;

use mesh_lab::cli::serve::Endpoints;
use mesh_lab::guided::guide::LabFiles;
use mesh_lab::guided::{self, Chapter, Enter, Pick};
use mesh_lab::{Lab, LabOptions};

use crate::GuidedArgs;

/// Exit status of a usage error (as clap's own).
const USAGE: u8 = 2;

/// The chapters and the steps asked for, or the usage error that names what is wrong.
fn chosen(args: &GuidedArgs) -> anyhow::Result<(Vec<Chapter>, Pick)> {
    let chapters = guided::chapters(&args.chapter)?;
    let pick = Pick::of(&args.steps, args.from);
    pick.check_all(&chapters)?;
    for c in &chapters {
        pick.check(*c)?;
    }
    Ok((chapters, pick))
}

pub(crate) async fn guided_chapters(args: GuidedArgs, addr: &str) -> anyhow::Result<ExitCode> {
    // Ctrl-C from now on stops the run cleanly, the lab's directory (its keys) removed.
    let mut stopping = tokio::spawn(tutorial_common::shutdown::signal());
    let (chapters, pick) = match chosen(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesh-lab: {e:#} (mesh-lab guided --help)");
            return Ok(ExitCode::from(USAGE));
        }
    };
    let files = LabFiles::find(&args.repo.join("istio"))?;
    let endpoints = Endpoints::bind(addr, args.graph_port)?;
    let options = LabOptions {
        gateway_port: args.port,
        repo: args.repo,
        istio: args.istio,
        ..LabOptions::default()
    };
    let lab = Lab::start(options).await?;
    let serving = crate::serve(endpoints, &lab).await?;
    println!("{}", serving.banner(&lab));
    let mut enter = args.interactive.then(Enter::stdin);
    let run = guided::run_paced(
        &lab,
        &files,
        &chapters,
        &pick,
        enter.as_mut(),
        std::io::stdout(),
    );
    let outcome = tokio::select! {
        outcome = run => outcome,
        reason = &mut stopping => {
            let reason = reason.unwrap_or("SIGINT");
            println!("\nguided stopping ({reason}): the run was not finished; the lab stops and its directory goes");
            serving.stop().await;
            lab.stop().await;
            return Ok(ExitCode::from(130));
        }
    };
    let written = match (&args.graph, &outcome) {
        (Some(f), Ok(o)) => write_graph(&lab, f, o.last_step_started).await,
        _ => Ok(()),
    };
    serving.stop().await;
    lab.stop().await;
    written?;
    Ok(if outcome?.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--graph FILE`: the traffic since the last step shown began (all of it when none ran), as SVG.
async fn write_graph(
    lab: &Lab,
    file: &std::path::Path,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> anyhow::Result<()> {
    let graph = match since {
        Some(t) => guided::graph_since(lab, t).await,
        None => lab.graph().await,
    };
    std::fs::write(file, mesh_lab::observe::graph::svg::render(&graph))
        .map_err(|e| anyhow::anyhow!("--graph {}: {e}", file.display()))?;
    println!(
        "wrote the traffic graph of the last step to {}",
        file.display()
    );
    Ok(())
}
