//! The manifest suite: every shipped YAML document loads into its typed struct, the cross-reference rules
//! hold, and each rule has a broken fixture (integration-tests/fixtures/manifests/) proving it can fail.
//! Run: `cargo test -p integration-tests --test manifests`.
mod fixtures;
mod index;
mod kustomize_real;
mod shipped;
mod support;
