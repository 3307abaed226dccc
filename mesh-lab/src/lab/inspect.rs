//! Reading a running lab: pods' addresses and names, the apps' log lines, the proxies' access logs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::dataplane::envoy::{AccessLogEntry, Envoy};
use crate::lab::Lab;

impl Lab {
    /// The app address of a Deployment's pod (`curl …/misbehave`, as `oc exec` would).
    pub async fn app_addr(&self, deployment: &str) -> anyhow::Result<SocketAddr> {
        let inner = self.inner.lock().await;
        inner
            .pods
            .get(deployment)
            .map(|p| p.app.addr)
            .ok_or_else(|| {
                anyhow!("Error from server (NotFound): deployments.apps \"{deployment}\" not found")
            })
    }

    /// The pod name of a Deployment.
    pub async fn pod_name(&self, deployment: &str) -> anyhow::Result<String> {
        let inner = self.inner.lock().await;
        inner
            .pods
            .get(deployment)
            .map(|p| p.workload.pod.clone())
            .ok_or_else(|| {
                anyhow!("Error from server (NotFound): deployments.apps \"{deployment}\" not found")
            })
    }

    /// `oc logs deploy/NAME`: the app's log lines that name its pod or its address.
    pub async fn logs(&self, deployment: &str) -> anyhow::Result<Vec<String>> {
        let pod = self.pod_name(deployment).await?;
        let addr = self.app_addr(deployment).await?.to_string();
        Ok(crate::dataplane::logs::book().matching(|l| l.contains(&pod) || l.contains(&addr)))
    }

    /// One proxy's access log for one listener (`istio-ingressgateway` for the gateway).
    pub async fn proxy_log(&self, proxy: &str, listener: &str) -> Vec<AccessLogEntry> {
        let inner = self.inner.lock().await;
        let log = if proxy == "istio-ingressgateway" {
            inner
                .gateway
                .as_ref()
                .map(Envoy::access_log)
                .unwrap_or_default()
        } else {
            match inner.pods.get(proxy).and_then(|p| p.sidecar.as_ref()) {
                Some(s) => s.envoy.access_log(),
                None => Vec::new(),
            }
        };
        log.into_iter()
            .filter(|e| e.listener.as_deref() == Some(listener))
            .collect()
    }

    /// The entries of one proxy listener's access log that `keep` selects, waiting (bounded: Envoy flushes
    /// every 50 ms) until there are at least `n`.
    pub async fn wait_proxy_log(
        &self,
        proxy: &str,
        listener: &str,
        n: usize,
        keep: impl Fn(&AccessLogEntry) -> bool,
    ) -> Vec<AccessLogEntry> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let found: Vec<AccessLogEntry> = self
                .proxy_log(proxy, listener)
                .await
                .into_iter()
                .filter(|e| keep(e))
                .collect();
            if found.len() >= n || Instant::now() > deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
