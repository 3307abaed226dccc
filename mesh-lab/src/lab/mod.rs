//! The running local mesh: the ingress gateway (Envoy), the tutorial's pods (each app with its own Envoy
//! sidecar when injected), the stand-in playing `worldclockapi.com`, and the control loop that turns what
//! is applied into every proxy's configuration (docs/LOCAL-MESH.md).
//!
//! Every change is checked and translated for every proxy first (a bad object changes nothing), then
//! new pods start, every Envoy takes its new configuration in xDS order, and replaced pods stop: a
//! Deployment change is a rolling update, and an Envoy rejection puts the previous configuration back
//! everywhere.

pub mod inspect;
pub mod tokens;

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
use crate::dataplane::pods::{App, Pod, PodContext};
use crate::state::LabState;
use mesh_istiod::bootstrap::gateway_bootstrap;
use mesh_istiod::model::identity::CertFiles;
use mesh_istiod::model::registry::{self, ServiceDef, Workload};
use mesh_istiod::model::sidecar::Mode;
use mesh_istiod::networking::core::cluster::Endpoint;
use mesh_istiod::networking::core::configgen::Dynamic;
use mesh_istiod::networking::core::configgen::{SidecarOf, gateway_config, sidecar_config};
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
}

static LABS: AtomicU64 = AtomicU64::new(0);

impl Default for LabOptions {
    fn default() -> Self {
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        Self {
            gateway_port: 0,
            dir: std::env::temp_dir().join(format!("mesh-lab-{}-{n}", std::process::id())),
            envoy_bin: None,
            standin_now: None,
            repo: PathBuf::from("."),
            cert_lifetime: None,
        }
    }
}

pub(crate) struct Inner {
    pub state: LabState,
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
    nonce: u64,
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
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/`: the lab's `$GATEWAY_URL`.
    pub gateway_url: String,
    pub standin_url: String,
    pub dir: PathBuf,
    pub envoy_bin: PathBuf,
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

impl Lab {
    /// Starts the stand-in, the tutorial's pods from the repository's Deployments and the gateway.
    pub async fn start(options: LabOptions) -> anyhow::Result<Self> {
        let envoy_bin = match options.envoy_bin.clone() {
            Some(b) if crate::dataplane::envoy::runs(&b) => b,
            Some(b) => bail!(
                "{} does not run `--version`. {}",
                b.display(),
                crate::dataplane::envoy::INSTALL_HINT
            ),
            None => crate::dataplane::envoy::find_envoy()?,
        };
        loopback_free(options.gateway_port)?;
        crate::dataplane::logs::book();
        std::fs::create_dir_all(&options.dir)
            .with_context(|| format!("creating {}", options.dir.display()))?;
        let mut docs = Vec::new();
        for f in SETUP_FILES {
            let path = options.repo.join(f);
            docs.extend(mesh_manifests::load_file(&path).map_err(|e| {
                anyhow!("{e} (run the lab from the repository root, or pass --repo)")
            })?);
        }
        let resources: Vec<Resource> = docs.iter().map(|d| d.resource.clone()).collect();
        let services = registry::services(&resources).map_err(|e| anyhow!("{e}"))?;
        let mut state = LabState::new();
        let networking: Vec<Document> = docs
            .into_iter()
            .filter(|d| !matches!(d.resource, Resource::Service(_)))
            .collect();
        state.apply(&networking).map_err(|e| anyhow!("{e}"))?;
        let mut standin_env = vec![("HOSTNAME", EXTERNAL_HOST.to_owned())];
        if let Some(now) = &options.standin_now {
            standin_env.push(("STANDIN_NOW", now.clone()));
        }
        let standin_env: BTreeMap<&str, String> = [
            ("PORT", "0".to_owned()),
            ("BIND_ADDRESS", "127.0.0.1".to_owned()),
            ("SHUTDOWN_TIMEOUT", "1s".to_owned()),
        ]
        .into_iter()
        .chain(standin_env)
        .collect();
        let standin = App::run(worldclock_standin::build(
            worldclock_standin::Config::from_lookup(|k| standin_env.get(k).cloned())?,
        )?);
        let internet = Internet {
            web: standin.addr,
            closed: ([127, 0, 0, 1], crate::dataplane::envoy::free_port()?).into(),
            down: false,
        };
        let gw_port = if options.gateway_port == 0 {
            crate::dataplane::envoy::free_port()?
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
        let gw_config = gateway_config(
            &state.resources(),
            &services,
            &[],
            &CertFiles::in_dir(&gateway_dir),
        )
        .map_err(|e| anyhow!("{e}"))?;
        // The gateway's Envoy starts while the pods start; it gets their endpoints right after.
        let gw_boot = gateway_bootstrap(gw_addr, &route);
        let gw_bin = envoy_bin.clone();
        let gateway =
            tokio::spawn(
                async move { Envoy::start(&gw_bin, &gateway_dir, &gw_boot, &gw_config).await },
            );
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
                nonce,
            })),
            standin: Arc::new(Mutex::new(Some(standin))),
            issuer,
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
            repo: options.repo,
        };
        let started = {
            let mut inner = lab.inner.lock().await;
            let pods = lab.reconcile(&mut inner, state.clone()).await;
            match gateway.await {
                Ok(Ok(g)) => inner.gateway = Some(g),
                Ok(Err(e)) => return lab.failed(inner, e.context("the ingress gateway")).await,
                Err(e) => return lab.failed(inner, anyhow!("the ingress gateway: {e}")).await,
            }
            match pods {
                // The same state again: only the gateway's endpoints change.
                Ok(()) => lab.reconcile(&mut inner, state).await,
                Err(e) => Err(e),
            }
        };
        match started {
            Ok(()) => {
                lab.renew_certificates_in_time(first_issued);
                Ok(lab)
            }
            Err(e) => {
                lab.stop().await;
                Err(e)
            }
        }
    }

    /// Renews every proxy's certificate at half its lifetime, as istio-agent does, for as long as the lab
    /// runs (a lab left up overnight keeps its mutual TLS). The renewals keep to a fixed schedule counted
    /// from `first_issued` (the oldest certificate), so a slow start or a slow renewal never pushes the
    /// next one past an expiry.
    fn renew_certificates_in_time(&self, first_issued: tokio::time::Instant) {
        let lab = self.clone();
        let every = self.ca.lifetime / 2;
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(first_issued + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = lab.renew_certificates().await {
                    tracing::warn!("renewing the proxies' certificates failed: {e:#}");
                }
            }
        });
        if let Ok(mut slot) = self.renewal.lock() {
            *slot = Some(task);
        }
    }

    /// Issues every proxy (the gateway, each sidecar) a new certificate, replacing its SDS secret files in
    /// place: each Envoy swaps the secret it watches, no listener or cluster changes, no connection is
    /// drained (istio-agent pushes a renewed `default` secret the same way). Does not wait for a
    /// configuration change in progress. Returns how many proxies were renewed.
    pub async fn renew_certificates(&self) -> anyhow::Result<usize> {
        let proxies: Vec<(PathBuf, String)> = self
            .identities
            .lock()
            .map_err(|_| anyhow!("the proxies' identities are poisoned"))?
            .iter()
            .map(|(d, i)| (d.clone(), i.clone()))
            .collect();
        let mut failed = Vec::new();
        for (dir, identity) in &proxies {
            if let Err(e) = self.ca.issue(identity, &CertFiles::in_dir(dir)) {
                failed.push(format!("{}: {e:#}", dir.display()));
            }
        }
        self.renewals.fetch_add(1, Ordering::Relaxed);
        if !failed.is_empty() {
            bail!("{}", failed.join("; "));
        }
        Ok(proxies.len())
    }

    /// How many times the proxies' certificates have been renewed.
    pub fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }

    async fn failed(
        &self,
        inner: tokio::sync::MutexGuard<'_, Inner>,
        e: anyhow::Error,
    ) -> anyhow::Result<Self> {
        drop(inner);
        self.stop().await;
        Err(e)
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
        let temporary = self.dir.parent() == Some(std::env::temp_dir().as_path())
            && self
                .dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("mesh-lab-"));
        if temporary {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Makes the running mesh what `next` says: checks and translates everything first, starts new pods,
    /// updates every proxy, stops replaced pods, then keeps `next`.
    async fn reconcile(&self, inner: &mut Inner, next: LabState) -> anyhow::Result<()> {
        inner.nonce += 1;
        let want = next.workloads(inner.nonce)?;
        let keep: Vec<String> = inner
            .pods
            .iter()
            .filter(|(name, p)| {
                want.get(*name)
                    .is_some_and(|w| registry::same_template(w, &p.workload))
            })
            .map(|(name, _)| name.clone())
            .collect();
        let start: Vec<&Workload> = want.values().filter(|w| !keep.contains(&w.name)).collect();
        // Plan the new pods' addresses first: the Services' endpoints are known before anything starts.
        let mut endpoints: Vec<Endpoint> = keep
            .iter()
            .map(|n| Endpoint {
                labels: inner.pods[n].workload.labels.clone(),
                addr: inner.pods[n].endpoint(),
                identity: inner.pods[n]
                    .sidecar
                    .is_some()
                    .then(|| inner.pods[n].workload.identity()),
            })
            .collect();
        if inner.kube_proxy.is_none()
            && start
                .iter()
                .any(|w| crate::dataplane::pods::needs_cluster_ip(w, &inner.services))
        {
            inner.kube_proxy = Some(
                KubeProxy::start(&self.envoy_bin, &self.dir, &inner.services, &endpoints).await?,
            );
        }
        let cluster_ips = inner.kube_proxy.as_ref().map(|k| k.cluster_ips.clone());
        let mut planned = Vec::new();
        for w in &start {
            let plan = crate::dataplane::pods::plan(w, &inner.services, cluster_ips.as_ref())?;
            if w.inject {
                // istio-agent's certificate request at pod start: the CA signs the pod's identity.
                self.ca
                    .issue(&w.identity(), &CertFiles::in_dir(&self.dir.join(&w.pod)))?;
            }
            endpoints.push(Endpoint {
                labels: w.labels.clone(),
                addr: plan.endpoint(),
                identity: w.inject.then(|| w.identity()),
            });
            planned.push(plan);
        }
        let services = inner.services.clone();
        let resources = next.resources();
        let jwks = self.issuer.jwks();
        let config_for = |w: &Workload, inbound: SocketAddr| {
            let dir = self.dir.join(&w.pod);
            let certs = CertFiles::in_dir(&dir);
            let me = SidecarOf {
                labels: &w.labels,
                inbound,
                dir: &dir,
                certs: &certs,
                jwks: &jwks,
            };
            sidecar_config(
                &resources,
                next.mesh_mode,
                &services,
                &endpoints,
                &inner.internet,
                &me,
            )
            .map_err(|e| anyhow!("{e}"))
        };
        let gw = gateway_config(
            &resources,
            &services,
            &endpoints,
            &CertFiles::in_dir(&gateway_dir_of(&self.dir)),
        )
        .map_err(|e| anyhow!("{e}"))?;
        let mut configs = BTreeMap::new();
        for name in &keep {
            let p = &inner.pods[name];
            configs.insert(name.clone(), config_for(&p.workload, p.endpoint())?);
        }
        let mut new_configs = Vec::new();
        for p in &planned {
            new_configs.push(config_for(&p.workload, p.endpoint())?);
        }
        let ctx = PodContext {
            envoy_bin: &self.envoy_bin,
            dir: &self.dir,
            services: &services,
            internet: inner.internet.web,
        };
        let started = futures_util::future::join_all(
            planned
                .into_iter()
                .zip(new_configs)
                .map(|(p, c)| crate::dataplane::pods::start(p, &ctx, c)),
        )
        .await;
        let mut new_pods = Vec::new();
        let mut failure = None;
        for r in started {
            match r {
                Ok(p) => new_pods.push(p),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            for p in new_pods {
                p.stop().await;
            }
            return Err(e);
        }
        // Every running proxy takes its new configuration; a rejection rolls back the ones already updated.
        let mut updated: Vec<(Option<String>, Dynamic)> = Vec::new();
        let mut error = None;
        if let Some(gateway) = inner.gateway.as_mut() {
            let old_gw = gateway.current().clone();
            match gateway.update(&gw).await {
                Ok(()) => updated.push((None, old_gw)),
                Err(e) => error = Some(e.context("istio-ingressgateway")),
            }
        }
        if let (None, Some(kp)) = (&error, inner.kube_proxy.as_mut()) {
            let kp_config = crate::dataplane::kube_proxy::config(&services, &endpoints);
            if let Err(e) = kp.envoy.update(&kp_config).await {
                error = Some(e.context("kube-proxy"));
            }
        }
        if error.is_none() {
            for name in &keep {
                let Some(sc) = inner.pods.get_mut(name).and_then(|p| p.sidecar.as_mut()) else {
                    continue;
                };
                let old = sc.envoy.current().clone();
                if let Err(e) = sc.envoy.update(&configs[name]).await {
                    error = Some(e.context(format!("the sidecar of {name}")));
                    break;
                }
                updated.push((Some(name.clone()), old));
            }
        }
        if let Some(e) = error {
            for (name, old) in updated {
                let envoy = match name {
                    None => inner.gateway.as_mut(),
                    Some(n) => inner
                        .pods
                        .get_mut(&n)
                        .and_then(|p| p.sidecar.as_mut())
                        .map(|s| &mut s.envoy),
                };
                if let Some(envoy) = envoy {
                    let _ = envoy.update(&old).await;
                }
            }
            for p in new_pods {
                p.stop().await;
            }
            return Err(e);
        }
        let gone: Vec<String> = inner
            .pods
            .keys()
            .filter(|n| !keep.contains(n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(p) = inner.pods.remove(&name) {
                inner.gone.push((p.workload.clone(), p.endpoint()));
                p.stop().await;
            }
        }
        for p in new_pods {
            inner.pods.insert(p.workload.name.clone(), p);
        }
        if let Ok(mut ids) = self.identities.lock() {
            ids.retain(|d, _| *d == gateway_dir_of(&self.dir));
            for p in inner.pods.values().filter(|p| p.sidecar.is_some()) {
                ids.insert(self.dir.join(&p.workload.pod), p.workload.identity());
            }
        }
        inner.state = next;
        Ok(())
    }

    /// `kubectl apply` of already-parsed documents (all or nothing).
    pub async fn apply_documents(&self, docs: &[Document]) -> anyhow::Result<Vec<String>> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let lines = next.apply(docs).map_err(|e| anyhow!("{e}"))?;
        self.reconcile(&mut inner, next).await?;
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

    /// `oc patch <kind> <name> --type merge -p <patch>` (Deployments: e.g. the sidecar injection label).
    pub async fn patch(&self, kind: &str, name: &str, patch: &str) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let doc = inner
            .state
            .patched(kind, name, patch)
            .map_err(|e| anyhow!("{e}"))?;
        let mut next = inner.state.clone();
        next.apply(&[doc]).map_err(|e| anyhow!("{e}"))?;
        self.reconcile(&mut inner, next).await?;
        Ok(format!("deployment.apps/{name} patched"))
    }

    /// `kubectl delete <kind> <name>`.
    pub async fn delete(&self, kind: &str, name: &str) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let line = next.delete(kind, name).map_err(|e| anyhow!("{e}"))?;
        self.reconcile(&mut inner, next).await?;
        Ok(line)
    }

    /// Sets the mesh-wide outbound mode.
    pub async fn set_mode(&self, mode: Mode) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let line = next.set_mode(mode, "mesh-lab mode");
        self.reconcile(&mut inner, next).await?;
        Ok(line)
    }

    /// Back to the start: the tutorial's setup only, ALLOW_ANY, no fault, every app behaving.
    pub async fn reset(&self) -> anyhow::Result<String> {
        let repo = &self.repo;
        self.fault("none", None).await?;
        let mut docs = Vec::new();
        for f in SETUP_FILES.iter().filter(|f| !f.ends_with("Service.yml")) {
            docs.extend(mesh_manifests::load_file(repo.join(f)).map_err(|e| anyhow!("{e}"))?);
        }
        let mut next = LabState::new();
        next.apply(&docs).map_err(|e| anyhow!("{e}"))?;
        let mut inner = self.inner.lock().await;
        self.reconcile(&mut inner, next).await?;
        for p in inner.pods.values() {
            let _ = self
                .http
                .get(format!("http://{}/behave", p.app.addr))
                .send()
                .await;
        }
        Ok("lab reset: the tutorial's setup only (v1 and v2, the gateway), mesh mode ALLOW_ANY, no fault".into())
    }

    /// Time-API faults: `down` (the host refuses connections), `up`/`none` (healthy again), or any
    /// stand-in mode (`slow` with `delay`, `error`, `malformed`, `missing-field`, `bad-time`).
    pub async fn fault(&self, mode: &str, delay: Option<&str>) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let want_down = mode == "down";
        if inner.internet.down != want_down {
            let mut next_internet = inner.internet;
            next_internet.down = want_down;
            let before = inner.internet;
            inner.internet = next_internet;
            let state = inner.state.clone();
            if let Err(e) = self.reconcile(&mut inner, state).await {
                inner.internet = before;
                return Err(e);
            }
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
            bail!("the stand-in refused the fault: {}", body.trim());
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
}
