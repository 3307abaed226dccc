//! The kustomization check done without a kustomize binary: every listed resource exists and
//! loads, directories hold a kustomization, and every app image reachable from a kustomization
//! with an `images:` list is named in that list (images are named in one place).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::images;
use crate::load::load_file;
use crate::resource::containers;
use crate::resource::{Document, Resource};
use crate::validate::{Finding, Rule, WRONG_ON_PURPOSE};

const KUSTOMIZATION_FILES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Check every `Kustomization` document in `docs`. Reads the files the kustomizations list.
pub fn check(docs: &[Document]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for d in docs {
        let Resource::Kustomization(k) = &d.resource else {
            continue;
        };
        let mut report = |message: String| {
            findings.push(Finding {
                rule: Rule::Kustomize,
                file: d.file.clone(),
                index: d.index,
                message,
                on_purpose: d.resource.annotations().remove(WRONG_ON_PURPOSE),
            })
        };
        let mut reached = Vec::new();
        let mut visited = BTreeSet::new();
        collect(&d.file, &mut reached, &mut visited, &mut report);
        if k.images.is_empty() {
            continue;
        }
        let named: BTreeSet<&str> = k.images.iter().map(|i| i.name.as_str()).collect();
        for doc in &reached {
            let Resource::Deployment(dep) = &doc.resource else {
                continue;
            };
            for c in containers(dep) {
                let image = c.image.as_deref().unwrap_or("");
                if images::is_app_image(image) && !named.contains(images::image_name(image)) {
                    report(format!(
                        "image `{image}` of {} ({}) is not listed under `images:`",
                        doc.resource,
                        doc.file.display()
                    ));
                }
            }
        }
    }
    findings
}

/// Load the resources of the kustomization file `file`, recursively, reporting broken entries.
fn collect(
    file: &Path,
    reached: &mut Vec<Document>,
    visited: &mut BTreeSet<PathBuf>,
    report: &mut impl FnMut(String),
) {
    if !visited.insert(file.to_path_buf()) {
        return;
    }
    let base = file.parent().unwrap_or(Path::new("."));
    let docs = match load_file(file) {
        Ok(docs) => docs,
        Err(e) => return report(e.to_string()),
    };
    for d in docs {
        let Resource::Kustomization(k) = &d.resource else {
            continue;
        };
        for entry in &k.resources {
            let path = base.join(entry);
            if path.is_dir() {
                match KUSTOMIZATION_FILES
                    .iter()
                    .map(|n| path.join(n))
                    .find(|p| p.is_file())
                {
                    Some(nested) => collect(&nested, reached, visited, report),
                    None => report(format!(
                        "resource `{entry}` ({}) is a directory without a kustomization.yaml",
                        file.display()
                    )),
                }
            } else if path.is_file() {
                match load_file(&path) {
                    Ok(docs) => reached.extend(docs),
                    Err(e) => report(format!("resource `{entry}` does not load: {e}")),
                }
            } else {
                report(format!(
                    "resource `{entry}` listed in {} does not exist",
                    file.display()
                ));
            }
        }
    }
}
