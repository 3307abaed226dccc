//! `mesh-lab analyze`: istioctl analyze's output and exit status (istioctl/pkg/analyze/analyze.go), the
//! messages from mesh-istiod's analysis (mesh-istiod/src/config/analysis) on the running lab's objects
//! (through the control endpoint), with the `-f` files' over them, or on the files alone
//! (`--use-kube=false`, no lab needed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mesh_istiod::config::analysis::{self, EXIT_FOUND_ISSUES, Level};
use mesh_istiod::model::registry::NAMESPACE;
use mesh_lab::cli::control::{AnalysisLine, Client};

/// `istioctl analyze`'s arguments, as the lab takes them.
#[derive(clap::Args)]
pub(crate) struct AnalyzeArgs {
    /// A YAML file or a directory of .yml/.yaml/.json files to analyse with the lab's objects (repeatable)
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Analyse the running lab's objects too (false: the files alone, no lab needed)
    #[arg(long = "use-kube", value_name = "BOOL", default_value_t = true,
          action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    use_kube: bool,
}

/// The files alone, analysed here, named as given.
fn analyze_files(files: &[PathBuf]) -> anyhow::Result<Vec<AnalysisLine>> {
    let sources = files
        .iter()
        .map(|f| {
            // `-` is the standard input, named `-` as istioctl analyze names it.
            let (file, text) = if f.as_os_str() == "-" {
                ("-".to_owned(), std::io::read_to_string(std::io::stdin()))
            } else {
                (f.display().to_string(), std::fs::read_to_string(f))
            };
            let text = text.map_err(|e| anyhow::anyhow!("reading {file}: {e}"))?;
            Ok(analysis::Source { file, text })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let messages =
        analysis::analyze_files(Vec::new(), &sources).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(messages
        .iter()
        .map(|m| AnalysisLine {
            level: m.level.to_string(),
            line: m.to_string(),
        })
        .collect())
}

/// Prints the messages (stdout, then istioctl's empty line), the no-issues line or the failure (stderr);
/// exit 79 if one is an Error (`--failure-threshold` Error), as istioctl.
pub(crate) async fn analyze(
    client: impl FnOnce() -> anyhow::Result<Client>,
    args: AnalyzeArgs,
) -> anyhow::Result<ExitCode> {
    let files = mesh_lab::cli::files::expand(&args.files, false).map_err(|e| anyhow::anyhow!(e))?;
    if !args.use_kube && files.is_empty() {
        anyhow::bail!("error: --use-kube=false analyses files: give them with -f FILE");
    }
    let lines = if args.use_kube {
        client()?.analyze(&files).await?
    } else {
        analyze_files(&files)?
    };
    let mut out = std::io::stdout();
    for l in &lines {
        let _ = writeln!(out, "{}", l.line);
    }
    let _ = writeln!(out);
    if lines.is_empty() {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("{}", analysis::no_issues(&names));
        return Ok(ExitCode::SUCCESS);
    }
    if !lines.iter().any(|l| l.level == Level::Error.to_string()) {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "Error: Analyzers found issues when analyzing namespace: {NAMESPACE}.\n\
         See https://istio.io/latest/docs/reference/config/analysis for more information about causes and resolutions."
    );
    Ok(ExitCode::from(EXIT_FOUND_ISSUES))
}
