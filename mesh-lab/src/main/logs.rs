//! `mesh-lab logs`: kubectl's arguments and notes, and `-f`'s polling of the control endpoint.

use std::io::Write;
use std::process::ExitCode;

use mesh_lab::cli::control::Client;
use mesh_lab::lab::inspect::LogsQuery;

/// `kubectl logs`' arguments, as the lab takes them.
#[derive(clap::Args)]
pub(crate) struct LogsArgs {
    /// POD, deploy/NAME or deployment/NAME (or a Deployment's name, e.g. recommendation-v2)
    pub(crate) target: String,
    /// The container, as kubectl's inline [CONTAINER] (or -c)
    #[arg(value_name = "CONTAINER")]
    pub(crate) inline_container: Option<String>,
    /// The app's container (as the Deployment names it) or istio-proxy (default: the app's)
    #[arg(short = 'c', long)]
    pub(crate) container: Option<String>,
    /// Keep printing new lines until Ctrl-C
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
    /// Only the last N lines (-1: all)
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub(crate) tail: i64,
}

/// `kubectl logs`' arguments: one of `-c` and the inline container, `--tail` from -1 (all) up.
pub(crate) fn logs_query(args: LogsArgs) -> anyhow::Result<LogsQuery> {
    if args.inline_container.is_some() && args.container.is_some() {
        anyhow::bail!("error: only one of -c or an inline [CONTAINER] arg is allowed");
    }
    if args.tail < -1 {
        anyhow::bail!("error: --tail must be greater than or equal to -1");
    }
    Ok(LogsQuery {
        target: args.target,
        container: args.container.or(args.inline_container),
        tail: usize::try_from(args.tail).ok(),
        since: None,
    })
}

/// How often `logs -f` asks for new lines.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// `logs`: kubectl's notes on stderr, the lines on stdout; with `follow`, the lines after the last page
/// of the same pod and container until Ctrl-C (or until the pod is gone, when kubectl's stream ends).
pub(crate) async fn logs(client: &Client, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let follow = args.follow;
    let mut q = logs_query(args)?;
    let mut first = true;
    loop {
        let page = match client.logs_page(&q).await {
            Ok(p) => p,
            // The pod followed is gone (a rollout replaced it): kubectl's stream ends there.
            Err(e) if !first && e.to_string().contains("(NotFound)") => {
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => return Err(e),
        };
        for note in &page.notes {
            eprintln!("{note}");
        }
        let mut out = std::io::stdout().lock();
        for line in &page.lines {
            if writeln!(out, "{line}").is_err() {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let _ = out.flush();
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        first = false;
        q = LogsQuery {
            target: format!("pod/{}", page.pod),
            container: Some(page.container),
            tail: None,
            since: Some(page.next),
        };
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}
