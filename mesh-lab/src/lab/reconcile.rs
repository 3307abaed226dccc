//! The control loop's one step: make the running pods and proxies what the applied state says.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use anyhow::anyhow;
use mesh_istiod::model::identity::CertFiles;
use mesh_istiod::model::registry::{self, Workload};
use mesh_istiod::networking::core::cluster::Endpoint;
use mesh_istiod::networking::core::configgen::{
    Dynamic, SidecarOf, gateway_config, sidecar_config,
};

use super::{Inner, Lab, gateway_dir_of};
use crate::dataplane::kube_proxy::KubeProxy;
use crate::dataplane::pods::PodContext;
use crate::state::LabState;

impl Lab {
    /// Makes the running mesh what `next` says: checks and translates everything first, starts new pods,
    /// updates every proxy, stops replaced pods, then keeps `next`.
    pub(super) async fn reconcile(&self, inner: &mut Inner, next: LabState) -> anyhow::Result<()> {
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
}
