//! What the local mesh does with each kind the loader takes (`mesh_manifests::KINDS`, which holds their
//! apiVersions): runs it, takes it as mesh config, notes it, or refuses it with the fix. It is the lab's
//! counterpart of the kinds istiod watches (pkg/config/schema/collections/collections.gen.go, `Pilot`); the
//! short names are those of the kinds' CRDs (manifests/charts/base/files/crd-all.gen.yaml, `shortNames`) and
//! of Kubernetes. The admission check ([`super::check`]), the scope its refusals quote, the refusal of the
//! kinds the lab does not take, and `mesh-lab delete`'s kinds and help are derived from [`LAB_KINDS`];
//! docs/LOCAL-MESH.md's *Kinds* list is held to it by a test.

/// What the lab does with a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Does {
    /// Keeps and translates it into the proxies' configuration ([`super::Effect::Keep`]); `delete` removes
    /// it. `scope`: what of it the lab translates, as the scope text says it.
    Runs { scope: &'static str },
    /// Takes it as mesh config: a file of istio/ (a merge patch without a name, `oc patch KIND OBJECT`) whose
    /// outbound traffic policy is the mesh mode ([`super::Effect::MeshMode`]). `object`: the name it patches.
    MeshConfig { object: &'static str },
    /// Keeps it without effect on the local mesh ([`super::Effect::Noted`]); `note` says why.
    Notes { note: &'static str },
    /// Refuses it; `fix` says what to do instead.
    Refuses { fix: &'static str },
}

/// One kind and what the lab does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabKind {
    /// `kind` as written in YAML.
    pub kind: &'static str,
    /// kubectl's short names that `mesh-lab delete` takes besides the name, its plural and kubectl's full name.
    pub short_names: &'static [&'static str],
    pub does: Does,
}

/// What a kind the lab does not take is told to do.
pub const ON_A_CLUSTER: &str = "apply it on a cluster";

const fn runs(
    kind: &'static str,
    short_names: &'static [&'static str],
    scope: &'static str,
) -> LabKind {
    LabKind {
        kind,
        short_names,
        does: Does::Runs { scope },
    }
}

const fn refuses(kind: &'static str) -> LabKind {
    LabKind {
        kind,
        short_names: &[],
        does: Does::Refuses { fix: ON_A_CLUSTER },
    }
}

/// Every kind the loader takes, once, and what the lab does with it. The order is the order of every list
/// derived from it.
pub const LAB_KINDS: &[LabKind] = &[
    runs("Deployment", &["deploy"], "Deployments"),
    runs(
        "ServiceEntry",
        &["se"],
        "ServiceEntry hosts/ports (protocol HTTP)",
    ),
    runs(
        "VirtualService",
        &["vs"],
        "VirtualServices (match on headers, withoutHeaders, uri, sourceLabels and gateways, weighted routes, \
         header operations, redirect, CORS, mirror, retries, timeout, fault, rewrite)",
    ),
    runs(
        "DestinationRule",
        &["dr"],
        "DestinationRule subsets and trafficPolicy (loadBalancer, connectionPool, outlierDetection, tls.mode; per subset too)",
    ),
    runs("Gateway", &["gw"], "Gateways"),
    runs("Sidecar", &[], "Sidecar outboundTrafficPolicy"),
    runs(
        "PeerAuthentication",
        &["pa"],
        "PeerAuthentication mtls.mode and selector.matchLabels",
    ),
    runs(
        "AuthorizationPolicy",
        &["ap"],
        "AuthorizationPolicy ALLOW/DENY rules",
    ),
    runs(
        "RequestAuthentication",
        &["ra"],
        "RequestAuthentication jwtRules",
    ),
    LabKind {
        kind: "ServiceMeshControlPlane",
        short_names: &[],
        does: Does::MeshConfig { object: "basic" },
    },
    LabKind {
        kind: "Istio",
        short_names: &[],
        does: Does::MeshConfig { object: "default" },
    },
    LabKind {
        kind: "Service",
        short_names: &["svc"],
        does: Does::Notes {
            note: "kept; the local mesh reads its registry from */kubernetes/Service.yml when it starts",
        },
    },
    LabKind {
        kind: "ServiceAccount",
        short_names: &["sa"],
        does: Does::Notes {
            note: "kept; a workload's identity comes from its pod template's serviceAccountName (or its deprecated \
                   alias serviceAccount) \
                   (spiffe://cluster.local/ns/tutorial/sa/NAME), which needs no ServiceAccount object in the lab",
        },
    },
    refuses("Namespace"),
    refuses("Kustomization"),
    refuses("Route"),
    refuses("ImageStream"),
    refuses("BuildConfig"),
    refuses("ServiceMeshMemberRoll"),
    refuses("ServiceMeshMember"),
    refuses("IstioCNI"),
];

/// What the lab does with `kind`; a kind outside the table (the tests hold it to the loader's) is refused.
pub fn does(kind: &str) -> Does {
    LAB_KINDS
        .iter()
        .find(|k| k.kind == kind)
        .map_or(Does::Refuses { fix: ON_A_CLUSTER }, |k| k.does)
}

/// The kinds whose treatment `what` accepts, in the table's order.
pub fn kinds_that(what: fn(&Does) -> bool) -> impl Iterator<Item = &'static str> {
    LAB_KINDS
        .iter()
        .filter(move |k| what(&k.does))
        .map(|k| k.kind)
}

/// The kinds the lab runs.
pub fn runs_kinds() -> impl Iterator<Item = &'static str> {
    kinds_that(|d| matches!(d, Does::Runs { .. }))
}

fn list(kinds: impl Iterator<Item = &'static str>) -> String {
    kinds.collect::<Vec<_>>().join(", ")
}

/// `a, b and c`.
fn in_words(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// What the local mesh takes, quoted by every refused field: what it translates of each kind it runs, the
/// mesh-config kinds and the kinds it keeps without effect.
pub fn scope() -> String {
    let translated: Vec<&str> = LAB_KINDS
        .iter()
        .filter_map(|k| match k.does {
            Does::Runs { scope } => Some(scope),
            _ => None,
        })
        .collect();
    let noted: Vec<&str> = kinds_that(|d| matches!(d, Does::Notes { .. })).collect();
    format!(
        "the local mesh translates {}, takes the mesh mode from the mesh-config files of istio/ ({}) and keeps \
         {} objects without effect",
        translated.join(", "),
        list(kinds_that(|d| matches!(d, Does::MeshConfig { .. }))),
        in_words(&noted)
    )
}

/// The refusal of a kind the lab does not take, with its fix.
pub fn refusal(kind: &str, fix: &str) -> String {
    format!(
        "kind {kind} is not part of the local mesh: it runs {} and takes the mesh mode from the mesh-config files \
         of istio/ ({}); {fix}",
        list(runs_kinds()),
        list(kinds_that(|d| matches!(d, Does::MeshConfig { .. })))
    )
}

#[cfg(test)]
mod tests;
