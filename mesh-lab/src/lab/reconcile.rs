//! The control loop's one step: make the running pods and proxies what the applied state says. Everything
//! is checked and translated for every proxy first (a bad object changes nothing), then new pods start,
//! every running Envoy takes its new configuration in xDS order, and replaced pods stop — a Deployment
//! change is a rolling update. What an Envoy NACKs stays as it was in that Envoy, as on a cluster
//! (`proxy-status` shows it STALE); any other failure puts the previous configuration back everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use anyhow::{Context, anyhow};
use mesh_istiod::model::identity::CertFiles;
use mesh_istiod::model::registry::Workload;
use mesh_istiod::networking::core::cluster::Endpoint;
use mesh_istiod::networking::core::configgen::{
    Dynamic, MeshSettings, SidecarOf, gateway_config, sidecar_config,
};

use super::{Inner, Lab, gateway_dir_of};
use crate::dataplane::envoy::Envoy;
use crate::dataplane::kube_proxy::KubeProxy;
use crate::dataplane::pods::{self, Pod, PodContext, PodPlan};
use crate::state::LabState;
use crate::xds::Rejected;

/// What one step changes: the pods kept as they run, the pods to start (planned: their addresses known),
/// and every Service endpoint once the step is done.
struct Plan {
    keep: Vec<String>,
    start: Vec<PodPlan>,
    endpoints: Vec<Endpoint>,
}

/// Every proxy's configuration for the new state.
struct Configs {
    gateway: Dynamic,
    /// The kept pods' sidecars, by pod name.
    kept: BTreeMap<String, Dynamic>,
    /// The new pods' sidecars, in [`Plan::start`]'s order.
    started: Vec<Dynamic>,
}

/// A kept pod's Service endpoint (its sidecar's inbound listener when it has one).
fn endpoint_of(p: &Pod) -> Endpoint {
    Endpoint {
        labels: p.workload.labels.clone(),
        addr: p.endpoint(),
        identity: p.sidecar.is_some().then(|| p.workload.identity()),
    }
}

impl Lab {
    /// Makes the running mesh what `next` says; on any failure the running mesh stays as it was.
    pub(super) async fn reconcile(&self, inner: &mut Inner, next: LabState) -> anyhow::Result<()> {
        inner.rejections.clear();
        let plan = self.plan(inner, &next).await?;
        let configs = self.translate(inner, &next, &plan)?;
        let started = self.start_pods(inner, plan.start, configs.started).await?;
        if let Err(e) = self
            .update_proxies(
                inner,
                &plan.keep,
                &configs.kept,
                &configs.gateway,
                &plan.endpoints,
            )
            .await
        {
            for p in started {
                p.stop().await;
            }
            return Err(e);
        }
        self.replace_pods(inner, &plan.keep, started).await;
        inner.state = next;
        Ok(())
    }

    /// Which pods stay, which start, and the endpoints of both: the new pods' addresses are planned before
    /// anything starts, so every proxy's clusters can name them. Starts kube-proxy when the first pod
    /// without a sidecar needs a Service's ClusterIP, and has the CA sign each new sidecar's identity
    /// (istio-agent's certificate request at pod start).
    async fn plan(&self, inner: &mut Inner, next: &LabState) -> anyhow::Result<Plan> {
        let (keep, new) = replica_sets(inner, next)?;
        let mut endpoints: Vec<Endpoint> =
            keep.iter().map(|n| endpoint_of(&inner.pods[n])).collect();
        if inner.kube_proxy.is_none()
            && new
                .iter()
                .any(|(_, w)| pods::needs_cluster_ip(w, &inner.services))
        {
            inner.kube_proxy = Some(
                KubeProxy::start(
                    &self.envoy_bin,
                    &self.dir,
                    &inner.services,
                    &endpoints,
                    &self.xds,
                )
                .await?,
            );
        }
        let cluster_ips = inner.kube_proxy.as_ref().map(|k| k.cluster_ips.clone());
        let mut start = Vec::new();
        for (seq, w) in &new {
            let mut plan = pods::plan(w, &inner.services, cluster_ips.as_ref())?;
            plan.seq = *seq;
            if w.inject {
                self.ca
                    .issue(&w.identity(), &CertFiles::in_dir(&self.dir.join(&w.pod)))?;
            }
            endpoints.push(Endpoint {
                labels: w.labels.clone(),
                addr: plan.endpoint(),
                identity: w.inject.then(|| w.identity()),
            });
            start.push(plan);
        }
        Ok(Plan {
            keep,
            start,
            endpoints,
        })
    }

    /// istiod's part: every proxy's configuration for `next` (mesh_istiod), before anything changes.
    fn translate(&self, inner: &Inner, next: &LabState, plan: &Plan) -> anyhow::Result<Configs> {
        let resources = next.resources();
        let jwks = self.issuer.jwks();
        let mesh = MeshSettings {
            outbound: next.mesh_mode,
            istio: self.istio,
        };
        let config_for = |w: &Workload, inbound: SocketAddr, app: SocketAddr| {
            let dir = self.dir.join(&w.pod);
            let me = SidecarOf {
                labels: &w.labels,
                inbound,
                app,
                dir: &dir,
                jwks: &jwks,
                fetched: &inner.jwks,
            };
            sidecar_config(
                &resources,
                &mesh,
                &inner.services,
                &plan.endpoints,
                &inner.internet,
                &me,
            )
            .map_err(|e| anyhow!("{e}"))
        };
        let gateway = gateway_config(&resources, &mesh, &inner.services, &plan.endpoints)
            .map_err(|e| anyhow!("{e}"))?;
        let mut kept = BTreeMap::new();
        for name in &plan.keep {
            let p = &inner.pods[name];
            kept.insert(
                name.clone(),
                config_for(&p.workload, p.endpoint(), p.app.addr)?,
            );
        }
        let started = plan
            .start
            .iter()
            .map(|p| config_for(&p.workload, p.endpoint(), p.app))
            .collect::<anyhow::Result<_>>()?;
        Ok(Configs {
            gateway,
            kept,
            started,
        })
    }

    /// Starts the new pods side by side; if one fails, the others stop again.
    async fn start_pods(
        &self,
        inner: &Inner,
        plans: Vec<PodPlan>,
        configs: Vec<Dynamic>,
    ) -> anyhow::Result<Vec<Pod>> {
        let ctx = PodContext {
            envoy_bin: &self.envoy_bin,
            xds: &self.xds,
            dir: &self.dir,
            services: &inner.services,
            internet: inner.internet.web,
        };
        let results = futures_util::future::join_all(
            plans
                .into_iter()
                .zip(configs)
                .map(|(p, c)| pods::start(p, &ctx, c)),
        )
        .await;
        let mut started = Vec::new();
        let mut failure = None;
        for r in results {
            match r {
                Ok(p) => started.push(p),
                Err(e) => failure = Some(e),
            }
        }
        if let Some(e) = failure {
            for p in started {
                p.stop().await;
            }
            return Err(e);
        }
        Ok(started)
    }

    /// Every running proxy takes its new configuration: the gateway, kube-proxy, the kept sidecars. A
    /// proxy that NACKs keeps what it had of the rejected resources and the others go on, as with istiod: the
    /// NACK is noted in [`Inner::rejections`]. Any other failure puts the previous configuration back on
    /// the ones already updated.
    async fn update_proxies(
        &self,
        inner: &mut Inner,
        keep: &[String],
        kept: &BTreeMap<String, Dynamic>,
        gateway: &Dynamic,
        endpoints: &[Endpoint],
    ) -> anyhow::Result<()> {
        let mut updated: Vec<(Option<String>, Dynamic)> = Vec::new();
        let targets = std::iter::once((None, gateway))
            .chain(keep.iter().map(|n| (Some(n.as_str()), &kept[n])));
        if let Some(kp) = inner.kube_proxy.as_mut() {
            let config = crate::dataplane::kube_proxy::config(&inner.services, endpoints);
            kp.envoy.update(&config).await.context("kube-proxy")?;
        }
        let mut error = None;
        for (name, config) in targets {
            let Some(envoy) = proxy_of(inner, name) else {
                continue;
            };
            let old = envoy.current().clone();
            match envoy.update(config).await {
                Ok(()) => updated.push((name.map(str::to_owned), old)),
                Err(e) if e.is::<Rejected>() => {
                    inner.rejections.push(format!("{}: {e}", proxy_name(name)));
                }
                Err(e) => {
                    error = Some(e.context(proxy_name(name)));
                    break;
                }
            }
        }
        let Some(e) = error else {
            return Ok(());
        };
        for (name, old) in updated {
            if let Some(envoy) = proxy_of(inner, name.as_deref()) {
                let _ = envoy.update(&old).await;
            }
        }
        Err(e)
    }

    /// The pods not kept stop (the graph keeps their names for older log entries), the started ones join,
    /// and the certificate renewal learns the sidecars now running.
    async fn replace_pods(&self, inner: &mut Inner, keep: &[String], started: Vec<Pod>) {
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
        for p in started {
            inner.pods.insert(p.workload.pod.clone(), p);
        }
        if let Ok(mut ids) = self.identities.lock() {
            ids.retain(|d, _| *d == gateway_dir_of(&self.dir));
            for p in inner.pods.values().filter(|p| p.sidecar.is_some()) {
                ids.insert(self.dir.join(&p.workload.pod), p.workload.identity());
            }
        }
    }
}

/// A pod to start: its [`Pod::seq`] and what it runs.
type NewPod = (u64, Workload);

/// What each Deployment's ReplicaSet does for `next`: the running pods of its current template (same
/// [`replica_set`]), oldest first, stay up to `spec.replicas` (scaling down removes the newest; a new template replaces them all),
/// and new pods (their `seq`, each with a pod name no running pod has) make up the count.
fn replica_sets(inner: &mut Inner, next: &LabState) -> anyhow::Result<(Vec<String>, Vec<NewPod>)> {
    let mut keep = Vec::new();
    let mut new = Vec::new();
    let mut names: BTreeSet<String> = inner.pods.keys().cloned().collect();
    for want in next.wanted()? {
        inner.nonce += 1;
        let template = want.pod(inner.nonce)?;
        let mut running: Vec<&Pod> = inner
            .pods
            .values()
            .filter(|p| replica_set(&p.workload.pod) == replica_set(&template.pod))
            .collect();
        running.sort_by_key(|p| p.seq);
        let replicas = want.replicas as usize;
        keep.extend(
            running
                .iter()
                .take(replicas)
                .map(|p| p.workload.pod.clone()),
        );
        for _ in running.len()..replicas {
            let mut pod = want.pod(inner.nonce)?;
            while names.contains(&pod.pod) {
                inner.nonce += 1;
                pod = want.pod(inner.nonce)?;
            }
            names.insert(pod.pod.clone());
            new.push((inner.nonce, pod));
        }
    }
    Ok((keep, new))
}

/// The ReplicaSet a pod belongs to: its name without the per-pod suffix, `<deployment>-<template hash>`
/// ([`mesh_istiod::model::registry::pod_name`] hashes the whole pod template, as Kubernetes' `pod-template-hash`). Pods of one
/// template share it, so any template change, an annotation's too, starts new pods, and a change to
/// `spec.replicas` alone does not.
fn replica_set(pod: &str) -> &str {
    pod.rsplit_once('-').map_or(pod, |(rs, _)| rs)
}

/// The Envoy of the gateway (`None`) or of a pod's sidecar.
/// How messages name a proxy: the gateway, or a pod's sidecar.
fn proxy_name(pod: Option<&str>) -> String {
    match pod {
        None => "istio-ingressgateway".into(),
        Some(n) => format!("the sidecar of {n}"),
    }
}

fn proxy_of<'a>(inner: &'a mut Inner, pod: Option<&str>) -> Option<&'a mut Envoy> {
    match pod {
        None => inner.gateway.as_mut(),
        Some(n) => inner
            .pods
            .get_mut(n)
            .and_then(|p| p.sidecar.as_mut())
            .map(|s| &mut s.envoy),
    }
}
