//! The whole Istio tutorial on a laptop, on the real Envoy data plane: `mesh-lab up` runs an ingress
//! gateway and the tutorial's pods (customer, preference, recommendation v1 and v2), each app with its
//! own Envoy sidecar, plus a stand-in time API playing `worldclockapi.com` (the lab's internet).
//!
//! The lab keeps what has been applied (the same files as the cluster, parsed by `mesh-manifests` into
//! typed objects) and translates it for every proxy the way istiod does ([`routes`], [`clusters`],
//! [`sidecar`], [`translate`] for egress), handing the result to the running Envoys without a restart
//! ([`envoy`]). `mesh-lab guided` walks the tutorial's chapters with verdicts. See docs/LOCAL-MESH.md.

pub mod bootstrap;
pub mod clusters;
pub mod control;
pub mod envoy;
pub mod guided;
pub mod guided_mesh;
pub mod logs;
pub mod mesh;
pub mod pods;
pub mod proxies;
pub mod registry;
pub mod routes;
pub mod show;
pub mod sidecar;
pub mod state;
pub mod support;
pub mod translate;

pub use mesh::{Lab, LabOptions};
pub use translate::{Internet, Mode, to_envoy};
