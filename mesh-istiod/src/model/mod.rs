//! The mesh's model (pilot/pkg/model): Services and workloads, identities, which pods a policy selects.

pub mod identity;
pub mod images;
pub mod policy;
pub mod registry;
pub mod release;
pub mod sidecar;
