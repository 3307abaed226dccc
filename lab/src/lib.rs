//! The egress lab (SPEC §3, "Limit Egress/External Traffic") on a laptop, on the real Envoy data plane.
//!
//! `egress-lab up` runs customer → preference → recommendation v3, a stand-in time API playing
//! `worldclockapi.com` (the lab's internet) and an Envoy egress proxy that recommendation v3's time
//! lookup goes through. The lab keeps what has been applied from `istio/` (the same files, parsed by
//! `mesh-manifests` into the same typed objects the manifest tests use), translates it the way istiod
//! builds a sidecar's outbound port 80 ([`translate`]) and hands the result to the running Envoy
//! without a restart ([`envoy`]). `egress-lab guided` walks SPEC §3 end to end. See
//! docs/LOCAL-EGRESS-LAB.md.

pub mod control;
pub mod envoy;
pub mod guided;
pub mod mesh;
pub mod show;
pub mod state;
pub mod support;
pub mod translate;

pub use mesh::{Lab, LabOptions};
pub use translate::{Internet, Mode, to_envoy};
