//! What every chapter of `mesh-lab guided` uses: the istio/ files the steps apply (found by what they
//! contain: the ServiceEntry `worldclockapi-egress-rule` on port 81 and on port 80, the VirtualService
//! `worldclockapi-timeout`, the namespace Sidecar with REGISTRY_ONLY, recommendation's DestinationRule and v3
//! VirtualService), and the [`Guide`] that prints each step, the `oc` command it stands for and its ✔/✘
//! verdict, and counts the verdicts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use mesh_manifests::{Document, Resource};

use crate::lab::Lab;

use mesh_istiod::model::sidecar::{Mode, sidecar_mode};

/// The istio/ files the lab's steps use.
#[derive(Clone, Debug)]
pub struct LabFiles {
    /// The istio/ directory and the repository root.
    pub istio: PathBuf,
    pub repo: PathBuf,
    pub deployment_v3: PathBuf,
    pub destination_rule: PathBuf,
    pub virtual_service_v3: PathBuf,
    pub service_entry_wrong_port: PathBuf,
    pub service_entry: PathBuf,
    pub virtual_service_timeout: PathBuf,
    pub sidecar_registry_only: PathBuf,
}

fn find(
    docs: &[Document],
    what: &str,
    pred: impl Fn(&Resource) -> bool,
) -> anyhow::Result<PathBuf> {
    docs.iter()
        .find(|d| pred(&d.resource))
        .map(|d| d.file.clone())
        .ok_or_else(|| anyhow!("no file in istio/ holds {what}"))
}

impl LabFiles {
    /// Finds the lab's files under `istio_dir` by content.
    pub fn find(istio_dir: &Path) -> anyhow::Result<Self> {
        if !istio_dir.is_dir() {
            return Err(anyhow!(
                "{} is not here: run mesh-lab guided from the repository root (where istio/ and \
                 recommendation/ are), or pass --repo DIR",
                istio_dir.display()
            ));
        }
        let (docs, _errors) = mesh_manifests::load_paths_collecting([istio_dir]);
        let se_port = |r: &Resource, port: i64| match r {
            Resource::ServiceEntry(se) => {
                se.metadata.name.as_deref() == Some("worldclockapi-egress-rule")
                    && se.spec.ports.iter().flatten().any(|p| p.number == port)
            }
            _ => false,
        };
        let deployment_v3 = istio_dir.join("../recommendation/kubernetes/Deployment-v3.yml");
        if !deployment_v3.is_file() {
            return Err(anyhow!(
                "{} is missing (run mesh-lab guided from the repository root, or pass --repo DIR)",
                deployment_v3.display()
            ));
        }
        Ok(Self {
            istio: istio_dir.to_owned(),
            repo: istio_dir.join(".."),
            deployment_v3,
            destination_rule: find(
                &docs,
                "a DestinationRule for recommendation with subset version-v3",
                |r| {
                    matches!(r, Resource::DestinationRule(dr) if dr.spec.host == "recommendation"
                    && dr.spec.traffic_policy.is_none()
                    && dr.spec.subsets.iter().flatten().any(|s| s.name == "version-v3"))
                },
            )?,
            virtual_service_v3: find(
                &docs,
                "a VirtualService sending recommendation to version-v3",
                |r| {
                    matches!(r, Resource::VirtualService(vs)
                    if vs.spec.hosts.as_deref() == Some(&["recommendation".to_owned()][..])
                    && vs.spec.http.iter().flatten().all(|h| h.route.iter().flatten()
                        .all(|d| d.destination.subset.as_deref() == Some("version-v3"))))
                },
            )?,
            service_entry_wrong_port: find(
                &docs,
                "the ServiceEntry worldclockapi-egress-rule on port 81",
                |r| se_port(r, 81),
            )?,
            service_entry: find(
                &docs,
                "the ServiceEntry worldclockapi-egress-rule on port 80",
                |r| se_port(r, 80),
            )?,
            virtual_service_timeout: find(
                &docs,
                "the VirtualService worldclockapi-timeout",
                |r| matches!(r, Resource::VirtualService(vs) if vs.metadata.name.as_deref() == Some("worldclockapi-timeout")),
            )?,
            sidecar_registry_only: find(
                &docs,
                "a namespace Sidecar with outboundTrafficPolicy REGISTRY_ONLY",
                |r| {
                    matches!(r, Resource::Sidecar(sc) if sc.spec.workload_selector.is_none()
                    && sidecar_mode(sc) == Some(Mode::RegistryOnly))
                },
            )?,
        })
    }

    /// The file `name` in istio/.
    pub fn istio_file(&self, name: &str) -> PathBuf {
        self.istio.join(name)
    }
}

/// The result of a guided run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub passed: usize,
    pub failed: Vec<String>,
    /// When the last step shown began (`--graph` draws the traffic since).
    pub last_step_started: Option<chrono::DateTime<chrono::Utc>>,
    /// The standard input ended before every step asked for ran (`-i`).
    pub stopped: bool,
}

pub(crate) struct Guide<'a, W: Write> {
    pub(crate) lab: &'a Lab,
    pub(crate) out: W,
    pub(crate) http: reqwest::Client,
    pub(crate) outcome: Outcome,
    /// How many entries of the access log a chapter follows it has shown already (the egress chapter follows v3's).
    pub(crate) log_seen: usize,
    /// A step caught up on: its lines are not printed (its verdicts still count).
    pub(crate) quiet: bool,
    /// The `oc` commands shown before the Enter that runs the step (`-i`): not printed again.
    pub(crate) previewed: &'static [&'static str],
    /// Why the last send's failing answers failed ([`crate::guided::why::lines`]), for the next verdict.
    pub(crate) why: Vec<String>,
}

pub(crate) fn shown(p: &Path) -> String {
    // Print paths the way the tutorial writes them, from the repository root: istio/<file>,
    // recommendation/kubernetes/<file>.
    let s = p.display().to_string();
    // LabFiles' repo is `istio/..`: what follows it is the path from the repository root.
    if let Some(i) = s.find("istio/../") {
        return s[i + "istio/../".len()..].to_owned();
    }
    match s.rfind("istio/").max(s.rfind("recommendation/")) {
        Some(i) => s[i..].to_owned(),
        None => s,
    }
}

impl<'a, W: Write> Guide<'a, W> {
    /// A guide through `lab` writing to `out`; `log_seen` access-log entries are already accounted for.
    pub(crate) fn new(lab: &'a Lab, out: W, log_seen: usize) -> anyhow::Result<Self> {
        Ok(Self {
            lab,
            out,
            http: tutorial_common::client::client(Duration::from_secs(30), None)?,
            outcome: Outcome::default(),
            log_seen,
            quiet: false,
            previewed: &[],
            why: Vec::new(),
        })
    }

    pub(crate) fn say(&mut self, text: &str) {
        if self.quiet {
            return;
        }
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    pub(crate) fn step(&mut self, n: &str, title: &str) {
        self.say(&format!("\n━━ Step {n}: {title}"));
    }

    pub(crate) fn oc(&mut self, cmd: &str) {
        if self.previewed.contains(&cmd) {
            return;
        }
        self.say(&format!("  on a cluster: {cmd}"));
    }

    pub(crate) fn verdict(&mut self, ok: bool, good: &str, bad: String) {
        let reasons = std::mem::take(&mut self.why);
        if ok {
            self.outcome.passed += 1;
            self.say(&format!("  ✔ {good}"));
        } else {
            let bad = match reasons.is_empty() {
                true => bad,
                false => format!("{bad}; why: {}", reasons.join(" | ")),
            };
            self.say(&format!("  ✘ {bad}"));
            self.outcome.failed.push(bad);
        }
    }

    pub(crate) async fn apply(&mut self, file: &Path) -> bool {
        self.say(&format!("  $ mesh-lab apply -f {}", shown(file)));
        match self.lab.apply_file(file).await {
            Ok(lines) => {
                for l in lines {
                    self.say(&format!("  {l}"));
                }
                true
            }
            Err(e) => {
                self.verdict(false, "", format!("apply {} failed: {e:#}", shown(file)));
                false
            }
        }
    }

    /// `oc apply -f FILE -n tutorial`, then the lab's apply of `path`: whether it applied.
    pub(crate) async fn apply_step(&mut self, path: &Path) -> bool {
        self.oc(&format!("oc apply -f {} -n tutorial", shown(path)));
        self.apply(path).await
    }

    pub(crate) async fn delete(&mut self, kind: &str, name: &str) {
        self.say(&format!("  $ mesh-lab delete {kind} {name}"));
        match self.lab.delete(kind, name).await {
            Ok(l) => self.say(&format!("  {l}")),
            Err(e) => self.verdict(false, "", format!("delete {kind} {name} failed: {e:#}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_from_the_repository_root() {
        for (path, want) in [
            (
                "/r/istio/../recommendation/kubernetes/Deployment-v2.yml",
                "recommendation/kubernetes/Deployment-v2.yml",
            ),
            (
                "./istio/virtual-service-recommendation-v1.yml",
                "istio/virtual-service-recommendation-v1.yml",
            ),
            ("/home/recommendation/x/istio/a.yml", "istio/a.yml"),
            (
                "/r/istio/../kubernetes/app/customer-gateway.yml",
                "kubernetes/app/customer-gateway.yml",
            ),
            ("/elsewhere/a.yml", "/elsewhere/a.yml"),
        ] {
            assert_eq!(shown(Path::new(path)), want);
        }
    }
}
