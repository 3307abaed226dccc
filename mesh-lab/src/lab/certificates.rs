//! Certificate renewal: every proxy's certificate renewed at half its lifetime, as istio-agent does.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail};
use mesh_istiod::model::identity::CertFiles;

use super::Lab;

impl Lab {
    /// Renews every proxy's certificate at half its lifetime, as istio-agent does, for as long as the lab
    /// runs (a lab left up overnight keeps its mutual TLS). The renewals keep to a fixed schedule counted
    /// from `first_issued` (the oldest certificate), so a slow start or a slow renewal never pushes the
    /// next one past an expiry.
    pub(super) fn renew_certificates_in_time(&self, first_issued: tokio::time::Instant) {
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
    /// place, and the xDS server pushes the new secrets: each Envoy swaps them in place, no listener or
    /// cluster changes, no connection is drained (istio-agent pushes a renewed `default` secret the same way). Does not wait for a
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
        if let Err(e) = self.xds.refresh_secrets() {
            failed.push(format!("handing the renewed secrets to the proxies: {e:#}"));
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
}
