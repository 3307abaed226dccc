//! The running lab: the chain (customer → preference → recommendation v3), the stand-in playing
//! `worldclockapi.com`, and the Envoy egress proxy recommendation v3's time lookup goes through.
//!
//! On a cluster the sidecar captures the call with iptables; here recommendation v3 is given the
//! proxy explicitly (`WORLDCLOCK_PROXY`, used by the time lookup only), so the request reaches Envoy
//! in absolute form (`GET http://worldclockapi.com/api/json/cet/now`) and Envoy routes it by its
//! Host, exactly as the sidecar's outbound listener does.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use anyhow::{Context, anyhow};
use mesh_manifests::Document;
use serde::Serialize;
use tokio::sync::Mutex;
use tutorial_common::{config::FromEnv, server::Server};

use crate::envoy::{AccessLogEntry, Envoy};
use crate::state::{LabState, ObjectSummary};
use crate::translate::{self, Internet, Mode};

/// Host names the lab's services show in their bodies (the pod names of a cluster).
pub const CUSTOMER_HOST: &str = "customer-lab";
pub const PREFERENCE_HOST: &str = "preference-v1-lab";
pub const RECOMMENDATION_HOST: &str = "recommendation-v3-lab";
/// The external host recommendation v3 calls.
pub const EXTERNAL_HOST: &str = "worldclockapi.com";

/// How to start the lab.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// customer's port (0 = any free one).
    pub customer_port: u16,
    /// Envoy's outbound listener port (0 = any free one).
    pub proxy_port: u16,
    /// Directory for Envoy's bootstrap, dynamic config and access log.
    pub dir: PathBuf,
    /// The Envoy binary (default: [`crate::envoy::find_envoy`]).
    pub envoy_bin: Option<PathBuf>,
    /// Freeze the stand-in's clock (`STANDIN_NOW`).
    pub standin_now: Option<String>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            customer_port: 0,
            proxy_port: 0,
            dir: std::env::temp_dir().join(format!("egress-lab-{}", std::process::id())),
            envoy_bin: None,
            standin_now: None,
        }
    }
}

struct Service {
    port: u16,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Service {
    fn run(server: Server) -> Self {
        let port = server.port();
        let handle = server.handle();
        let task = tokio::spawn(server.run_until(std::future::pending()));
        Self { port, handle, task }
    }

    async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

fn lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    let mut map: BTreeMap<&'static str, String> = [
        ("PORT", "0".to_owned()),
        ("BIND_ADDRESS", "127.0.0.1".to_owned()),
        ("WORKERS", "1".to_owned()),
        ("SHUTDOWN_TIMEOUT", "1s".to_owned()),
    ]
    .into_iter()
    .collect();
    map.extend(pairs);
    move |k: &str| map.get(k).cloned()
}

struct Inner {
    state: LabState,
    envoy: Envoy,
    internet: Internet,
    fault: String,
}

/// A running lab. Cheap to clone; every clone drives the same lab.
#[derive(Clone)]
pub struct Lab {
    inner: Arc<Mutex<Inner>>,
    services: Arc<Mutex<Vec<Service>>>,
    http: reqwest::Client,
    pub customer_url: String,
    pub standin_url: String,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    pub dir: PathBuf,
    pub envoy_bin: PathBuf,
}

/// One destination's egress traffic, for `show`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrafficRow {
    pub host: String,
    /// `passthrough`, `blocked`, `service-entry`, `missing-cluster`.
    pub via: String,
    pub cluster: String,
    pub requests: usize,
    pub statuses: BTreeMap<String, usize>,
}

/// Everything `show` prints, also as JSON.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Show {
    pub customer_url: String,
    pub proxy: String,
    pub mesh_mode: String,
    pub mesh_mode_source: String,
    pub effective_mode: String,
    pub fault: String,
    pub objects: Vec<ObjectSummary>,
    pub routes: Vec<String>,
    pub traffic: Vec<TrafficRow>,
    pub stats: BTreeMap<String, u64>,
    pub notes: Vec<String>,
}

/// A closed loopback port: bound and released, so connections are refused.
fn closed_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Lab {
    /// Starts the stand-in, Envoy (ALLOW_ANY, nothing applied), recommendation v3, preference and customer.
    pub async fn start(options: LabOptions) -> anyhow::Result<Self> {
        let envoy_bin = match options.envoy_bin.clone() {
            Some(b) => b,
            None => crate::envoy::find_envoy()?,
        };
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("creating {}", options.dir.display()))?;
        let mut standin_env = vec![("HOSTNAME", EXTERNAL_HOST.to_owned())];
        if let Some(now) = &options.standin_now {
            standin_env.push(("STANDIN_NOW", now.clone()));
        }
        let standin = Service::run(worldclock_standin::build(
            worldclock_standin::Config::from_lookup(lookup(standin_env))?,
        )?);
        let internet = Internet {
            web: ([127, 0, 0, 1], standin.port).into(),
            closed: closed_addr()?,
            down: false,
        };
        let state = LabState::new();
        let config = state.envoy_config(&internet)?;
        let envoy = Envoy::start(&envoy_bin, &options.dir, options.proxy_port, &config).await?;
        let proxy = envoy.listener;
        let admin = envoy.admin;
        let recommendation = Service::run(recommendation::build(
            recommendation::Config::from_lookup(lookup(vec![
                ("HOSTNAME", RECOMMENDATION_HOST.into()),
                ("RECOMMENDATION_VERSION", "v3".into()),
                ("WORLDCLOCK_PROXY", format!("http://{proxy}")),
            ]))?,
        )?);
        let preference = Service::run(preference::build(preference::Config::from_lookup(
            lookup(vec![
                ("HOSTNAME", PREFERENCE_HOST.into()),
                (
                    "RECOMMENDATION_URL",
                    format!("http://127.0.0.1:{}", recommendation.port),
                ),
            ]),
        )?)?);
        let customer = Service::run(customer::build(customer::Config::from_lookup(lookup(
            vec![
                ("HOSTNAME", CUSTOMER_HOST.into()),
                ("PORT", options.customer_port.to_string()),
                (
                    "PREFERENCE_URL",
                    format!("http://127.0.0.1:{}", preference.port),
                ),
            ],
        ))?)?);
        let customer_url = format!("http://127.0.0.1:{}/", customer.port);
        let standin_url = format!("http://127.0.0.1:{}", standin.port);
        Ok(Self {
            inner: Arc::new(Mutex::new(Inner {
                state,
                envoy,
                internet,
                fault: "none".into(),
            })),
            services: Arc::new(Mutex::new(vec![
                customer,
                preference,
                recommendation,
                standin,
            ])),
            http: tutorial_common::client::client(Duration::from_secs(30), None)?,
            customer_url,
            standin_url,
            proxy,
            admin,
            dir: options.dir,
            envoy_bin,
        })
    }

    /// Stops the services and Envoy; removes the lab's directory when it is the default temporary one.
    pub async fn stop(&self) {
        let services: Vec<Service> = self.services.lock().await.drain(..).collect();
        for s in services {
            s.stop().await;
        }
        self.inner.lock().await.envoy.kill();
        let temporary = self.dir.parent() == Some(std::env::temp_dir().as_path())
            && self
                .dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("egress-lab-"));
        if temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn reconfigure(inner: &mut Inner, next: LabState) -> anyhow::Result<()> {
        let config = next
            .envoy_config(&inner.internet)
            .map_err(|e| anyhow!("{e}"))?;
        inner.envoy.update(&config).await?;
        inner.state = next;
        Ok(())
    }

    /// `kubectl apply` of already-parsed documents.
    pub async fn apply_documents(&self, docs: &[Document]) -> anyhow::Result<Vec<String>> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let lines = next.apply(docs).map_err(|e| anyhow!("{e}"))?;
        Self::reconfigure(&mut inner, next).await?;
        Ok(lines)
    }

    /// `kubectl apply -f <file>` with the file's text (`file` names it in messages).
    pub async fn apply_text(&self, file: &Path, text: &str) -> anyhow::Result<Vec<String>> {
        let docs = mesh_manifests::parse_str(file, text).map_err(|e| anyhow!("{e}"))?;
        self.apply_documents(&docs).await
    }

    /// `kubectl apply -f <file>`.
    pub async fn apply_file(&self, file: &Path) -> anyhow::Result<Vec<String>> {
        let docs = mesh_manifests::load_file(file).map_err(|e| anyhow!("{e}"))?;
        self.apply_documents(&docs).await
    }

    /// `kubectl delete <kind> <name>`.
    pub async fn delete(&self, kind: &str, name: &str) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let line = next.delete(kind, name).map_err(|e| anyhow!("{e}"))?;
        Self::reconfigure(&mut inner, next).await?;
        Ok(line)
    }

    /// Sets the mesh-wide outbound mode.
    pub async fn set_mode(&self, mode: Mode) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let line = next.set_mode(mode, "egress-lab mode");
        Self::reconfigure(&mut inner, next).await?;
        Ok(line)
    }

    /// Back to the start: nothing applied, ALLOW_ANY, no fault.
    pub async fn reset(&self) -> anyhow::Result<String> {
        self.fault("none", None).await?;
        let mut inner = self.inner.lock().await;
        Self::reconfigure(&mut inner, LabState::new()).await?;
        Ok("lab reset: nothing applied, mesh mode ALLOW_ANY, no fault".into())
    }

    /// Time-API faults: `down` (the host refuses connections), `up`/`none` (healthy again), or any
    /// stand-in mode (`slow` with `delay`, `error`, `malformed`, `missing-field`, `bad-time`).
    pub async fn fault(&self, mode: &str, delay: Option<&str>) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let want_down = mode == "down";
        if inner.internet.down != want_down {
            inner.internet.down = want_down;
            let config = inner
                .state
                .envoy_config(&inner.internet)
                .map_err(|e| anyhow!("{e}"))?;
            inner.envoy.update(&config).await?;
        }
        let standin_mode = if matches!(mode, "down" | "up") {
            "none"
        } else {
            mode
        };
        let mut url = format!("{}/_standin/fault?mode={standin_mode}", self.standin_url);
        if let Some(d) = delay {
            url.push_str(&format!("&delay={d}"));
        }
        let r = self.http.post(&url).send().await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            return Err(anyhow!("the stand-in refused the fault: {}", body.trim()));
        }
        inner.fault = match (mode, delay) {
            ("up", _) => "none".into(),
            ("slow", Some(d)) => format!("slow {d}"),
            (m, _) => m.into(),
        };
        Ok(match mode {
            "down" => format!("{EXTERNAL_HOST} is down: connections to it are refused"),
            "up" | "none" => format!("{EXTERNAL_HOST} answers normally"),
            _ => format!("{EXTERNAL_HOST} stand-in {}", body.trim()),
        })
    }

    /// Envoy's access log so far.
    pub async fn access_log(&self) -> Vec<AccessLogEntry> {
        self.inner.lock().await.envoy.access_log()
    }

    /// Waits (bounded) until the access log has `n` entries.
    pub async fn wait_access_log(&self, n: usize) -> Vec<AccessLogEntry> {
        let inner = self.inner.lock().await;
        inner.envoy.wait_access_log(n, Duration::from_secs(3)).await
    }

    /// The current Envoy route configuration and clusters.
    pub async fn envoy_config(&self) -> anyhow::Result<translate::EnvoyConfig> {
        let inner = self.inner.lock().await;
        inner
            .state
            .envoy_config(&inner.internet)
            .map_err(|e| anyhow!("{e}"))
    }

    /// What is applied, the routes, and the egress traffic so far per destination.
    pub async fn show(&self) -> anyhow::Result<Show> {
        let inner = self.inner.lock().await;
        let config = inner
            .state
            .envoy_config(&inner.internet)
            .map_err(|e| anyhow!("{e}"))?;
        let raw = inner
            .envoy
            .stats("^cluster\\.(PassthroughCluster|outbound\\|).*upstream_rq_total$|^http\\.outbound_0\\.0\\.0\\.0_80\\.(rq_direct_response|no_cluster|downstream_rq_total)$")
            .await?;
        let stats: BTreeMap<String, u64> = raw
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_u64()?)))
            .collect();
        let log = inner.envoy.access_log();
        let traffic = traffic_rows(&log);
        let notes = crate::show::notes(&inner.state, &config, &log);
        Ok(Show {
            customer_url: self.customer_url.clone(),
            proxy: format!("http://{}", self.proxy),
            mesh_mode: inner.state.mesh_mode.to_string(),
            mesh_mode_source: inner.state.mesh_mode_source.clone(),
            effective_mode: config.mode.to_string(),
            fault: inner.fault.clone(),
            objects: inner.state.summaries(),
            routes: crate::show::routes(&config),
            traffic,
            stats,
            notes,
        })
    }
}

/// Classifies one access-log entry: how the request left (or did not).
pub fn via(e: &AccessLogEntry) -> &'static str {
    let flags = e.response_flags.as_deref().unwrap_or("-");
    let cluster = e.upstream_cluster.as_deref().unwrap_or("");
    if e.route_name.as_deref() == Some(translate::BLOCK_ALL) {
        "blocked"
    } else if flags.contains("NC") {
        "missing-cluster"
    } else if cluster == translate::PASSTHROUGH_CLUSTER {
        "passthrough"
    } else if cluster.starts_with("outbound|") {
        "service-entry"
    } else {
        "other"
    }
}

fn traffic_rows(log: &[AccessLogEntry]) -> Vec<TrafficRow> {
    let mut rows: BTreeMap<(String, String, String), TrafficRow> = BTreeMap::new();
    for e in log {
        let host = e.authority.clone().unwrap_or_default();
        let v = via(e).to_owned();
        let cluster = e.upstream_cluster.clone().unwrap_or_else(|| "-".into());
        let row = rows
            .entry((host.clone(), v.clone(), cluster.clone()))
            .or_insert_with(|| TrafficRow {
                host,
                via: v,
                cluster,
                requests: 0,
                statuses: BTreeMap::new(),
            });
        row.requests += 1;
        let code = e.response_code.map(|c| c.to_string()).unwrap_or_default();
        let flags = e.response_flags.clone().unwrap_or_default();
        let key = if flags.is_empty() || flags == "-" {
            code
        } else {
            format!("{code} {flags}")
        };
        *row.statuses.entry(key).or_default() += 1;
    }
    rows.into_values().collect()
}
