//! The outbound traffic policy and the Sidecar resource's scope (pilot/pkg/model/sidecar.go
//! `SidecarScope`, `OutboundTrafficPolicy`): the mesh-wide mode (`ALLOW_ANY` unless the mesh config says
//! otherwise), overridden for a workload by the last Sidecar that applies to it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use kcr_networking_istio_io::v1::sidecars::{Sidecar, SidecarOutboundTrafficPolicyMode};
use mesh_manifests::{Resource, kcr_networking_istio_io};
use serde::{Deserialize, Serialize};

/// Mesh outbound traffic policy mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[default]
    #[serde(rename = "ALLOW_ANY")]
    AllowAny,
    #[serde(rename = "REGISTRY_ONLY")]
    RegistryOnly,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::AllowAny => "ALLOW_ANY",
            Mode::RegistryOnly => "REGISTRY_ONLY",
        })
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ALLOW_ANY" => Ok(Mode::AllowAny),
            "REGISTRY_ONLY" => Ok(Mode::RegistryOnly),
            _ => Err(format!(
                "unknown outbound traffic policy mode {s:?} (ALLOW_ANY or REGISTRY_ONLY)"
            )),
        }
    }
}

impl From<mesh_manifests::openshift::OutboundMode> for Mode {
    fn from(m: mesh_manifests::openshift::OutboundMode) -> Self {
        match m {
            mesh_manifests::openshift::OutboundMode::AllowAny => Mode::AllowAny,
            mesh_manifests::openshift::OutboundMode::RegistryOnly => Mode::RegistryOnly,
        }
    }
}

/// Pod labels.
pub type Labels = BTreeMap<String, String>;

/// Does a Sidecar apply to a workload with `labels` (no selector, or a selector its labels satisfy)?
pub fn sidecar_applies(sidecar: &Sidecar, labels: &Labels) -> bool {
    match sidecar
        .spec
        .workload_selector
        .as_ref()
        .and_then(|w| w.labels.as_ref())
    {
        None => true,
        Some(selector) => selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
    }
}

/// A Sidecar's `outboundTrafficPolicy.mode`, if it sets one.
pub fn sidecar_mode(sidecar: &Sidecar) -> Option<Mode> {
    sidecar
        .spec
        .outbound_traffic_policy
        .as_ref()
        .and_then(|p| p.mode.as_ref())
        .map(|m| match m {
            SidecarOutboundTrafficPolicyMode::AllowAny => Mode::AllowAny,
            SidecarOutboundTrafficPolicyMode::RegistryOnly => Mode::RegistryOnly,
        })
}

/// The outbound mode in effect: the last applicable Sidecar's `outboundTrafficPolicy.mode`, else `mesh`.
pub fn effective_mode(resources: &[Resource], mesh: Mode, labels: &Labels) -> Mode {
    resources
        .iter()
        .filter_map(|r| match r {
            Resource::Sidecar(s) if sidecar_applies(s, labels) => sidecar_mode(s),
            _ => None,
        })
        .next_back()
        .unwrap_or(mesh)
}
