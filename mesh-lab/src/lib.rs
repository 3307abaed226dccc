//! The whole Istio tutorial on a laptop, on the real Envoy data plane: `mesh-lab up` runs an ingress
//! gateway and the tutorial's pods (customer, preference, recommendation v1 and v2), each app with its
//! own Envoy sidecar, plus a stand-in time API playing `worldclockapi.com` (the lab's internet).
//!
//! The lab keeps what has been applied (the same files as the cluster, parsed by `mesh-manifests` into
//! typed objects) and translates it for every proxy the way istiod does ([`routes`], [`clusters`],
//! [`sidecar`], [`translate`] for egress), handing the result to the running Envoys without a restart
//! ([`envoy`]). `mesh-lab guided` walks the tutorial's chapters with verdicts. See docs/LOCAL-MESH.md.

pub mod authz;
pub mod bootstrap;
pub mod ca;
pub mod chapters;
pub mod clusters;
pub mod control;
pub mod envoy;
pub mod graph;
pub mod guided;
pub mod guided_mesh;
pub mod guided_security;
pub mod identity;
pub mod inspect;
pub mod issuer;
pub mod jwt;
pub mod kube_proxy;
pub mod logs;
pub mod mesh;
pub mod mtls;
pub mod pods;
pub mod policy;
pub mod proxies;
pub mod registry;
pub mod routes;
pub mod show;
pub mod sidecar;
pub mod state;
pub mod support;
pub mod tokens;
pub mod translate;

pub use mesh::{Lab, LabOptions};
pub use translate::{Internet, Mode, to_envoy};

/// Helpers the unit tests share.
#[cfg(test)]
pub(crate) mod fixtures {
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
    pub fn internet() -> crate::translate::Internet {
        crate::translate::Internet {
            web: "127.0.0.1:18090".parse().unwrap(),
            closed: "127.0.0.1:9".parse().unwrap(),
            down: false,
        }
    }

    /// recommendation v3's pod labels: the pod whose time lookup the egress lab follows.
    pub fn v3() -> crate::translate::Labels {
        [("app", "recommendation"), ("version", "v3")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}
