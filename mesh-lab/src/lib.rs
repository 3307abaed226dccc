//! The whole Istio tutorial on a laptop, on the real Envoy data plane: `mesh-lab up` runs an ingress
//! gateway and the tutorial's pods (customer, preference, recommendation v1 and v2), each app with its
//! own Envoy sidecar, plus a stand-in time API playing `worldclockapi.com` (the lab's internet).
//!
//! The layers, each folder using only those above it in this list:
//!
//! - [`state`]: what has been applied (the files, checked by `mesh_istiod::config::validation`) and the
//!   mesh-wide mode — the lab's API server;
//! - [`xds`]: the lab's ADS server, which hands every Envoy its configuration and records its ACKs and
//!   NACKs (istiod's pilot/pkg/xds);
//! - [`dataplane`]: the Envoy processes, the pods, kube-proxy, the CA and the token issuer;
//! - [`lab`]: the running mesh, [`Lab`], whose control loop turns the state into every proxy's
//!   configuration with `mesh_istiod` (istiod's translation, a crate of its own) and hands it to the Envoys;
//! - [`observe`]: `show` and the traffic graph, from the proxies' access logs;
//! - [`guided`]: `mesh-lab guided`, the tutorial's chapters with verdicts;
//! - [`cli`]: the control endpoint and its client.
//!
//! See docs/LOCAL-MESH.md and docs/ARCHITECTURE.md.

pub mod cli;
pub mod dataplane;
pub mod guided;
pub mod lab;
pub mod observe;
pub mod state;
pub mod xds;

pub use lab::{Lab, LabOptions};
