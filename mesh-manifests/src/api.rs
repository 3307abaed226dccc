//! Which apiVersions each kind is taken at, and what a document of any other apiVersion/kind is told.
//!
//! The kinds and their apiVersions are the table in `resource.rs` ([`crate::KINDS`]). Istio serves every
//! networking kind at `networking.istio.io` v1, v1beta1 and v1alpha3, and every security kind at
//! `security.istio.io` v1 and v1beta1, with one schema per kind (Istio's CRDs,
//! `manifests/charts/base/files/crd-all.gen.yaml`, carry the same schema under each version), so a document
//! of any of them is parsed into the same typed object. A refusal speaks the learner's language: what the
//! document says, what is taken instead, and what to write; Istio's removed APIs ([`REMOVED`]) name the
//! release that removed them and what replaced them.

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
    /// No kind of that name is taken; `spelled` is the kind it matches but for case.
    Kind {
        api_version: String,
        kind: String,
        spelled: Option<&'static Kind>,
    },
}

impl Refusal {
    /// Whether `(api_version, kind)` is taken: the table's row, or why not.
    pub fn check(api_version: &str, kind: &str) -> Result<&'static Kind, Refusal> {
        let (a, k) = (api_version.to_owned(), kind.to_owned());
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
        Err(Refusal::Kind {
            api_version: a,
            kind: k,
            spelled: crate::KINDS
                .iter()
                .find(|r| r.kind.eq_ignore_ascii_case(kind)),
        })
    }

    pub fn api_version(&self) -> &str {
        match self {
            Refusal::Version { api_version, .. }
            | Refusal::Removed { api_version, .. }
            | Refusal::Kind { api_version, .. } => api_version,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Refusal::Version { kind, .. }
            | Refusal::Removed { kind, .. }
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
            Refusal::Kind {
                spelled: Some(row), ..
            } => write!(f, "kinds are case-sensitive: write kind: {}", row.kind),
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
            refusal("networking.istio.io/v1alpha3", "EnvoyFilter"),
            "x.yml: document 0: EnvoyFilter at apiVersion networking.istio.io/v1alpha3: not a kind the \
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
    }
}
