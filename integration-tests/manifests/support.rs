//! Paths of the shipped manifests and fixtures, and loading helpers.
use std::path::{Path, PathBuf};

use mesh_manifests::{Document, Finding, kustomize, load_paths_collecting, validate};

/// The repository root (the parent of the `tests` crate).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests/ has a parent")
        .to_path_buf()
}

/// Every folder holding shipped manifests.
pub fn shipped_dirs() -> Vec<PathBuf> {
    let r = repo();
    [
        "kubernetes",
        "istio",
        "customer/kubernetes",
        "preference/kubernetes",
        "recommendation/kubernetes",
    ]
    .iter()
    .map(|d| r.join(d))
    .collect()
}

pub fn fixture(name: &str) -> PathBuf {
    repo()
        .join("integration-tests/fixtures/manifests")
        .join(name)
}

/// The shipped documents; panics listing every load error.
pub fn shipped() -> Vec<Document> {
    let (docs, errors) = load_paths_collecting(shipped_dirs());
    let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(
        listed.is_empty(),
        "shipped manifests do not load:\n{}",
        listed.join("\n")
    );
    docs
}

/// Validation and kustomize findings over `docs`.
pub fn findings(docs: &[Document]) -> Vec<Finding> {
    let mut all = validate(docs);
    all.extend(kustomize::check(docs));
    all
}

/// The findings about `file` when it is validated together with the shipped manifests.
pub fn findings_with_fixture(file: &Path) -> Vec<Finding> {
    let mut docs = shipped();
    docs.extend(mesh_manifests::load_file(file).expect("fixture loads"));
    findings(&docs)
        .into_iter()
        .filter(|f| f.file == file)
        .collect()
}
