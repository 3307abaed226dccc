//! Reading a running lab: pods' addresses and names, the apps' log lines, the proxies' access logs.

use std::net::SocketAddr;
use std::time::Duration;

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

    /// recommendation v3's egress access log (its sidecar's outbound port 80), empty without v3.
    pub async fn access_log(&self) -> Vec<AccessLogEntry> {
        self.proxy_log("recommendation-v3", "outbound_0.0.0.0_80")
            .await
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

    /// Waits (bounded) until recommendation v3's egress log has `n` entries.
    pub async fn wait_access_log(&self, n: usize) -> Vec<AccessLogEntry> {
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let log = self.access_log().await;
            if log.len() >= n || std::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
