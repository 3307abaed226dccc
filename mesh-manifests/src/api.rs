//! Which apiVersions each kind is taken at, and what a document of any other apiVersion/kind is told.
//!
//! The kinds and their apiVersions are the table in `resource.rs` ([`crate::KINDS`]). Istio serves every
//! networking kind the lab runs at `networking.istio.io` v1, v1beta1 and v1alpha3, and every security kind at
//! `security.istio.io` v1 and v1beta1, with one schema per kind (Istio's CRDs,
//! `manifests/charts/base/files/crd-all.gen.yaml`, carry the same schema under each version), so a document
//! of any of them is parsed into the same typed object. A refusal speaks the learner's language: what the
//! document says, what is taken instead, and what to write; Istio's removed APIs ([`REMOVED`]) name the
//! release that removed them and what replaced them; the kinds Istio, the Gateway API or Kubernetes serve that the
//! local mesh does not run ([`NOT_RUN`]) are named, with where they are served and what to do instead.

use std::fmt;

/// One row of the kinds' table: a kind and the apiVersions it is taken at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// `kind` as written in YAML (case-sensitive, as on an API server).
    pub kind: &'static str,
    /// The API group; `""` for the core group (`apiVersion: v1`).
    pub group: &'static str,
    /// The versions taken, the one to write first (for Istio kinds: every version Istio serves).
    pub versions: &'static [&'static str],
}

impl Kind {
    /// `group/version`, or `version` alone for the core group.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_owned()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    /// Every apiVersion this kind is taken at, the one to write first.
    pub fn api_versions(&self) -> Vec<String> {
        self.versions.iter().map(|v| self.api_version(v)).collect()
    }

    /// Whether a document of this kind may say `apiVersion: api_version`.
    pub fn takes(&self, api_version: &str) -> bool {
        self.versions
            .iter()
            .any(|v| self.api_version(v) == api_version)
    }

    /// Istio's own kinds: what they are taken at is what Istio serves.
    fn is_istio(&self) -> bool {
        self.group.ends_with(".istio.io")
    }

    /// `networking.istio.io/v1, v1beta1 and v1alpha3`.
    fn versions_in_words(&self) -> String {
        let mut words = self.api_version(self.versions[0]);
        let rest = &self.versions[1..];
        for (i, v) in rest.iter().enumerate() {
            words.push_str(if i + 1 == rest.len() { " and " } else { ", " });
            words.push_str(v);
        }
        words
    }

    /// `apiVersion: networking.istio.io/v1 (or v1beta1, v1alpha3)`.
    fn what_to_write(&self) -> String {
        let mut words = format!("apiVersion: {}", self.api_version(self.versions[0]));
        if self.versions.len() > 1 {
            words.push_str(&format!(" (or {})", self.versions[1..].join(", ")));
        }
        words
    }
}

/// An Istio API that Istio no longer serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedApi {
    /// Its API group (any version).
    pub group: &'static str,
    /// Its kinds; empty: every kind of the group.
    pub kinds: &'static [&'static str],
    /// What it was, in words.
    pub what: &'static str,
    /// The Istio release that removed (or replaced) it, in words.
    pub gone: &'static str,
    /// What to write instead.
    pub instead: &'static str,
}

impl RemovedApi {
    fn covers(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        group == self.group && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// Istio's removed APIs, the first that covers a document speaks (so the routing API's kinds come before
/// the rest of `config.istio.io`, which was Mixer's).
pub const REMOVED: &[RemovedApi] = &[
    RemovedApi {
        group: "config.istio.io",
        kinds: &["RouteRule", "DestinationPolicy", "EgressRule"],
        what: "Istio's first routing API (RouteRule, DestinationPolicy, EgressRule)",
        gone: "replaced in Istio 0.8 by networking.istio.io",
        instead: "write a VirtualService, DestinationRule or ServiceEntry (networking.istio.io/v1) instead",
    },
    RemovedApi {
        group: "config.istio.io",
        kinds: &[],
        what: "Mixer configuration (rules, handlers, instances, adapters, templates)",
        gone: "removed with Mixer in Istio 1.8",
        instead: "the sidecars report telemetry themselves (Telemetry, telemetry.istio.io), access control is an \
                  AuthorizationPolicy (security.istio.io/v1) and custom adapters become Wasm extensions",
    },
    RemovedApi {
        group: "rbac.istio.io",
        kinds: &[],
        what: "Istio's alpha RBAC API (ServiceRole, ServiceRoleBinding, RbacConfig, ClusterRbacConfig)",
        gone: "removed in Istio 1.6",
        instead: "write an AuthorizationPolicy (security.istio.io/v1) instead",
    },
    RemovedApi {
        group: "authentication.istio.io",
        kinds: &[],
        what: "Istio's alpha authentication API (Policy, MeshPolicy)",
        gone: "removed in Istio 1.6",
        instead: "write a PeerAuthentication for mutual TLS and a RequestAuthentication for JWT \
                  (security.istio.io/v1) instead",
    },
];

/// A kind Istio (or Kubernetes) serves that the local mesh does not run, and what to do instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotRun {
    /// The kind and the versions it is served at (the one to write first).
    pub served: Kind,
    /// Who serves it: `Istio`, `the Kubernetes Gateway API`, `Kubernetes`.
    pub by: &'static str,
    /// What to do instead, in words.
    pub instead: &'static str,
}

const ON_A_CLUSTER: &str = "apply it on a cluster";
const GATEWAY_API: &str = "the Kubernetes Gateway API";
const ISTIO_GATEWAY_INSTEAD: &str = "write Istio's Gateway and a VirtualService bound to it \
     (networking.istio.io/v1, as kubernetes/app/customer-gateway.yml does), which the local mesh runs, or apply \
     it on a cluster";

const fn not_run(
    kind: &'static str,
    group: &'static str,
    versions: &'static [&'static str],
    by: &'static str,
    instead: &'static str,
) -> NotRun {
    NotRun {
        served: Kind {
            kind,
            group,
            versions,
        },
        by,
        instead,
    }
}

/// Kinds a learner of the tutorial or of istio.io's tasks may bring that the local mesh does not run. Istio's
/// versions are those its CRDs serve (`manifests/charts/base/files/crd-all.gen.yaml`, `served: true`); the
/// Gateway API's those of its v1.6 CRDs, the release Istio's own tests install
/// (`tests/integration/pilot/testdata/gateway-api-crd.yaml`).
pub const NOT_RUN: &[NotRun] = &[
    not_run(
        "EnvoyFilter",
        "networking.istio.io",
        &["v1alpha3"],
        "Istio",
        "apply it on a cluster; the local mesh's Envoy configuration is what it translates from the routing \
         objects (mesh-lab show prints every proxy's routes)",
    ),
    not_run(
        "WorkloadEntry",
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Istio",
        "apply it on a cluster; the local mesh's workloads are the tutorial's Deployments, and an external host \
         is a ServiceEntry (networking.istio.io/v1), which it runs",
    ),
    not_run(
        "WorkloadGroup",
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Istio",
        "apply it on a cluster; the local mesh's workloads are the tutorial's Deployments",
    ),
    not_run(
        "ProxyConfig",
        "networking.istio.io",
        &["v1beta1"],
        "Istio",
        ON_A_CLUSTER,
    ),
    not_run(
        "Telemetry",
        "telemetry.istio.io",
        &["v1", "v1alpha1"],
        "Istio",
        "apply it on a cluster; the local mesh's sidecars keep their access logs as they are (mesh-lab show counts the traffic from them)",
    ),
    not_run(
        "WasmPlugin",
        "extensions.istio.io",
        &["v1alpha1"],
        "Istio",
        "apply it on a cluster; the local mesh's sidecars load no Wasm",
    ),
    not_run(
        "TrafficExtension",
        "extensions.istio.io",
        &["v1alpha1"],
        "Istio",
        "apply it on a cluster; the local mesh's sidecars load no extensions",
    ),
    not_run(
        "GatewayClass",
        "gateway.networking.k8s.io",
        &["v1", "v1beta1"],
        GATEWAY_API,
        ISTIO_GATEWAY_INSTEAD,
    ),
    not_run(
        "Gateway",
        "gateway.networking.k8s.io",
        &["v1", "v1beta1"],
        GATEWAY_API,
        ISTIO_GATEWAY_INSTEAD,
    ),
    not_run(
        "ListenerSet",
        "gateway.networking.k8s.io",
        &["v1"],
        GATEWAY_API,
        ISTIO_GATEWAY_INSTEAD,
    ),
    not_run(
        "HTTPRoute",
        "gateway.networking.k8s.io",
        &["v1", "v1beta1"],
        GATEWAY_API,
        "write a VirtualService (networking.istio.io/v1), which the local mesh runs: bound to Istio's Gateway \
         for the ingress, without gateways for the mesh; or apply it on a cluster",
    ),
    not_run(
        "GRPCRoute",
        "gateway.networking.k8s.io",
        &["v1"],
        GATEWAY_API,
        ON_A_CLUSTER,
    ),
    not_run(
        "TCPRoute",
        "gateway.networking.k8s.io",
        &["v1", "v1alpha2"],
        GATEWAY_API,
        ON_A_CLUSTER,
    ),
    not_run(
        "TLSRoute",
        "gateway.networking.k8s.io",
        &["v1", "v1alpha3", "v1alpha2"],
        GATEWAY_API,
        ON_A_CLUSTER,
    ),
    not_run(
        "UDPRoute",
        "gateway.networking.k8s.io",
        &["v1", "v1alpha2"],
        GATEWAY_API,
        ON_A_CLUSTER,
    ),
    not_run(
        "ReferenceGrant",
        "gateway.networking.k8s.io",
        &["v1", "v1beta1"],
        GATEWAY_API,
        "apply it on a cluster; the local mesh plays one namespace, tutorial, so nothing crosses namespaces",
    ),
    not_run(
        "BackendTLSPolicy",
        "gateway.networking.k8s.io",
        &["v1", "v1alpha3"],
        GATEWAY_API,
        ON_A_CLUSTER,
    ),
    not_run(
        "Ingress",
        "networking.k8s.io",
        &["v1"],
        "Kubernetes",
        ISTIO_GATEWAY_INSTEAD,
    ),
    not_run(
        "NetworkPolicy",
        "networking.k8s.io",
        &["v1"],
        "Kubernetes",
        "apply it on a cluster; in the local mesh, who may call whom is an AuthorizationPolicy \
         (security.istio.io/v1), which it runs",
    ),
    not_run(
        "ConfigMap",
        "",
        &["v1"],
        "Kubernetes",
        "the local mesh's sidecars read no ConfigMap; for the mesh-wide outbound mode (the istio \
         ConfigMap's outboundTrafficPolicy) run mesh-lab mode REGISTRY_ONLY or apply \
         istio/registry-only-ossm3-istio-patch.yml",
    ),
    not_run(
        "Secret",
        "",
        &["v1"],
        "Kubernetes",
        "apply it on a cluster; the local gateway serves plain HTTP and the sidecars' certificates come from the \
         lab's own CA",
    ),
];

impl NotRun {
    fn covers(&self, api_version: &str, kind: &str) -> bool {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        self.served.kind == kind && self.served.group == group
    }
}

/// Why a document's `apiVersion`/`kind` is not taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The kind is taken, at other apiVersions.
    Version {
        api_version: String,
        kind: String,
        taken: &'static Kind,
    },
    /// An Istio API Istio no longer serves.
    Removed {
        api_version: String,
        kind: String,
        api: &'static RemovedApi,
    },
    /// A kind Istio (or Kubernetes) serves that the local mesh does not run.
    NotRun {
        api_version: String,
        kind: String,
        not_run: &'static NotRun,
    },
    /// No kind of that name is taken; `spelled` is the kind it matches but for case, `meant` the one its
    /// name is a typo of (two edits at most).
    Kind {
        api_version: String,
        kind: String,
        spelled: Option<&'static Kind>,
        meant: Option<&'static Kind>,
    },
}

impl Refusal {
    /// Whether `(api_version, kind)` is taken: the table's row, or why not.
    pub fn check(api_version: &str, kind: &str) -> Result<&'static Kind, Refusal> {
        let (a, k) = (api_version.to_owned(), kind.to_owned());
        let not_run = |not_run| {
            Err(Refusal::NotRun {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                not_run,
            })
        };
        // In its own group first: the Gateway API's Gateway is not Istio's.
        if let Some(row) = NOT_RUN.iter().find(|r| r.covers(api_version, kind)) {
            return not_run(row);
        }
        if let Some(row) = crate::KINDS.iter().find(|r| r.kind == kind) {
            return if row.takes(api_version) {
                Ok(row)
            } else {
                Err(Refusal::Version {
                    api_version: a,
                    kind: k,
                    taken: row,
                })
            };
        }
        if let Some(api) = REMOVED.iter().find(|r| r.covers(api_version, kind)) {
            return Err(Refusal::Removed {
                api_version: a,
                kind: k,
                api,
            });
        }
        // Written in another group (Telemetry at networking.istio.io): still say where it is served.
        if let Some(row) = NOT_RUN.iter().find(|r| r.served.kind == kind) {
            return not_run(row);
        }
        let kinds = || crate::KINDS.iter().chain(NOT_RUN.iter().map(|r| &r.served));
        let spelled = kinds().find(|r| r.kind.eq_ignore_ascii_case(kind));
        let meant = kinds()
            .map(|r| (strsim::damerau_levenshtein(kind, r.kind), r))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, r)| r)
            .filter(|_| spelled.is_none());
        Err(Refusal::Kind {
            api_version: a,
            kind: k,
            spelled,
            meant,
        })
    }

    pub fn api_version(&self) -> &str {
        match self {
            Refusal::Version { api_version, .. }
            | Refusal::Removed { api_version, .. }
            | Refusal::NotRun { api_version, .. }
            | Refusal::Kind { api_version, .. } => api_version,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Refusal::Version { kind, .. }
            | Refusal::Removed { kind, .. }
            | Refusal::NotRun { kind, .. }
            | Refusal::Kind { kind, .. } => kind,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at apiVersion {}: ", self.kind(), self.api_version())?;
        match self {
            Refusal::Version { taken, .. } if taken.is_istio() => write!(
                f,
                "Istio serves {} at {} only: write {}",
                taken.kind,
                taken.versions_in_words(),
                taken.what_to_write()
            ),
            Refusal::Version { taken, .. } => write!(
                f,
                "{} is taken at {} only: write {}",
                taken.kind,
                taken.versions_in_words(),
                taken.what_to_write()
            ),
            Refusal::Removed { api, .. } => {
                write!(f, "{}, {}: {}", api.what, api.gone, api.instead)
            }
            Refusal::NotRun { not_run, .. } => write!(
                f,
                "{} serves {} at {}; the local mesh does not run it: {}",
                not_run.by,
                not_run.served.kind,
                not_run.served.versions_in_words(),
                not_run.instead
            ),
            Refusal::Kind {
                spelled: Some(row), ..
            } => write!(f, "kinds are case-sensitive: write kind: {}", row.kind),
            Refusal::Kind {
                meant: Some(row), ..
            } => write!(f, "no such kind; did you mean kind: {}?", row.kind),
            Refusal::Kind { spelled: None, .. } => write!(
                f,
                "not a kind the local mesh or the manifest checks take; they take {}",
                kinds_in_words()
            ),
        }
    }
}

/// `Namespace, ServiceAccount, Service (v1), Deployment (apps/v1), VirtualService, … (networking.istio.io/v1,
/// v1beta1, v1alpha3), …`: the table's kinds, those sharing apiVersions together.
pub fn kinds_in_words() -> String {
    let mut out: Vec<String> = Vec::new();
    let mut rows = crate::KINDS.iter().peekable();
    let mut names = Vec::new();
    while let Some(row) = rows.next() {
        names.push(row.kind);
        let same = |next: &&Kind| next.group == row.group && next.versions == row.versions;
        if !rows.peek().is_some_and(same) {
            let versions = row.api_version(row.versions[0]);
            let more = row.versions[1..].iter().map(|v| format!(", {v}"));
            out.push(format!(
                "{} ({versions}{})",
                names.join(", "),
                more.collect::<String>()
            ));
            names.clear();
        }
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{KINDS, LoadError, Resource, parse_str};

    fn row(kind: &str) -> &'static Kind {
        KINDS.iter().find(|r| r.kind == kind).expect("in the table")
    }

    /// Served versions as Istio's CRDs list them (`crd-all.gen.yaml`, `served: true`), v1 (the storage
    /// version) first.
    #[test]
    fn istio_kinds_are_taken_at_every_version_istio_serves() {
        let networking = ["v1", "v1beta1", "v1alpha3"];
        let security = ["v1", "v1beta1"];
        for kind in [
            "VirtualService",
            "DestinationRule",
            "ServiceEntry",
            "Gateway",
            "Sidecar",
        ] {
            assert_eq!(
                (row(kind).group, row(kind).versions),
                ("networking.istio.io", &networking[..])
            );
        }
        for kind in [
            "PeerAuthentication",
            "AuthorizationPolicy",
            "RequestAuthentication",
        ] {
            assert_eq!(
                (row(kind).group, row(kind).versions),
                ("security.istio.io", &security[..])
            );
        }
    }

    #[test]
    fn every_kind_is_in_the_table_once() {
        for r in KINDS {
            assert_eq!(
                KINDS.iter().filter(|o| o.kind == r.kind).count(),
                1,
                "{r:?}"
            );
            assert!(!r.versions.is_empty(), "{r:?}");
        }
    }

    #[test]
    fn api_versions_of_core_and_named_groups() {
        assert_eq!(row("Service").api_versions(), ["v1"]);
        assert_eq!(row("Deployment").api_versions(), ["apps/v1"]);
        assert_eq!(
            row("AuthorizationPolicy").api_versions(),
            ["security.istio.io/v1", "security.istio.io/v1beta1"]
        );
        assert!(row("Sidecar").takes("networking.istio.io/v1alpha3"));
        assert!(!row("Sidecar").takes("v1alpha3"));
        assert!(!row("Service").takes("core/v1"));
    }

    const VS: &str = "kind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [recommendation]\n  http:\n  - route:\n    - destination: {host: recommendation, subset: version-v2}\n";

    /// The same VirtualService at each version Istio serves loads into the same object, and remembers
    /// the apiVersion it was written at.
    #[test]
    fn one_object_at_every_served_version() {
        let docs: Vec<_> = ["v1alpha3", "v1beta1", "v1"]
            .map(|v| {
                let text = format!("apiVersion: networking.istio.io/{v}\n{VS}");
                parse_str(Path::new("vs.yml"), &text)
                    .expect("served")
                    .remove(0)
            })
            .into();
        assert!(matches!(&docs[0].resource, Resource::VirtualService(_)));
        assert_eq!(docs[0].resource, docs[1].resource);
        assert_eq!(docs[1].resource, docs[2].resource);
        assert_eq!(
            docs.iter()
                .map(|d| d.api_version.as_str())
                .collect::<Vec<_>>(),
            [
                "networking.istio.io/v1alpha3",
                "networking.istio.io/v1beta1",
                "networking.istio.io/v1"
            ]
        );
    }

    /// Unknown fields are found whatever the version (the typed parse is the same).
    #[test]
    fn unknown_fields_at_every_served_version() {
        for v in ["v1alpha3", "v1beta1", "v1"] {
            let text = format!("apiVersion: networking.istio.io/{v}\n{VS}    timeoutt: 1s\n");
            match parse_str(Path::new("vs.yml"), &text) {
                Err(LoadError::UnknownField { path, .. }) => {
                    assert_eq!(path, "spec.http.0.timeoutt", "{v}");
                }
                other => panic!("{v}: {other:?}"),
            }
        }
        for v in ["v1beta1", "v1"] {
            let text = format!(
                "apiVersion: security.istio.io/{v}\nkind: PeerAuthentication\nmetadata: {{name: default}}\nspec:\n  mtls: {{mode: STRICT, strict: true}}\n"
            );
            match parse_str(Path::new("pa.yml"), &text) {
                Err(LoadError::UnknownField { path, .. }) => {
                    assert_eq!(path, "spec.mtls.strict", "{v}");
                }
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    fn refusal(api_version: &str, kind: &str) -> String {
        let text =
            format!("apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{}}\n");
        let err = parse_str(Path::new("x.yml"), &text).expect_err("refused");
        assert!(matches!(err, LoadError::UnknownKind { .. }), "{err:?}");
        err.to_string()
    }

    #[test]
    fn a_misspelt_kind_is_told_the_kind_it_was_meant_to_be() {
        assert_eq!(
            refusal("networking.istio.io/v1", "VirtualServis"),
            "x.yml: document 0: VirtualServis at apiVersion networking.istio.io/v1: no such kind; did you \
             mean kind: VirtualService?"
        );
        assert_eq!(
            refusal("networking.istio.io/v1", "DestinatonRule"),
            "x.yml: document 0: DestinatonRule at apiVersion networking.istio.io/v1: no such kind; did you \
             mean kind: DestinationRule?"
        );
        assert!(
            refusal("v1", "Banana")
                .contains("not a kind the local mesh or the manifest checks take")
        );
    }

    #[test]
    fn a_version_istio_does_not_serve_names_those_it_does() {
        assert_eq!(
            refusal("networking.istio.io/v2", "VirtualService"),
            "x.yml: document 0: VirtualService at apiVersion networking.istio.io/v2: Istio serves \
             VirtualService at networking.istio.io/v1, v1beta1 and v1alpha3 only: write apiVersion: \
             networking.istio.io/v1 (or v1beta1, v1alpha3)"
        );
        assert_eq!(
            refusal("security.istio.io/v1alpha1", "AuthorizationPolicy"),
            "x.yml: document 0: AuthorizationPolicy at apiVersion security.istio.io/v1alpha1: Istio \
             serves AuthorizationPolicy at security.istio.io/v1 and v1beta1 only: write apiVersion: \
             security.istio.io/v1 (or v1beta1)"
        );
        // A security kind written in the networking group: v1alpha3 is no security version.
        assert_eq!(
            refusal("networking.istio.io/v1alpha3", "PeerAuthentication"),
            "x.yml: document 0: PeerAuthentication at apiVersion networking.istio.io/v1alpha3: Istio \
             serves PeerAuthentication at security.istio.io/v1 and v1beta1 only: write apiVersion: \
             security.istio.io/v1 (or v1beta1)"
        );
        assert_eq!(
            refusal("apps/v1beta1", "Deployment"),
            "x.yml: document 0: Deployment at apiVersion apps/v1beta1: Deployment is taken at apps/v1 \
             only: write apiVersion: apps/v1"
        );
    }

    #[test]
    fn removed_apis_name_the_release_and_the_replacement() {
        assert_eq!(
            refusal("config.istio.io/v1alpha2", "handler"),
            "x.yml: document 0: handler at apiVersion config.istio.io/v1alpha2: Mixer configuration \
             (rules, handlers, instances, adapters, templates), removed with Mixer in Istio 1.8: the \
             sidecars report telemetry themselves (Telemetry, telemetry.istio.io), access control is an \
             AuthorizationPolicy (security.istio.io/v1) and custom adapters become Wasm extensions"
        );
        assert_eq!(
            refusal("config.istio.io/v1alpha2", "RouteRule"),
            "x.yml: document 0: RouteRule at apiVersion config.istio.io/v1alpha2: Istio's first routing \
             API (RouteRule, DestinationPolicy, EgressRule), replaced in Istio 0.8 by networking.istio.io: \
             write a VirtualService, DestinationRule or ServiceEntry (networking.istio.io/v1) instead"
        );
        assert_eq!(
            refusal("rbac.istio.io/v1alpha1", "ServiceRoleBinding"),
            "x.yml: document 0: ServiceRoleBinding at apiVersion rbac.istio.io/v1alpha1: Istio's alpha \
             RBAC API (ServiceRole, ServiceRoleBinding, RbacConfig, ClusterRbacConfig), removed in Istio \
             1.6: write an AuthorizationPolicy (security.istio.io/v1) instead"
        );
        assert_eq!(
            refusal("authentication.istio.io/v1alpha1", "MeshPolicy"),
            "x.yml: document 0: MeshPolicy at apiVersion authentication.istio.io/v1alpha1: Istio's alpha \
             authentication API (Policy, MeshPolicy), removed in Istio 1.6: write a PeerAuthentication \
             for mutual TLS and a RequestAuthentication for JWT (security.istio.io/v1) instead"
        );
        for kind in ["ServiceRole", "RbacConfig", "ClusterRbacConfig"] {
            assert!(
                refusal("rbac.istio.io/v1alpha1", kind).contains("removed in Istio 1.6"),
                "{kind}"
            );
        }
        for kind in [
            "rule",
            "instance",
            "adapter",
            "attributemanifest",
            "prometheus",
        ] {
            assert!(
                refusal("config.istio.io/v1alpha2", kind)
                    .contains("removed with Mixer in Istio 1.8"),
                "{kind}"
            );
        }
    }

    #[test]
    fn an_unknown_kind_lists_the_kinds_taken() {
        assert_eq!(
            refusal("example.com/v1", "Widget"),
            "x.yml: document 0: Widget at apiVersion example.com/v1: not a kind the \
             local mesh or the manifest checks take; they take Namespace, ServiceAccount, Service (v1), \
             Deployment (apps/v1), VirtualService, DestinationRule, ServiceEntry, Gateway, Sidecar \
             (networking.istio.io/v1, v1beta1, v1alpha3), PeerAuthentication, AuthorizationPolicy, \
             RequestAuthentication (security.istio.io/v1, v1beta1), Kustomization \
             (kustomize.config.k8s.io/v1beta1), Route (route.openshift.io/v1), ImageStream \
             (image.openshift.io/v1), BuildConfig (build.openshift.io/v1), ServiceMeshMemberRoll, \
             ServiceMeshMember (maistra.io/v1), ServiceMeshControlPlane (maistra.io/v2), Istio, IstioCNI \
             (sailoperator.io/v1)"
        );
        assert_eq!(
            refusal("networking.istio.io/v1", "virtualservice"),
            "x.yml: document 0: virtualservice at apiVersion networking.istio.io/v1: kinds are \
             case-sensitive: write kind: VirtualService"
        );
        // A kind the lab does not run, in another case: the spelling first, then what it is.
        assert_eq!(
            refusal("networking.istio.io/v1alpha3", "envoyfilter"),
            "x.yml: document 0: envoyfilter at apiVersion networking.istio.io/v1alpha3: kinds are \
             case-sensitive: write kind: EnvoyFilter"
        );
    }

    /// Served versions as the CRDs list them (`served: true`): Istio's `crd-all.gen.yaml`, the Gateway API's
    /// v1.6 CRDs.
    #[test]
    fn kinds_not_run_carry_the_versions_they_are_served_at() {
        let served = |kind: &str, group: &str| {
            NOT_RUN
                .iter()
                .find(|r| r.served.kind == kind && r.served.group == group)
                .map(|r| r.served.versions)
                .expect("in the table")
        };
        assert_eq!(served("EnvoyFilter", "networking.istio.io"), ["v1alpha3"]);
        assert_eq!(served("ProxyConfig", "networking.istio.io"), ["v1beta1"]);
        for kind in ["WorkloadEntry", "WorkloadGroup"] {
            assert_eq!(
                served(kind, "networking.istio.io"),
                ["v1", "v1beta1", "v1alpha3"]
            );
        }
        assert_eq!(
            served("Telemetry", "telemetry.istio.io"),
            ["v1", "v1alpha1"]
        );
        assert_eq!(served("WasmPlugin", "extensions.istio.io"), ["v1alpha1"]);
        for kind in ["GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"] {
            assert_eq!(served(kind, "gateway.networking.k8s.io"), ["v1", "v1beta1"]);
        }
        assert_eq!(served("GRPCRoute", "gateway.networking.k8s.io"), ["v1"]);
        assert_eq!(served("ConfigMap", ""), ["v1"]);
        assert_eq!(served("Ingress", "networking.k8s.io"), ["v1"]);
        // None of them is also a kind the lab runs, in the same group.
        for r in NOT_RUN {
            assert!(
                !KINDS
                    .iter()
                    .any(|k| k.kind == r.served.kind && k.group == r.served.group),
                "{r:?}"
            );
        }
    }

    /// docs/LOCAL-MESH.md's table of the kinds the lab does not run names each row of [`NOT_RUN`].
    #[test]
    fn the_docs_list_every_kind_not_run() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/LOCAL-MESH.md"
        ))
        .expect("docs/LOCAL-MESH.md");
        let start = doc
            .find("| kinds | served at | instead |")
            .expect("the table");
        let end = start + doc[start..].find("\n\n").expect("its end");
        let table = &doc[start..end];
        for r in NOT_RUN {
            assert!(
                table.lines().any(|l| l
                    .split('|')
                    .nth(1)
                    .is_some_and(|kinds| kinds.split(',').any(|k| k.trim() == r.served.kind))),
                "docs/LOCAL-MESH.md does not list {}",
                r.served.kind
            );
        }
    }

    #[test]
    fn a_kind_the_lab_does_not_run_is_refused_by_name_with_what_to_do() {
        assert_eq!(
            refusal("networking.istio.io/v1alpha3", "EnvoyFilter"),
            "x.yml: document 0: EnvoyFilter at apiVersion networking.istio.io/v1alpha3: Istio serves \
             EnvoyFilter at networking.istio.io/v1alpha3; the local mesh does not run it: apply it on a \
             cluster; the local mesh's Envoy configuration is what it translates from the routing objects \
             (mesh-lab show prints every proxy's routes)"
        );
        assert_eq!(
            refusal("networking.istio.io/v1", "WorkloadEntry"),
            "x.yml: document 0: WorkloadEntry at apiVersion networking.istio.io/v1: Istio serves \
             WorkloadEntry at networking.istio.io/v1, v1beta1 and v1alpha3; the local mesh does not run it: \
             apply it on a cluster; the local mesh's workloads are the tutorial's Deployments, and an \
             external host is a ServiceEntry (networking.istio.io/v1), which it runs"
        );
        assert_eq!(
            refusal("telemetry.istio.io/v1", "Telemetry"),
            "x.yml: document 0: Telemetry at apiVersion telemetry.istio.io/v1: Istio serves Telemetry at \
             telemetry.istio.io/v1 and v1alpha1; the local mesh does not run it: apply it on a cluster; the \
             local mesh's sidecars keep their access logs as they are (mesh-lab show counts the traffic from them)"
        );
        assert_eq!(
            refusal("extensions.istio.io/v1alpha1", "WasmPlugin"),
            "x.yml: document 0: WasmPlugin at apiVersion extensions.istio.io/v1alpha1: Istio serves \
             WasmPlugin at extensions.istio.io/v1alpha1; the local mesh does not run it: apply it on a \
             cluster; the local mesh's sidecars load no Wasm"
        );
        assert_eq!(
            refusal("networking.istio.io/v1beta1", "ProxyConfig"),
            "x.yml: document 0: ProxyConfig at apiVersion networking.istio.io/v1beta1: Istio serves \
             ProxyConfig at networking.istio.io/v1beta1; the local mesh does not run it: apply it on a cluster"
        );
        // Written in another group: where it is served, all the same.
        assert_eq!(
            refusal("networking.istio.io/v1alpha3", "Telemetry"),
            "x.yml: document 0: Telemetry at apiVersion networking.istio.io/v1alpha3: Istio serves \
             Telemetry at telemetry.istio.io/v1 and v1alpha1; the local mesh does not run it: apply it on a \
             cluster; the local mesh's sidecars keep their access logs as they are (mesh-lab show counts the traffic from them)"
        );
    }

    /// The Gateway API's Gateway shares its name with Istio's: its group decides, and it is told to write
    /// Istio's, not to change its version.
    #[test]
    fn the_gateway_api_is_told_to_write_istios_gateway_and_virtualservice() {
        assert_eq!(
            refusal("gateway.networking.k8s.io/v1", "Gateway"),
            "x.yml: document 0: Gateway at apiVersion gateway.networking.k8s.io/v1: the Kubernetes Gateway \
             API serves Gateway at gateway.networking.k8s.io/v1 and v1beta1; the local mesh does not run it: \
             write Istio's Gateway and a VirtualService bound to it (networking.istio.io/v1, as \
             kubernetes/app/customer-gateway.yml does), which the local mesh runs, or apply it on a cluster"
        );
        assert_eq!(
            refusal("gateway.networking.k8s.io/v1beta1", "HTTPRoute"),
            "x.yml: document 0: HTTPRoute at apiVersion gateway.networking.k8s.io/v1beta1: the Kubernetes \
             Gateway API serves HTTPRoute at gateway.networking.k8s.io/v1 and v1beta1; the local mesh does \
             not run it: write a VirtualService (networking.istio.io/v1), which the local mesh runs: bound \
             to Istio's Gateway for the ingress, without gateways for the mesh; or apply it on a cluster"
        );
        assert_eq!(
            refusal("gateway.networking.k8s.io/v1", "GRPCRoute"),
            "x.yml: document 0: GRPCRoute at apiVersion gateway.networking.k8s.io/v1: the Kubernetes \
             Gateway API serves GRPCRoute at gateway.networking.k8s.io/v1; the local mesh does not run it: \
             apply it on a cluster"
        );
        assert_eq!(
            refusal("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
            "x.yml: document 0: ReferenceGrant at apiVersion gateway.networking.k8s.io/v1beta1: the \
             Kubernetes Gateway API serves ReferenceGrant at gateway.networking.k8s.io/v1 and v1beta1; the \
             local mesh does not run it: apply it on a cluster; the local mesh plays one namespace, \
             tutorial, so nothing crosses namespaces"
        );
        // Istio's Gateway at a version Istio does not serve is still told its versions.
        assert!(
            refusal("networking.istio.io/v2", "Gateway").contains(
                "Istio serves Gateway at networking.istio.io/v1, v1beta1 and v1alpha3 only"
            )
        );
    }

    #[test]
    fn core_kinds_the_lab_does_not_run_say_what_it_runs_instead() {
        assert_eq!(
            refusal("networking.k8s.io/v1", "Ingress"),
            "x.yml: document 0: Ingress at apiVersion networking.k8s.io/v1: Kubernetes serves Ingress at \
             networking.k8s.io/v1; the local mesh does not run it: write Istio's Gateway and a \
             VirtualService bound to it (networking.istio.io/v1, as kubernetes/app/customer-gateway.yml \
             does), which the local mesh runs, or apply it on a cluster"
        );
        assert_eq!(
            refusal("networking.k8s.io/v1", "NetworkPolicy"),
            "x.yml: document 0: NetworkPolicy at apiVersion networking.k8s.io/v1: Kubernetes serves \
             NetworkPolicy at networking.k8s.io/v1; the local mesh does not run it: apply it on a cluster; \
             in the local mesh, who may call whom is an AuthorizationPolicy (security.istio.io/v1), which it \
             runs"
        );
        assert_eq!(
            refusal("v1", "ConfigMap"),
            "x.yml: document 0: ConfigMap at apiVersion v1: Kubernetes serves ConfigMap at v1; the local \
             mesh does not run it: the local mesh's sidecars read no ConfigMap; for the mesh-wide outbound mode \
             (the istio ConfigMap's outboundTrafficPolicy) run mesh-lab mode REGISTRY_ONLY or apply \
             istio/registry-only-ossm3-istio-patch.yml"
        );
        assert_eq!(
            refusal("v1", "Secret"),
            "x.yml: document 0: Secret at apiVersion v1: Kubernetes serves Secret at v1; the local mesh does \
             not run it: apply it on a cluster; the local gateway serves plain HTTP and the sidecars' \
             certificates come from the lab's own CA"
        );
    }
}
