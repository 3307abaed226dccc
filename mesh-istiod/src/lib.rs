//! istiod's translation for the local mesh, pure: the applied Istio and Kubernetes objects (parsed by
//! `mesh-manifests`) and the mesh-wide outbound mode in, each proxy's Envoy configuration out — no files
//! written, no processes, no network, no clock. mesh-lab runs the result on real Envoys.
//!
//! The folders follow istiod's packages, and each module's doc names the istiod file it follows:
//!
//! - [`model`] (pilot/pkg/model, pkg/spiffe): the service registry and workloads read from Services and
//!   Deployments, identities as names, which pods a policy selects;
//! - [`config::validation`] (pkg/config/validation): the admission check — what the lab translates, and
//!   the refusal, by name, of everything else;
//! - [`networking::core`] (pilot/pkg/networking/core): routes, route configurations, clusters, egress, and
//!   [`networking::core::configgen`], which assembles one proxy's configuration;
//! - [`security`] (pilot/pkg/security): mutual TLS and JWT authentication (`authn`), AuthorizationPolicy
//!   (`authz`);
//! - [`bootstrap`] (pkg/bootstrap): each Envoy's static bootstrap;
//! - [`util::protomarshal`] (pkg/util/protomarshal): Envoy's messages as JSON, read back through the
//!   descriptors of the `envoy-types` crate whose types the translation builds.
//!
//! docs/ARCHITECTURE.md walks one VirtualService from `mesh-lab apply` to the Envoy configuration written.

pub mod bootstrap;
pub mod config;
pub mod model;
pub mod networking;
pub mod security;
pub mod util;

/// Helpers the unit tests share (mesh-lab's too, through the `fixtures` feature).
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures {
    use mesh_manifests::Resource;

    /// The objects of a YAML text (panics on a fixture that does not load).
    pub fn parse(yaml: &str) -> Vec<Resource> {
        mesh_manifests::parse_str(std::path::Path::new("test.yml"), yaml)
            .expect("test YAML loads")
            .into_iter()
            .map(|d| d.resource)
            .collect()
    }

    /// The objects of a file of istio/.
    pub fn istio(file: &str) -> Vec<Resource> {
        let path = format!("{}/../istio/{file}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read_to_string(path).expect("the istio/ file exists"))
    }

    /// The internet the egress translation sees in tests: the stand-in on port 80, every other port closed.
    pub fn internet() -> crate::networking::core::egress::Internet {
        crate::networking::core::egress::Internet {
            web: "127.0.0.1:18090".parse().unwrap(),
            closed: "127.0.0.1:9".parse().unwrap(),
            down: false,
        }
    }

    /// Pod labels from `key, value` pairs.
    pub fn labels(pairs: &[(&str, &str)]) -> crate::model::sidecar::Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// recommendation v3's pod labels: the pod whose time lookup the egress lab follows.
    pub fn v3() -> crate::model::sidecar::Labels {
        labels(&[("app", "recommendation"), ("version", "v3")])
    }
}
