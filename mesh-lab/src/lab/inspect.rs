//! Reading a running lab: pods' addresses and names, the apps' log lines, the proxies' access logs, and
//! `kubectl logs` (staging/src/k8s.io/kubectl/pkg/cmd/logs/logs.go and
//! pkg/polymorphichelpers/logsforobject.go): a pod or `deploy/NAME`, `-c CONTAINER` (the app's container
//! as the Deployment names it, or `istio-proxy`: the sidecar's access log as Envoy writes it), the
//! default container, `--tail` and `-f` (the lines after a cursor).

use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use mesh_istiod::bootstrap::ACCESS_LOG;
use mesh_istiod::model::registry::NAMESPACE;
use mesh_manifests::Resource;
use serde::{Deserialize, Serialize};

use crate::dataplane::envoy::{AccessLogEntry, Envoy};
use crate::dataplane::pods::Pod;
use crate::lab::{Inner, Lab};

/// The sidecar's container, as Istio's injector names it.
pub const PROXY_CONTAINER: &str = "istio-proxy";
/// The pod annotation naming the container `kubectl logs` and `exec` pick; Istio's injector sets it to
/// the first application container unless the pod template sets it.
const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

/// What `kubectl logs` names: `deploy/NAME` (`deployment/NAME`, `deployments.apps/NAME`…), `pod/NAME` or
/// a bare pod name, which the lab also takes as a Deployment's name (`mesh-lab logs recommendation-v2`).
#[derive(Clone, Debug, PartialEq)]
pub enum LogsTarget {
    Deployment(String),
    Pod(String),
    PodOrDeployment(String),
}

impl LogsTarget {
    /// `TYPE/NAME` or `NAME`, with kubectl's names of the two types the lab runs.
    pub fn parse(arg: &str) -> anyhow::Result<Self> {
        let Some((kind, name)) = arg.split_once('/') else {
            return Ok(Self::PodOrDeployment(arg.to_owned()));
        };
        let name = name.to_owned();
        match kind {
            "deploy" | "deployment" | "deployments" | "deployment.apps" | "deployments.apps" => {
                Ok(Self::Deployment(name))
            }
            "po" | "pod" | "pods" => Ok(Self::Pod(name)),
            _ => Err(anyhow!(
                "error: the local mesh takes the logs of a pod, pod/NAME, deploy/NAME or deployment/NAME, not {kind}/{name}"
            )),
        }
    }
}

/// `kubectl logs` as the control endpoint takes it: the target as written, the container (`-c`), the
/// last lines (`--tail`) and, when following, the cursor of the previous page (`since`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct LogsQuery {
    #[serde(rename = "workload")]
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
}

/// One answer: the pod and container read, kubectl's notes for the standard error (`Defaulted container
/// …`), the lines and the cursor of the next ones.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct LogsPage {
    pub pod: String,
    pub container: String,
    pub notes: Vec<String>,
    pub lines: Vec<String>,
    pub next: u64,
}

/// A pod's containers as a cluster runs it: the app's (named as in the Deployment), then the sidecar.
struct Containers {
    names: Vec<String>,
    /// The pod's `kubectl.kubernetes.io/default-container` (the template's, else the injector's).
    default: Option<String>,
}

/// Which container `kubectl logs` reads, and what it prints on the standard error on the way
/// (polymorphichelpers' `logsForObjectWithClient`).
fn pick_container(
    pod: &str,
    asked: Option<&str>,
    c: &Containers,
) -> anyhow::Result<(String, Vec<String>)> {
    let mut notes = Vec::new();
    let chosen = match asked {
        Some(name) => name.to_owned(),
        None => {
            let named = c.default.as_deref().filter(|d| !d.is_empty());
            match named {
                Some(d) if c.names.iter().any(|n| n == d) => d.to_owned(),
                _ => {
                    if let Some(d) = named {
                        notes.push(format!(
                            "Default container name {d:?} not found in pod {pod}"
                        ));
                    }
                    let first = c.names[0].clone();
                    if c.names.len() > 1 {
                        notes.push(format!(
                            "Defaulted container {first:?} out of: {}",
                            c.names.join(", ")
                        ));
                    }
                    first
                }
            }
        }
    };
    if !c.names.contains(&chosen) {
        return Err(anyhow!(
            "error: container {chosen} is not valid for pod {pod}"
        ));
    }
    Ok((chosen, notes))
}

/// The last `tail` of `lines` (all of them without `--tail`).
fn last(mut lines: Vec<String>, tail: Option<usize>) -> Vec<String> {
    if let Some(n) = tail {
        lines.drain(..lines.len().saturating_sub(n));
    }
    lines
}

/// The whole lines of a file from byte `from` on, and the offset after the last of them (a line Envoy
/// has not finished writing waits for the next call).
fn file_lines_since(file: &Path, from: u64) -> (Vec<String>, u64) {
    let mut text = String::new();
    let read = std::fs::File::open(file).and_then(|mut f| {
        f.seek(SeekFrom::Start(from))?;
        f.read_to_string(&mut text)
    });
    if read.is_err() {
        return (Vec::new(), from);
    }
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    let lines = text[..whole].lines().map(str::to_owned).collect();
    (lines, from + whole as u64)
}

/// kubectl's NotFound, as `kubectl logs` words it (the namespace added), and the Deployments there are.
fn not_found(resource: &str, name: &str, deployments: &[&str]) -> anyhow::Error {
    anyhow!(
        "error: error from server (NotFound): {resource} \"{name}\" not found in namespace \"{NAMESPACE}\"\n\
         the lab's Deployments: {} (mesh-lab logs deploy/NAME)",
        deployments.join(", ")
    )
}

impl Inner {
    /// The running pod `target` names; a Deployment of several pods gives its oldest (ready longest, as
    /// kubectl's `ByLogging` order picks) and kubectl's note `Found N pods, using pod/NAME`.
    fn logs_pod(&self, target: &LogsTarget) -> anyhow::Result<(&Pod, Option<String>)> {
        let by_pod = |name: &str| self.pods.get(name).map(|p| (p, None));
        let first = |deployment: &str| {
            let pods = self.pods_of(deployment);
            let note = (pods.len() > 1).then(|| {
                format!(
                    "Found {} pods, using pod/{}",
                    pods.len(),
                    pods[0].workload.pod
                )
            });
            pods.first().map(|p| (*p, note))
        };
        let names: Vec<&str> = self.state.deployments().map(|o| o.name.as_str()).collect();
        let missing = |resource, name| not_found(resource, name, &names);
        match target {
            LogsTarget::Deployment(d) => first(d).ok_or_else(|| missing("deployments.apps", d)),
            LogsTarget::Pod(p) => by_pod(p).ok_or_else(|| missing("pods", p)),
            LogsTarget::PodOrDeployment(n) => by_pod(n)
                .or_else(|| first(n))
                .ok_or_else(|| missing("pods", n)),
        }
    }

    /// The pod's containers: the Deployment's container name and annotation, and the sidecar if injected.
    fn containers(&self, pod: &Pod) -> Containers {
        let template = self.state.deployments().find_map(|o| match &o.resource {
            Resource::Deployment(d) if o.name == pod.workload.name => {
                d.spec.as_ref().map(|s| s.template.clone())
            }
            _ => None,
        });
        let app = template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.containers.first())
            .map_or_else(|| pod.workload.app().to_owned(), |c| c.name.clone());
        let mut default = template
            .and_then(|t| t.metadata)
            .and_then(|m| m.annotations)
            .and_then(|mut a| a.remove(DEFAULT_CONTAINER));
        let mut names = vec![app.clone()];
        if pod.sidecar.is_some() {
            names.push(PROXY_CONTAINER.to_owned());
            default.get_or_insert(app);
        }
        Containers { names, default }
    }
}

impl Lab {
    /// The app address of a Deployment's pod (`curl …/misbehave`, as `oc exec` would).
    pub async fn app_addr(&self, deployment: &str) -> anyhow::Result<SocketAddr> {
        self.of_deployment(deployment, |p| p.app.addr).await
    }

    /// The pod name of a Deployment.
    pub async fn pod_name(&self, deployment: &str) -> anyhow::Result<String> {
        self.of_deployment(deployment, |p| p.workload.pod.clone())
            .await
    }

    /// Every running pod of a Deployment, oldest first: its name and its app's address (`curl
    /// …/misbehave` in one pod, as `oc exec POD` would).
    pub async fn pods_of(&self, deployment: &str) -> Vec<(String, SocketAddr)> {
        let inner = self.inner.lock().await;
        inner
            .pods_of(deployment)
            .into_iter()
            .map(|p| (p.workload.pod.clone(), p.app.addr))
            .collect()
    }

    /// `what` of a Deployment's oldest running pod, or kubectl's NotFound.
    async fn of_deployment<T>(
        &self,
        deployment: &str,
        what: impl Fn(&Pod) -> T,
    ) -> anyhow::Result<T> {
        let inner = self.inner.lock().await;
        inner
            .pods_of(deployment)
            .first()
            .map(|p| what(p))
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

    /// `kubectl logs`: the lines of one container of a pod (or of a Deployment's pod) after `since`, the
    /// last `tail` of them when not following; kubectl's errors for a missing pod or container.
    pub async fn pod_logs(&self, q: &LogsQuery) -> anyhow::Result<LogsPage> {
        let target = LogsTarget::parse(&q.target)?;
        let inner = self.inner.lock().await;
        let (pod, found) = inner.logs_pod(&target)?;
        let name = pod.workload.pod.clone();
        let (container, defaulted) =
            pick_container(&name, q.container.as_deref(), &inner.containers(pod))?;
        let notes = found.into_iter().chain(defaulted).collect();
        let since = q.since.unwrap_or(0);
        let (lines, next) = match &pod.sidecar {
            Some(s) if container == PROXY_CONTAINER => {
                file_lines_since(&s.envoy.dir.join(ACCESS_LOG), since)
            }
            _ => {
                let addr = pod.app.addr.to_string();
                crate::dataplane::logs::book()
                    .since(since, |l| l.contains(&name) || l.contains(&addr))
            }
        };
        Ok(LogsPage {
            pod: name,
            container,
            notes,
            lines: last(lines, q.tail),
            next,
        })
    }

    /// One proxy's access log for one listener (`istio-ingressgateway` for the gateway; a Deployment's name
    /// gives the entries of all its pods' sidecars, a pod's name its own).
    pub async fn proxy_log(&self, proxy: &str, listener: &str) -> Vec<AccessLogEntry> {
        let inner = self.inner.lock().await;
        let log = if proxy == "istio-ingressgateway" {
            inner
                .gateway
                .as_ref()
                .map(Envoy::access_log)
                .unwrap_or_default()
        } else {
            let pods = match inner.pods.get(proxy) {
                Some(p) => vec![p],
                None => inner.pods_of(proxy),
            };
            pods.iter()
                .filter_map(|p| p.sidecar.as_ref())
                .flat_map(|s| s.envoy.access_log())
                .collect()
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

#[cfg(test)]
mod tests;
