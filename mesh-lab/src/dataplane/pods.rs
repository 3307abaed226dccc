//! A running pod: the app (the service's own library, configured from the Deployment's environment by the
//! same `Config::from_lookup` as its binary) and, when injected, its Envoy sidecar.
//!
//! The app is the service its image runs (`Workload::runs`). The lab changes only where things listen:
//! `PORT=0` and `BIND_ADDRESS=127.0.0.1` (every pod shares the
//! loopback), `SHUTDOWN_TIMEOUT=1s`, and the next hop's URL: customer's `PREFERENCE_URL` and preference's
//! `RECOMMENDATION_URL` — the Deployment's value, or the app's default (`http://preference:8080`, from
//! `tutorial_common::vars`) when it sets none, as upstream's Deployments do —
//! become the sidecar's capture listener for that Service (which sets the Host the app
//! would have sent, `preference:8080`, and hands the request to the outbound listener), or, without a sidecar,
//! the Service's ClusterIP on [`crate::dataplane::kube_proxy`]; recommendation v3's
//! `WORLDCLOCK_PROXY` becomes the sidecar's outbound port-80 listener (or, without a sidecar, the lab's
//! internet directly: its call bypasses the mesh).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use actix_web::dev::ServerHandle;
use anyhow::{Context, anyhow, bail};
use tutorial_common::config::FromEnv;
use tutorial_common::server::Server;
use tutorial_common::vars::{self, Var};
use url::Url;

use crate::dataplane::envoy::Envoy;
use crate::dataplane::ports::free_port;
use mesh_istiod::model::registry::{NAMESPACE, ServiceDef, Workload};
use mesh_istiod::networking::core::configgen::Dynamic;

/// A running app.
pub struct App {
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl App {
    pub fn run(server: Server) -> Self {
        let addr = ([127, 0, 0, 1], server.port()).into();
        let handle = server.handle();
        let task = tokio::spawn(server.run_until(std::future::pending()));
        Self { addr, handle, task }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.task.await;
    }
}

/// A sidecar: its Envoy and listeners.
pub struct Sidecar {
    pub envoy: Envoy,
    pub inbound: SocketAddr,
    pub outbound: SocketAddr,
    pub egress: SocketAddr,
}

/// How long a stopping pod's sidecar waits for the requests in flight (istio's `terminationDrainDuration`).
pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A running pod.
pub struct Pod {
    pub workload: Workload,
    /// When it was planned, among the lab's pods (a larger number is a newer pod: a ReplicaSet scaled
    /// down removes the newest).
    pub seq: u64,
    pub app: App,
    pub sidecar: Option<Sidecar>,
}

impl Pod {
    /// Where the Service's traffic to this pod goes: the sidecar's inbound listener, else the app.
    pub fn endpoint(&self) -> SocketAddr {
        self.sidecar.as_ref().map_or(self.app.addr, |s| s.inbound)
    }

    /// Stops the pod the way a terminating pod drains: its endpoint is already gone from every proxy, so
    /// the sidecar waits (at most [`DRAIN`], istio's default `terminationDrainDuration`) until the requests
    /// in flight through its inbound listener are answered, then the app and the sidecar stop.
    pub async fn stop(mut self) {
        if let Some(s) = self.sidecar.as_ref() {
            let deadline = std::time::Instant::now() + DRAIN;
            while std::time::Instant::now() < deadline {
                let active = s
                    .envoy
                    .stats("^http\\.virtualInbound\\.downstream_rq_active$")
                    .await
                    .ok()
                    .and_then(|m| m.values().next().and_then(serde_json::Value::as_u64));
                if active.unwrap_or(0) == 0 {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        self.app.stop().await;
        if let Some(s) = self.sidecar.as_mut() {
            s.envoy.kill();
        }
    }
}

/// The Service a next-hop URL names (`http://preference:8080` → preference), if it is one of the mesh's.
fn service_of<'a>(url: &str, services: &'a [ServiceDef]) -> Option<&'a ServiceDef> {
    let host = Url::parse(url).ok()?.host_str()?.to_owned();
    services
        .iter()
        .find(|s| host == s.name || host == s.fqdn() || host == format!("{}.{NAMESPACE}", s.name))
}

/// Does a pod without a sidecar call a Service of the mesh (and so need kube-proxy's ClusterIP)?
pub fn needs_cluster_ip(w: &Workload, services: &[ServiceDef]) -> bool {
    !w.inject && next_hops(w).any(|(_, url)| service_of(&url, services).is_some())
}

/// The variables naming a next hop.
const NEXT_HOP_VARS: &[Var] = &[vars::PREFERENCE_URL, vars::RECOMMENDATION_URL];

/// The next hops `w`'s app calls, (variable, URL): the Deployment's value, else the app's default (the
/// app's parser falls back to it when the variable is unset or empty).
fn next_hops(w: &Workload) -> impl Iterator<Item = (&'static str, String)> + '_ {
    NEXT_HOP_VARS
        .iter()
        .filter(|v| w.runs().is_ok_and(|app| v.read_by.contains(&app)))
        .filter_map(|v| {
            let url = w.env(v.name).filter(|u| !u.is_empty()).or(v.default)?;
            Some((v.name, url.to_owned()))
        })
}

fn lookup(env: BTreeMap<String, String>) -> impl Fn(&str) -> Option<String> {
    move |k: &str| env.get(k).cloned()
}

/// What a pod needs from the lab to start.
pub struct PodContext<'a> {
    pub envoy_bin: &'a Path,
    pub xds: &'a crate::xds::Xds,
    pub dir: &'a Path,
    pub services: &'a [ServiceDef],
    /// The internet's web address (the stand-in): a pod without sidecar reaches it directly.
    pub internet: SocketAddr,
}

/// A pod about to start: its addresses and the app's environment.
pub struct PodPlan {
    pub workload: Workload,
    /// [`Pod::seq`].
    pub seq: u64,
    pub app: SocketAddr,
    inbound: SocketAddr,
    outbound: SocketAddr,
    egress: SocketAddr,
    captures: Vec<(ServiceDef, SocketAddr)>,
    env: BTreeMap<String, String>,
}

impl PodPlan {
    /// Where the Service's traffic to this pod will go.
    pub fn endpoint(&self) -> SocketAddr {
        if self.workload.inject {
            self.inbound
        } else {
            self.app
        }
    }
}

async fn build_app(w: &Workload, env: BTreeMap<String, String>) -> anyhow::Result<Server> {
    let bad =
        |e: tutorial_common::config::ConfigError| anyhow!("{}: Deployment {}: {e}", w.file, w.name);
    match runs(w)? {
        "customer" => customer::build(customer::Config::from_lookup(lookup(env)).map_err(bad)?),
        "preference" => {
            preference::build(preference::Config::from_lookup(lookup(env)).map_err(bad)?)
        }
        "recommendation" => {
            recommendation::build(recommendation::Config::from_lookup(lookup(env)).map_err(bad)?)
        }
        other => bail!(
            "{}: Deployment {}: label app={other:?} is none of the tutorial's apps (customer, preference, recommendation)",
            w.file,
            w.name
        ),
    }
}

/// The service `w`'s container runs; `Err` names the file, the Deployment and the image it cannot.
fn runs(w: &Workload) -> anyhow::Result<&str> {
    w.runs()
        .map_err(|e| anyhow!("{}: Deployment {}: {e}", w.file, w.name))
}

/// Plans a pod: free loopback ports for the app and the sidecar's listeners, the app's environment.
/// Refuses a pod whose image the lab cannot run before anything starts.
pub fn plan(
    w: &Workload,
    services: &[ServiceDef],
    cluster_ips: Option<&BTreeMap<String, SocketAddr>>,
) -> anyhow::Result<PodPlan> {
    runs(w)?;
    let loopback = |p: u16| -> SocketAddr { ([127, 0, 0, 1], p).into() };
    let app = loopback(free_port()?);
    let mut env: BTreeMap<String, String> = w.env.iter().cloned().collect();
    env.insert("HOSTNAME".into(), w.pod.clone());
    env.insert("PORT".into(), app.port().to_string());
    env.insert("BIND_ADDRESS".into(), "127.0.0.1".into());
    env.insert("SHUTDOWN_TIMEOUT".into(), "1s".into());
    let (inbound, outbound, egress) = (
        loopback(free_port()?),
        loopback(free_port()?),
        loopback(free_port()?),
    );
    let mut captures = Vec::new();
    for (var, url) in next_hops(w) {
        let Some(svc) = service_of(&url, services) else {
            continue;
        };
        if !w.inject {
            // No sidecar: the call goes to the Service's ClusterIP, past the mesh.
            let ip = cluster_ips
                .and_then(|ips| ips.get(&svc.name))
                .ok_or_else(|| {
                    anyhow!("no ClusterIP for {} (kube-proxy is not running)", svc.name)
                })?;
            env.insert(var.into(), format!("http://{ip}/"));
            continue;
        }
        let cap = loopback(free_port()?);
        env.insert(var.into(), format!("http://{cap}/"));
        captures.push((svc.clone(), cap));
    }
    Ok(PodPlan {
        workload: w.clone(),
        seq: 0,
        app,
        inbound,
        outbound,
        egress,
        captures,
        env,
    })
}

/// Starts a planned pod: the app, then its sidecar with `config`.
pub async fn start(p: PodPlan, ctx: &PodContext<'_>, config: Dynamic) -> anyhow::Result<Pod> {
    let w = &p.workload;
    let mut env = p.env.clone();
    if w.runs().is_ok_and(|app| app == "recommendation") {
        let proxy = if w.inject { p.egress } else { ctx.internet };
        env.insert("WORLDCLOCK_PROXY".into(), format!("http://{proxy}"));
    }
    let app = App::run(build_app(w, env).await?);
    if !w.inject {
        return Ok(Pod {
            workload: w.clone(),
            seq: p.seq,
            app,
            sidecar: None,
        });
    }
    let boot = mesh_istiod::bootstrap::sidecar_bootstrap(w, p.outbound, p.egress, &p.captures);
    let dir = ctx.dir.join(&w.pod);
    let envoy = match Envoy::start(ctx.envoy_bin, &dir, &boot, &config, ctx.xds).await {
        Ok(e) => e,
        Err(e) => {
            app.stop().await;
            return Err(e).with_context(|| format!("the sidecar of {}", w.pod));
        }
    };
    Ok(Pod {
        workload: p.workload.clone(),
        seq: p.seq,
        app,
        sidecar: Some(Sidecar {
            envoy,
            inbound: p.inbound,
            outbound: p.outbound,
            egress: p.egress,
        }),
    })
}

#[cfg(test)]
mod tests;
