//! What `kubectl`/`oc` commands do to the running lab: apply, patch, scale, delete, the mesh mode, reset and the
//! time API's faults — each a new state handed to the control loop (all or nothing).

use std::path::Path;

use anyhow::{anyhow, bail};
use mesh_istiod::model::registry;
use mesh_istiod::model::sidecar::Mode;
use mesh_manifests::Document;

use super::{EXTERNAL_HOST, Lab, SETUP_FILES};
use crate::state::patch::PatchType;
use crate::state::{FileVerb, LabState, Outcome};

impl Lab {
    /// `kubectl apply` of already-parsed documents (all or nothing).
    pub async fn apply_documents(&self, docs: &[Document]) -> anyhow::Result<Vec<String>> {
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let mut lines = next.apply(docs).map_err(|e| anyhow!("{e}"))?;
        self.reconcile(&mut inner, next).await?;
        lines.extend(inner.rejections.drain(..).map(|r| {
            format!("Warning: {r} — what it rejected stays as it was (mesh-lab proxy-status)")
        }));
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

    /// `kubectl patch <kind> <name> -p <patch>`: kubectl's default strategic merge patch (the sidecar
    /// injection label, a container's image or env).
    pub async fn patch(&self, kind: &str, name: &str, patch: &str) -> anyhow::Result<String> {
        self.patch_as(kind, name, patch, PatchType::Strategic).await
    }

    /// `kubectl patch <kind> <name> --type <how> -p <patch>` (Deployments).
    pub async fn patch_as(
        &self,
        kind: &str,
        name: &str,
        patch: &str,
        how: PatchType,
    ) -> anyhow::Result<String> {
        let mut inner = self.inner.lock().await;
        let Some(doc) = inner
            .state
            .patched(kind, name, patch, how)
            .map_err(|e| anyhow!("{e}"))?
        else {
            let line = format!("deployment.apps/{name} patched (no change)");
            return Ok(with_label_warning(line, &inner.state, name));
        };
        let mut next = inner.state.clone();
        next.apply(&[doc]).map_err(|e| anyhow!("{e}"))?;
        self.reconcile(&mut inner, next).await?;
        let line = format!("deployment.apps/{name} patched");
        Ok(with_label_warning(line, &inner.state, name))
    }

    /// `kubectl scale deployment NAME --replicas N`: a patch of `spec.replicas`, the pod template unchanged,
    /// so the running pods stay and the Deployment's ReplicaSet adds pods or removes the newest.
    pub async fn scale(&self, kind: &str, name: &str, replicas: u32) -> anyhow::Result<String> {
        if crate::state::parse_kind(kind) != Some("Deployment") {
            return Err(anyhow!(
                "error: the local mesh scales deployments only (deployment/NAME), not {kind:?}"
            ));
        }
        if replicas > registry::MAX_REPLICAS {
            return Err(anyhow!(
                "error: --replicas={replicas}: {}",
                registry::too_many()
            ));
        }
        let patch = serde_json::json!({"spec": {"replicas": replicas}}).to_string();
        let mut inner = self.inner.lock().await;
        let patched = inner
            .state
            .patched(kind, name, &patch, PatchType::Merge)
            .map_err(|e| anyhow!("{e}"))?;
        if let Some(mut doc) = patched {
            // Where `show` says the object came from: the command that changed it last.
            doc.file = format!("oc scale deployment {name} --replicas={replicas}").into();
            let mut next = inner.state.clone();
            next.apply(&[doc]).map_err(|e| anyhow!("{e}"))?;
            self.reconcile(&mut inner, next).await?;
        }
        Ok(format!("deployment.apps/{name} scaled"))
    }

    /// `kubectl create|replace|delete -f <file>` with the file's text: each object on its own, kubectl's
    /// line or error for each (a file the lab cannot take is refused whole).
    pub async fn file_verb(
        &self,
        verb: FileVerb,
        file: &Path,
        text: &str,
    ) -> anyhow::Result<Outcome> {
        let docs = mesh_manifests::parse_str(file, text).map_err(|e| anyhow!("{e}"))?;
        let mut inner = self.inner.lock().await;
        let mut next = inner.state.clone();
        let outcome = next.file_verb(verb, &docs).map_err(|e| anyhow!("{e}"))?;
        if next != inner.state {
            self.reconcile(&mut inner, next).await?;
        }
        Ok(outcome)
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
        inner.graph_since = Some(chrono::Utc::now());
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

/// kubectl's `line`, then, when the Deployment's pod label overrides its inject annotation (the patch may
/// have changed the one that does not count), a warning that says so.
fn with_label_warning(line: String, state: &LabState, name: &str) -> String {
    match state.label_wins_in(name) {
        Some(why) => format!("{line}\nWarning: {why}"),
        None => line,
    }
}
