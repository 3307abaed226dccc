//! istio/README.md indexes every istio/ file, and the docs name only files that exist.
use std::collections::BTreeSet;

use crate::support::{repo, shipped_dirs};

/// Backticked tokens (no spaces, no `<placeholder>`) ending in .yml/.yaml, e.g. `istio/sidecar-allow-any.yml` or `sidecar-allow-any.yml`.
fn yaml_mentions(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| !t.contains([' ', '<']) && (t.ends_with(".yml") || t.ends_with(".yaml")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn istio_readme_lists_every_istio_file() {
    let dir = repo().join("istio");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("istio/README.md");
    let mentioned = yaml_mentions(&readme);
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yml") {
            files.insert(name);
        }
    }
    let missing: Vec<&String> = files.iter().filter(|f| !mentioned.contains(*f)).collect();
    assert!(
        missing.is_empty(),
        "istio/README.md does not index {missing:?}"
    );
}

#[test]
fn docs_name_only_existing_manifest_files() {
    for (doc, base) in [("istio/README.md", "istio"), ("docs/MANIFESTS.md", "")] {
        let text =
            std::fs::read_to_string(repo().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
        for name in yaml_mentions(&text) {
            // Short names in tables are relative to a manifest folder or the fixtures.
            let mut candidates = vec![repo().join(base).join(&name), repo().join(&name)];
            candidates.extend(shipped_dirs().iter().map(|d| d.join(&name)));
            candidates.push(
                repo()
                    .join("integration-tests/fixtures/manifests")
                    .join(&name),
            );
            assert!(
                candidates.iter().any(|p| p.is_file()),
                "{doc} names `{name}`, which does not exist"
            );
        }
    }
}
