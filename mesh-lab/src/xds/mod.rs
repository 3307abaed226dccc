//! The lab's istiod delivery (pilot/pkg/xds: ads.go, discovery.go): one ADS server per lab, over gRPC on
//! loopback, that every proxy (the gateway, each sidecar, the kube-proxy stand-in) connects to with its node
//! id. Each gets its clusters, their endpoints (EDS), listeners, route configurations, HTTP filters (ECDS)
//! and secrets (SDS) on one aggregated state-of-the-world stream, in istiod's push order (`PushOrder`: CDS,
//! EDS, LDS, RDS, SDS; ECDS, which it leaves unordered, last), with a version and a nonce per response. Every ACK and NACK is
//! recorded per proxy and type with the error Envoy sent ([`TypeStatus`]), which `proxy-status` prints and
//! a push waits on ([`Xds::wait`]). No file is watched: an Envoy of the lab holds no inotify instance.

mod stream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::Secret;
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use mesh_istiod::model::identity::{CertFiles, SDS_DEFAULT, SDS_ROOT};
use mesh_istiod::util::protomarshal::from_json;
use prost::{Message, Name};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
pub const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
pub const EXTENSION: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
/// One type's resources for a proxy, encoded, by name.
pub type Resources = BTreeMap<String, Any>;

/// `messages` as the `Any`s a `DiscoveryResponse` carries, by `name`.
pub fn encoded<M: Message + Name>(messages: &[M], name: impl Fn(&M) -> &str) -> Resources {
    messages
        .iter()
        .map(|m| (name(m).to_owned(), pack_any_ref(m)))
        .collect()
}

fn pack_any_ref<M: Message + Name>(m: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

/// The order a push sends its types in (ads.go `PushOrder`, then ECDS).
pub const PUSH_ORDER: [&str; 6] = [CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, EXTENSION];

/// istioctl's short name of a type (CDS, EDS, LDS, RDS, SDS, ECDS).
pub fn short_name(type_url: &str) -> &'static str {
    match type_url {
        CLUSTER => "CDS",
        ENDPOINT => "EDS",
        LISTENER => "LDS",
        ROUTE => "RDS",
        SECRET => "SDS",
        EXTENSION => "ECDS",
        _ => "?",
    }
}

/// The resources of one type a proxy is to have, at a version.
#[derive(Clone, Debug, Default)]
struct Pushed {
    version: u64,
    resources: BTreeMap<String, Any>,
}

/// What a proxy did with one type: the last response sent, the last one it ACKed, and its last NACK.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TypeStatus {
    pub sent_version: Option<u64>,
    pub sent_nonce: String,
    pub acked_version: Option<u64>,
    pub acked_nonce: String,
    /// The resource names the proxy asked for (none: all, for CDS and LDS).
    pub names: Vec<String>,
    pub nack: Option<Nack>,
}

impl TypeStatus {
    /// istioctl's word for it (istioctl/pkg/writer/pilot/status.go of Istio 1.20, OSSM 2.6's: `xdsStatus`):
    /// nothing sent, the last response ACKed, or not (a NACK leaves the proxy STALE on what it had).
    pub fn sync_status(&self) -> &'static str {
        if self.sent_nonce.is_empty() {
            "NOT SENT"
        } else if self.acked_nonce == self.sent_nonce {
            "SYNCED"
        } else if self.acked_nonce.is_empty() {
            "STALE (Never Acknowledged)"
        } else {
            "STALE"
        }
    }
}

/// A response the proxy rejected, with Envoy's reason.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Nack {
    pub version: u64,
    pub nonce: String,
    pub message: String,
}

/// A NACK: the proxy rejected resources of a response (Envoy applies the others) and keeps what it had of those.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// CDS, EDS, LDS, RDS, SDS or ECDS.
    pub type_name: &'static str,
    pub version: u64,
    /// Envoy's reason.
    pub message: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Envoy rejected configuration version {} ({}): {}",
            self.version, self.type_name, self.message
        )
    }
}

impl std::error::Error for Rejected {}

/// One proxy as the server knows it.
#[derive(Debug, Default)]
struct Proxy {
    /// Where its certificates are ([`CertFiles`]), for SDS.
    dir: PathBuf,
    pushed: BTreeMap<&'static str, Pushed>,
    status: BTreeMap<&'static str, TypeStatus>,
}

/// One proxy's state, as `proxy-status` reads it.
#[derive(Clone, Debug, Serialize)]
pub struct ProxyStatus {
    pub node: String,
    pub status: BTreeMap<&'static str, TypeStatus>,
}

#[derive(Debug, Default)]
struct Shared {
    proxies: Mutex<BTreeMap<String, Proxy>>,
    /// Bumped on every change: streams push what is due, waiters look again.
    changed: Option<watch::Sender<u64>>,
    nonce: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// `f` on the proxies, telling no one.
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Proxy>) -> R) -> R {
        let mut guard = self
            .proxies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// `f` on the proxies, then every stream and waiter looks again.
    fn change<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Proxy>) -> R) -> R {
        let r = self.with(f);
        if let Some(tx) = &self.changed {
            tx.send_modify(|n| *n += 1);
        }
        r
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed
            .as_ref()
            .map(watch::Sender::subscribe)
            .expect("the server's change channel")
    }
}

/// The lab's ADS server: where every proxy's configuration is, and what each proxy did with it.
#[derive(Clone)]
pub struct Xds {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Xds {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Xds {
    /// Starts the server on an ephemeral loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            changed: Some(tx),
            ..Shared::default()
        });
        let task = tokio::spawn(stream::serve(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            task: Arc::new(task),
        })
    }

    /// Where proxies connect (the bootstrap's `xds-grpc` cluster).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes `node` known before its Envoy starts, its secrets read from `dir`'s certificate files.
    pub fn register(&self, node: &str, dir: &Path) -> anyhow::Result<()> {
        let secrets = read_secrets(dir)?;
        self.shared.change(|proxies| {
            let p = proxies.entry(node.to_owned()).or_default();
            p.dir = dir.to_owned();
            set_pushed(p, SECRET, secrets);
        });
        Ok(())
    }

    /// Forgets `node` (its Envoy stopped).
    pub fn forget(&self, node: &str) {
        self.shared.change(|proxies| proxies.remove(node));
    }

    /// Sets what `node` is to have, at `version`, by type ([`encoded`]); the proxy's stream sends what
    /// changed.
    pub fn push(&self, node: &str, version: u64, encoded: Vec<(&'static str, Resources)>) {
        self.shared.change(|proxies| {
            let p = proxies.entry(node.to_owned()).or_default();
            for (type_url, resources) in encoded {
                p.pushed.insert(type_url, Pushed { version, resources });
            }
        });
    }

    /// Every proxy's secrets read again from its certificate files (after a renewal): a proxy whose
    /// certificates changed gets them by SDS, swapped in place.
    pub fn refresh_secrets(&self) -> anyhow::Result<()> {
        let dirs: Vec<(String, PathBuf)> = self.shared.with(|proxies| {
            proxies
                .iter()
                .map(|(n, p)| (n.clone(), p.dir.clone()))
                .collect()
        });
        let mut read = Vec::new();
        for (node, dir) in dirs {
            read.push((node, read_secrets(&dir)?));
        }
        self.shared.change(|proxies| {
            for (node, secrets) in read {
                if let Some(p) = proxies.get_mut(&node) {
                    set_pushed(p, SECRET, secrets);
                }
            }
        });
        Ok(())
    }

    /// Waits until `node` has ACKed `version` of every type in `types`; fails with [`Rejected`] when it
    /// NACKs one, or after `timeout`.
    pub async fn wait(
        &self,
        node: &str,
        version: u64,
        types: &[&'static str],
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let mut rx = self.shared.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let behind = self.behind(node, version, types)?;
            if behind.is_empty() {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                bail!(
                    "no ACK of configuration version {version} for {} after {}s",
                    behind.join(", "),
                    timeout.as_secs()
                );
            }
        }
    }

    /// The types of `types` `node` has not ACKed at `version`; a NACK of it is an error.
    fn behind(
        &self,
        node: &str,
        version: u64,
        types: &[&'static str],
    ) -> anyhow::Result<Vec<String>> {
        self.shared
            .with(|proxies| behind(proxies.get(node), node, version, types))
    }

    /// Every proxy's state, by node id.
    pub fn status(&self) -> Vec<ProxyStatus> {
        self.shared.with(|proxies| {
            proxies
                .iter()
                .map(|(node, p)| ProxyStatus {
                    node: node.clone(),
                    status: p.status.iter().map(|(t, s)| (*t, s.clone())).collect(),
                })
                .collect()
        })
    }
}

/// The types of `types` the proxy `p` has not ACKed at `version`; a NACK of it is an error.
fn behind(
    p: Option<&Proxy>,
    node: &str,
    version: u64,
    types: &[&'static str],
) -> anyhow::Result<Vec<String>> {
    let Some(p) = p else {
        bail!("the proxy {node} is not connected to the lab's xDS server");
    };
    let mut behind = Vec::new();
    for t in types {
        let s = p.status.get(t).cloned().unwrap_or_default();
        if let Some(n) = s.nack.as_ref().filter(|n| n.version == version) {
            return Err(Rejected {
                type_name: short_name(t),
                version,
                message: n.message.clone(),
            }
            .into());
        }
        if s.acked_version.is_none_or(|v| v < version) {
            behind.push(short_name(t).to_owned());
        }
    }
    Ok(behind)
}

/// Sets `type_url`'s resources of `p`, a new version only when they changed.
fn set_pushed(p: &mut Proxy, type_url: &'static str, resources: BTreeMap<String, Any>) {
    let old = p.pushed.get(type_url);
    if old.is_some_and(|o| o.resources == resources) {
        return;
    }
    let version = old.map_or(1, |o| o.version + 1);
    p.pushed.insert(type_url, Pushed { version, resources });
}

/// The SDS secrets `default` and `ROOTCA` of the proxy in `dir` (none for a proxy without certificates):
/// the lab's CA writes each as an xDS response holding one `Secret` ([`CertFiles::secret_file`]).
fn read_secrets(dir: &Path) -> anyhow::Result<BTreeMap<String, Any>> {
    let files = CertFiles::in_dir(dir);
    let mut secrets = BTreeMap::new();
    for name in [SDS_DEFAULT, SDS_ROOT] {
        let file = files.secret_file(name);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let response: Value =
            serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
        for secret in response["resources"].as_array().into_iter().flatten() {
            let secret: Secret =
                from_json(secret).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            secrets.insert(name.to_owned(), pack_any(secret));
        }
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests;
