//! Typed, offline loading and validation of the tutorial's Kubernetes and Istio manifests.
//!
//! Run the checks with `cargo test -p integration-tests --test manifests`.
//!
//! # Loading
//!
//! [`load_paths`] takes files or directories (walked recursively, `.yml` / `.yaml` only, in sorted
//! order) and returns one [`Document`] per YAML document: the file it came from, its 0-based index in
//! that file's document stream, and the parsed [`Resource`]. [`load_file`] does one file and
//! [`parse_str`] parses text you already hold (nothing is read). Loading only reads the files it is
//! given: no environment, no processes, no network, so the tests and the `mesh-lab` crate can share it.
//!
//! Every document is parsed into its typed struct: k8s-openapi for core kinds, the
//! `kcr_networking_istio_io` / `kcr_security_istio_io` crates for Istio kinds, and the
//! small structs of [`openshift`] for kinds with no type crate (kustomization, Route, ImageStream,
//! BuildConfig, Maistra and Sail operator resources). [`KINDS`] says which apiVersions each kind is
//! taken at: an Istio kind at every version Istio serves (networking v1, v1beta1, v1alpha3; security v1,
//! v1beta1), all parsed by the crates' `v1` types, since Istio serves one schema under each version;
//! [`Document::api_version`] keeps the one written. Strictness:
//! - an `apiVersion`/`kind` pair not in [`KINDS`] is a [`LoadError::UnknownKind`] whose [`Refusal`]
//!   says, in the learner's terms, what is taken instead (or which Istio release removed that API);
//! - a field the type does not know is a [`LoadError::UnknownField`] naming the file, the document
//!   index and the field path (`spec.http.0.route.0.destination.subsets`), collected with
//!   `serde_ignored` (only the top-level `apiVersion` and `kind`, which the Istio types read from
//!   the kind itself, are exempt);
//! - a wrong type or a missing required field is a [`LoadError::Invalid`].
//!
//! # Validating
//!
//! [`validate()`] runs the cross-reference rules of [`Rule`] over a set of documents and returns a
//! typed list of [`Finding`]s. Some files are wrong on purpose (the egress lab's port-81
//! ServiceEntry): they carry the annotation [`WRONG_ON_PURPOSE`], and a finding on such a file
//! is marked [`Finding::on_purpose`] and carries the trainer's explanation. [`kustomize::check`]
//! checks that every path listed in a `kustomization.yaml` exists and loads (no kustomize binary
//! is needed).
//!
//! ```no_run
//! let docs = mesh_manifests::load_paths(["kubernetes", "istio"]).expect("manifests load");
//! for finding in mesh_manifests::validate(&docs) {
//!     println!("{finding}");
//! }
//! ```

pub mod api;
pub mod contract;
pub mod images;
pub mod kustomize;
mod load;
pub mod openshift;
mod pods;
mod resource;
mod suggest;
mod validate;

pub use api::{Kind, Refusal};
pub use load::{LoadError, load_file, load_paths, load_paths_collecting, parse_str};
pub use pods::INJECT_LABEL;
pub use resource::containers;
pub use resource::{Document, KINDS, Resource};
pub use validate::{Finding, Rule, WRONG_ON_PURPOSE, validate};

/// Re-exported type crates, so users of this crate name the same versions.
pub use k8s_openapi;
pub use kcr_networking_istio_io;
pub use kcr_security_istio_io;
