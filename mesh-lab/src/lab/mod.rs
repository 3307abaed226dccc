//! The running local mesh: the ingress gateway (Envoy), the tutorial's pods (each app with its own Envoy
//! sidecar when injected), the stand-in playing `worldclockapi.com`, and the control loop that turns what
//! is applied into every proxy's configuration ([`reconcile`], all or nothing), the `kubectl` verbs that
//! change what is applied ([`verbs`]) and certificate renewal ([`certificates`]). docs/LOCAL-MESH.md.

pub mod access;
mod certificates;
pub mod inspect;
mod reconcile;
pub mod tokens;
mod verbs;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use mesh_manifests::{Document, Resource};
use tokio::sync::Mutex;
use tutorial_common::config::FromEnv;

use crate::dataplane::ca::Ca;
use crate::dataplane::envoy::Envoy;
use crate::dataplane::kube_proxy::KubeProxy;
use crate::dataplane::pods::{App, Pod};
use crate::state::LabState;
use mesh_istiod::bootstrap::gateway_bootstrap;
use mesh_istiod::model::identity::CertFiles;
use mesh_istiod::model::registry::{self, ServiceDef, Workload};
use mesh_istiod::model::release::IstioRelease;
use mesh_istiod::networking::core::configgen::{MeshSettings, gateway_config};
use mesh_istiod::networking::core::egress::Internet;
use mesh_istiod::networking::core::httproute::gateway_port;

/// The external host recommendation v3 calls.
pub const EXTERNAL_HOST: &str = "worldclockapi.com";

/// The tutorial's setup, applied at `up` (paths from the repository root).
pub const SETUP_FILES: &[&str] = &[
    "customer/kubernetes/Service.yml",
    "preference/kubernetes/Service.yml",
    "recommendation/kubernetes/Service.yml",
    "customer/kubernetes/Deployment.yml",
    "preference/kubernetes/Deployment.yml",
    "recommendation/kubernetes/Deployment.yml",
    "recommendation/kubernetes/Deployment-v2.yml",
    "kubernetes/app/customer-gateway.yml",
];

/// How to start the lab.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// The gateway's port on 127.0.0.1 (0 = any free one).
    pub gateway_port: u16,
    /// Directory for the proxies' bootstraps, dynamic config and access logs.
    pub dir: PathBuf,
    /// The Envoy binary (default: [`crate::dataplane::envoy::find_envoy`]).
    pub envoy_bin: Option<PathBuf>,
    /// Freeze the stand-in's clock (`STANDIN_NOW`).
    pub standin_now: Option<String>,
    /// The repository root (for the Services, Deployments and the gateway).
    pub repo: PathBuf,
    /// How long workload certificates are valid (default Istio's 24 h); the lab renews every proxy's at
    /// half of it, as istio-agent does (`SECRET_GRACE_PERIOD_RATIO` 0.5).
    pub cert_lifetime: Option<Duration>,
    /// Which Istio release's defaults istiod's translation follows (`up --istio`).
    pub istio: IstioRelease,
}

static LABS: AtomicU64 = AtomicU64::new(0);

impl Default for LabOptions {
    fn default() -> Self {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        Self {
            gateway_port: 0,
            dir: temporary_dir(std::process::id(), n),
            envoy_bin: None,
            standin_now: None,
            repo: PathBuf::from("."),
            cert_lifetime: None,
            istio: IstioRelease::CURRENT,
        }
    }
}

pub(crate) struct Inner {
    pub state: LabState,
    /// The running pods, by pod name.
    pub pods: BTreeMap<String, Pod>,
    /// The ingress gateway (`None` only while the lab starts).
    pub gateway: Option<Envoy>,
    /// kube-proxy, once a pod without a sidecar needs it.
    pub kube_proxy: Option<KubeProxy>,
    pub internet: Internet,
    pub fault: String,
    pub services: Vec<ServiceDef>,
    /// Stopped pods and their Service endpoint: the graph still names them in older access-log entries.
    pub gone: Vec<(Workload, SocketAddr)>,
    /// The key sets given for a `jwksUri` (`mesh-lab jwks set`), by URI.
    pub jwks: BTreeMap<String, String>,
    /// The traffic graph draws requests that started from here on: the lab's readiness, then each `reset`.
    pub graph_since: Option<chrono::DateTime<chrono::Utc>>,
    /// The NACKs of the last change, one line each (`apply` prints them as warnings).
    pub rejections: Vec<String>,
    nonce: u64,
}

impl Inner {
    /// A Deployment's running pods, oldest first (the order `kubectl logs deploy/NAME` picks from).
    pub(crate) fn pods_of(&self, deployment: &str) -> Vec<&Pod> {
        let mut pods: Vec<&Pod> = self
            .pods
            .values()
            .filter(|p| p.workload.name == deployment)
            .collect();
        pods.sort_by_key(|p| p.seq);
        pods
    }

    /// Every Deployment's running pods, oldest first, by Deployment name.
    pub(crate) fn deployments(&self) -> BTreeMap<&str, Vec<&Pod>> {
        let mut out: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
        for p in self.pods.values() {
            out.entry(p.workload.name.as_str()).or_default().push(p);
        }
        for pods in out.values_mut() {
            pods.sort_by_key(|p| p.seq);
        }
        out
    }
}

/// A running lab. Cheap to clone; every clone drives the same lab.
#[derive(Clone)]
pub struct Lab {
    pub(crate) inner: Arc<Mutex<Inner>>,
    standin: Arc<Mutex<Option<App>>>,
    /// The lab's certificate authority (its files in `<dir>/ca`).
    ca: Arc<Ca>,
    /// The task renewing the proxies' certificates (aborted by [`Lab::stop`]).
    renewal: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
    /// Every proxy holding a certificate: its directory and its SPIFFE identity (the gateway and each
    /// sidecar), as the renewal finds them without waiting for a reconcile to finish.
    identities: Arc<std::sync::Mutex<BTreeMap<PathBuf, String>>>,
    /// How many times every proxy's certificate has been renewed.
    renewals: Arc<AtomicU64>,
    /// The lab's JWT issuer (its key in `<dir>`): every `jwksUri` resolves to its key set.
    pub(crate) issuer: Arc<crate::dataplane::issuer::Issuer>,
    /// Which Istio release's defaults the lab runs.
    pub istio: IstioRelease,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/`: the lab's `$GATEWAY_URL`.
    pub gateway_url: String,
    pub standin_url: String,
    pub dir: PathBuf,
    pub envoy_bin: PathBuf,
    /// The ADS server every proxy of the lab gets its configuration from.
    pub xds: crate::xds::Xds,
    /// The repository root the setup came from.
    pub repo: PathBuf,
}

fn loopback_free(port: u16) -> anyhow::Result<()> {
    if port == 0 {
        return Ok(());
    }
    TcpListener::bind(("127.0.0.1", port)).map(drop).map_err(|e| {
        anyhow!("port {port} on 127.0.0.1 is taken ({e}): stop what uses it (another `mesh-lab up`?) or pass --port")
    })
}

/// The ingress gateway's directory in the lab's.
fn gateway_dir_of(lab_dir: &Path) -> PathBuf {
    lab_dir.join("istio-ingressgateway")
}

fn nonce() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// The Envoy binary: the one given (if it runs), else the one found.
fn envoy_of(options: &LabOptions) -> anyhow::Result<PathBuf> {
    match options.envoy_bin.clone() {
        Some(b) if crate::dataplane::envoy::runs(&b) => Ok(b),
        Some(b) => bail!(
            "{} does not run `--version`. {}",
            b.display(),
            crate::dataplane::envoy::INSTALL_HINT
        ),
        None => crate::dataplane::envoy::find_envoy(),
    }
}

/// The tutorial's setup from the repository: the Services (the registry) and the state the rest makes.
fn setup(repo: &Path) -> anyhow::Result<(Vec<ServiceDef>, LabState)> {
    let mut docs = Vec::new();
    for f in SETUP_FILES {
        let path = repo.join(f);
        docs.extend(
            mesh_manifests::load_file(&path).map_err(|e| {
                anyhow!("{e} (run the lab from the repository root, or pass --repo)")
            })?,
        );
    }
    let resources: Vec<Resource> = docs.iter().map(|d| d.resource.clone()).collect();
    let services = registry::services(&resources).map_err(|e| anyhow!("{e}"))?;
    let mut state = LabState::new();
    let networking: Vec<Document> = docs
        .into_iter()
        .filter(|d| !matches!(d.resource, Resource::Service(_)))
        .collect();
    state.apply(&networking).map_err(|e| anyhow!("{e}"))?;
    Ok((services, state))
}

/// The stand-in playing the external time API, on a free loopback port (its clock frozen at `now`).
fn start_standin(now: Option<&str>) -> anyhow::Result<App> {
    let mut env = vec![("HOSTNAME", EXTERNAL_HOST.to_owned())];
    if let Some(now) = now {
        env.push(("STANDIN_NOW", now.to_owned()));
    }
    let env: BTreeMap<&str, String> = [
        ("PORT", "0".to_owned()),
        ("BIND_ADDRESS", "127.0.0.1".to_owned()),
        ("SHUTDOWN_TIMEOUT", "1s".to_owned()),
    ]
    .into_iter()
    .chain(env)
    .collect();
    Ok(App::run(worldclock_standin::build(
        worldclock_standin::Config::from_lookup(|k| env.get(k).cloned())?,
    )?))
}

/// Whether a start failed because a port it was given was taken meanwhile (Envoy's or an app's bind).
fn port_taken(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("Address already in use")
}

impl Lab {
    /// Starts the stand-in, the tutorial's pods from the repository's Deployments and the gateway.
    pub async fn start(options: LabOptions) -> anyhow::Result<Self> {
        let envoy_bin = envoy_of(&options)?;
        loopback_free(options.gateway_port)?;
        crate::dataplane::logs::book();
        remove_stale_dirs();
        {
            use std::os::unix::fs::DirBuilderExt;
            // The lab CA's key and the token issuer's key live here: this user's only.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&options.dir)
                .with_context(|| format!("creating {}", options.dir.display()))?;
        }
        let dir = options.dir.clone();
        let mut started = Self::start_in(options.clone(), envoy_bin.clone()).await;
        if started.as_ref().err().is_some_and(port_taken) {
            // Another process bound one of the ports between the check that it was free and Envoy's bind
            // (labs of several processes side by side; see dataplane/ports.rs). The failed start stopped all it
            // had started; once more, on ports this process never handed out before.
            started = Self::start_in(options, envoy_bin).await;
        }
        if started.is_err() && is_temporary(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        started
    }

    /// [`Lab::start`]'s work once the directory exists (which a failure here leaves to `start` to remove).
    async fn start_in(options: LabOptions, envoy_bin: PathBuf) -> anyhow::Result<Self> {
        let (services, state) = setup(&options.repo)?;
        let standin = start_standin(options.standin_now.as_deref())?;
        let internet = Internet {
            web: standin.addr,
            closed: ([127, 0, 0, 1], crate::dataplane::ports::free_port()?).into(),
            down: false,
        };
        let gw_port = if options.gateway_port == 0 {
            crate::dataplane::ports::free_port()?
        } else {
            options.gateway_port
        };
        let gw_addr: SocketAddr = ([127, 0, 0, 1], gw_port).into();
        let route = format!("http.{}", gateway_port(&state.resources()));
        let nonce = nonce();
        let standin_url = format!("http://{}", standin.addr);
        let gateway_dir = gateway_dir_of(&options.dir);
        let mut ca = Ca::create(&options.dir)?;
        if let Some(l) = options.cert_lifetime {
            ca = ca.with_lifetime(l);
        }
        let ca = Arc::new(ca);
        // Renewals count from the first certificate issued (the pods' come later, within the lab's start).
        let first_issued = tokio::time::Instant::now();
        ca.issue(
            &mesh_istiod::model::identity::gateway_identity(),
            &CertFiles::in_dir(&gateway_dir),
        )?;
        let issuer = Arc::new(
            crate::dataplane::issuer::Issuer::load_or_create(&options.dir)
                .map_err(|e| anyhow!("{e}"))?,
        );
        let mesh = MeshSettings {
            outbound: state.mesh_mode,
            istio: options.istio,
        };
        let gw_config = gateway_config(&state.resources(), &mesh, &services, &[])
            .map_err(|e| anyhow!("{e}"))?;
        // The gateway's Envoy starts while the pods start; it gets their endpoints right after.
        let gw_boot = gateway_bootstrap(gw_addr, &route);
        let gw_bin = envoy_bin.clone();
        let xds = crate::xds::Xds::start().await?;
        let gw_xds = xds.clone();
        let gateway = tokio::spawn(async move {
            Envoy::start(&gw_bin, &gateway_dir, &gw_boot, &gw_config, &gw_xds).await
        });
        let lab = Self {
            inner: Arc::new(Mutex::new(Inner {
                state: LabState::new(),
                pods: BTreeMap::new(),
                gateway: None,
                kube_proxy: None,
                internet,
                fault: "none".into(),
                services,
                gone: Vec::new(),
                jwks: BTreeMap::new(),
                graph_since: None,
                rejections: Vec::new(),
                nonce,
            })),
            standin: Arc::new(Mutex::new(Some(standin))),
            issuer,
            istio: options.istio,
            ca,
            renewal: Arc::new(std::sync::Mutex::new(None)),
            identities: Arc::new(std::sync::Mutex::new(BTreeMap::from([(
                gateway_dir_of(&options.dir),
                mesh_istiod::model::identity::gateway_identity(),
            )]))),
            renewals: Arc::new(AtomicU64::new(0)),
            http: tutorial_common::client::client(Duration::from_secs(30), None)?,
            gateway_url: format!("http://{gw_addr}/"),
            standin_url,
            dir: options.dir,
            envoy_bin,
            xds,
            repo: options.repo,
        };
        match lab.bring_up(state, gateway).await {
            Ok(()) => {
                lab.inner.lock().await.graph_since = Some(chrono::Utc::now());
                lab.renew_certificates_in_time(first_issued);
                Ok(lab)
            }
            Err(e) => {
                lab.stop().await;
                Err(e)
            }
        }
    }

    /// The first reconcile starts the pods while the gateway's Envoy starts; once both run, the same state
    /// again gives the gateway the pods' endpoints.
    async fn bring_up(
        &self,
        state: LabState,
        gateway: tokio::task::JoinHandle<anyhow::Result<Envoy>>,
    ) -> anyhow::Result<()> {
        let mut inner = self.inner.lock().await;
        let pods = self.reconcile(&mut inner, state.clone()).await;
        inner.gateway = Some(match gateway.await {
            Ok(started) => started.context("the ingress gateway")?,
            Err(e) => bail!("the ingress gateway: {e}"),
        });
        pods?;
        self.reconcile(&mut inner, state).await
    }

    /// Stops every pod, the gateway and the stand-in; removes the lab's directory when it is a temporary one.
    pub async fn stop(&self) {
        if let Some(task) = self.renewal.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
        let mut inner = self.inner.lock().await;
        let pods: Vec<Pod> = std::mem::take(&mut inner.pods).into_values().collect();
        for p in pods {
            p.stop().await;
        }
        if let Some(g) = inner.gateway.as_mut() {
            g.kill();
        }
        if let Some(k) = inner.kube_proxy.as_mut() {
            k.envoy.kill();
        }
        if let Some(s) = self.standin.lock().await.take() {
            s.stop().await;
        }
        if is_temporary(&self.dir) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `n`th temporary directory of the lab process `pid`: `<temp dir>/mesh-lab-<pid>-<n>`.
fn temporary_dir(pid: u32, n: u64) -> PathBuf {
    std::env::temp_dir().join(format!("mesh-lab-{pid}-{n}"))
}

/// The pid of a directory [`temporary_dir`] names.
fn temporary_pid(dir: &Path) -> Option<u32> {
    if dir.parent() != Some(std::env::temp_dir().as_path()) {
        return None;
    }
    let name = dir.file_name()?.to_str()?;
    let (pid, n) = name.strip_prefix("mesh-lab-")?.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn is_temporary(dir: &Path) -> bool {
    temporary_pid(dir).is_some()
}

/// Removes the temporary directories of this user's labs whose process is gone (killed with SIGKILL, or
/// the machine stopped): their keys do not outlive them past the next start.
fn remove_stale_dirs() {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = crate::dataplane::files::user_id() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for dir in entries.flatten().map(|e| e.path()) {
        let Some(pid) = temporary_pid(&dir) else {
            continue;
        };
        let ours = std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if ours && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A port taken meanwhile is told apart from other failures: the kernel's words, as an app's bind and
    /// Envoy's log (`cannot bind '127.0.0.1:P': Address already in use`) say them.
    #[test]
    fn a_start_that_lost_a_port_race_is_told_apart() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let bind = std::net::TcpListener::bind(held.local_addr().unwrap()).unwrap_err();
        let e = anyhow::Error::from(bind).context("starting the app");
        assert!(port_taken(&e), "{e:#}");
        let envoy = anyhow!(
            "Envoy exited (exit status: 1) at start: cannot bind '127.0.0.1:21635': Address already in use"
        );
        assert!(port_taken(&envoy));
        assert!(!port_taken(&anyhow!("Envoy not ready after 20s: …")));
    }

    /// The sweep finds the pid in the names `LabOptions::default` gives, and in nothing else.
    #[test]
    fn a_temporary_directory_names_its_process() {
        assert_eq!(temporary_pid(&temporary_dir(4242, 7)), Some(4242));
        let tmp = std::env::temp_dir();
        for other in [
            "mesh-lab-0",
            "mesh-lab-jwt-4242",
            "mesh-lab-4242-x",
            "other-4242-1",
        ] {
            assert_eq!(temporary_pid(&tmp.join(other)), None, "{other}");
        }
        assert_eq!(temporary_pid(Path::new("/elsewhere/mesh-lab-4242-1")), None);
    }
}
