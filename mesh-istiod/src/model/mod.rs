//! The mesh's model (pilot/pkg/model): Services and workloads, identities, which pods a policy selects,
//! which protocol a Service port is served as.

pub mod identity;
pub mod images;
pub mod policy;
pub mod protocol;
pub mod registry;
pub mod release;
pub mod sidecar;
