//! One parsed YAML document and the closed set of kinds the repository may contain.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Namespace, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kcr_networking_istio_io::v1::{
    destinationrules::DestinationRule, gateways::Gateway, serviceentries::ServiceEntry,
    sidecars::Sidecar, virtualservices::VirtualService,
};
use kcr_security_istio_io::v1::{
    authorizationpolicies::AuthorizationPolicy, peerauthentications::PeerAuthentication,
    requestauthentications::RequestAuthentication,
};

use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::api::Kind;
use crate::openshift;

/// One YAML document of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file as it was given to the loader (joined with the directory when a directory was walked).
    pub file: PathBuf,
    /// 0-based position in the file's document stream (empty documents count too).
    pub index: usize,
    /// The `apiVersion` the document was written at, one of those the kinds' table lists for its kind
    /// (the typed [`Resource`] is the same at each).
    pub api_version: String,
    pub resource: Resource,
}

impl Document {
    /// `file#index`, how findings and errors name a document.
    pub fn location(&self) -> String {
        format!("{}#{}", self.file.display(), self.index)
    }
}

/// The one table of accepted kinds: `Variant(Type) "group" ["version", …] "kind" metadata`, where the
/// versions are every version the kind is taken at, the one to write first (an Istio kind: every version
/// Istio serves it at; they share one schema, so one type parses them all), and metadata says how the
/// object holds its `ObjectMeta` (`required`, `optional` for merge patches, `none`). It generates
/// [`Resource`], its `kind()` and `metadata()`, the loader's dispatch and [`KINDS`].
macro_rules! resources {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) $group:literal [$($version:literal),+] $kind:literal $meta:ident, )*) => {
        /// Every kind the repository's manifests may contain, typed. Anything else fails to load.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Resource {
            $( $(#[$doc])* $variant(Box<$ty>), )*
        }

        /// Every accepted kind and the apiVersions it is accepted at.
        pub const KINDS: &[Kind] = &[$( Kind { kind: $kind, group: $group, versions: &[$($version),+] }, )*];

        impl Resource {
            /// The `kind` as written in YAML.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Resource::$variant(_) => $kind, )*
                }
            }

            /// The object's metadata; `None` for a kustomization and for merge patches written without one.
            pub fn metadata(&self) -> Option<&ObjectMeta> {
                match self {
                    $( Resource::$variant(r) => resources!(@meta $meta r), )*
                }
            }

            /// Parse `value` as `kind` (its apiVersion already checked against [`KINDS`]); `None` when no
            /// kind of that name is accepted.
            pub(crate) fn from_value<P: Parse>(
                parse: &P,
                kind: &str,
                value: Value,
            ) -> Option<Result<Resource, P::Error>> {
                match kind {
                    $( $kind => Some(parse.typed::<$ty>(value).map(Resource::$variant)), )*
                    _ => None,
                }
            }
        }
    };
    (@meta required $r:ident) => { Some(&$r.metadata) };
    (@meta optional $r:ident) => { $r.metadata.as_ref() };
    (@meta none $r:ident) => { { let _ = $r; None } };
}

/// How the loader turns one document into a typed object (unknown fields are errors there).
pub(crate) trait Parse {
    type Error;
    fn typed<T: DeserializeOwned>(&self, value: Value) -> Result<Box<T>, Self::Error>;
}

resources! {
    Namespace(Namespace) "" ["v1"] "Namespace" required,
    ServiceAccount(ServiceAccount) "" ["v1"] "ServiceAccount" required,
    Service(Service) "" ["v1"] "Service" required,
    Deployment(Deployment) "apps" ["v1"] "Deployment" required,
    VirtualService(VirtualService) "networking.istio.io" ["v1", "v1beta1", "v1alpha3"] "VirtualService" required,
    DestinationRule(DestinationRule) "networking.istio.io" ["v1", "v1beta1", "v1alpha3"] "DestinationRule" required,
    ServiceEntry(ServiceEntry) "networking.istio.io" ["v1", "v1beta1", "v1alpha3"] "ServiceEntry" required,
    Gateway(Gateway) "networking.istio.io" ["v1", "v1beta1", "v1alpha3"] "Gateway" required,
    Sidecar(Sidecar) "networking.istio.io" ["v1", "v1beta1", "v1alpha3"] "Sidecar" required,
    PeerAuthentication(PeerAuthentication) "security.istio.io" ["v1", "v1beta1"] "PeerAuthentication" required,
    AuthorizationPolicy(AuthorizationPolicy) "security.istio.io" ["v1", "v1beta1"] "AuthorizationPolicy" required,
    RequestAuthentication(RequestAuthentication) "security.istio.io" ["v1", "v1beta1"] "RequestAuthentication" required,
    Kustomization(openshift::Kustomization) "kustomize.config.k8s.io" ["v1beta1"] "Kustomization" none,
    Route(openshift::Route) "route.openshift.io" ["v1"] "Route" required,
    ImageStream(openshift::ImageStream) "image.openshift.io" ["v1"] "ImageStream" required,
    BuildConfig(openshift::BuildConfig) "build.openshift.io" ["v1"] "BuildConfig" required,
    ServiceMeshMemberRoll(openshift::ServiceMeshMemberRoll) "maistra.io" ["v1"] "ServiceMeshMemberRoll" required,
    ServiceMeshMember(openshift::ServiceMeshMember) "maistra.io" ["v1"] "ServiceMeshMember" required,
    ServiceMeshControlPlane(openshift::ServiceMeshControlPlane) "maistra.io" ["v2"] "ServiceMeshControlPlane" optional,
    Istio(openshift::Istio) "sailoperator.io" ["v1"] "Istio" optional,
    IstioCni(openshift::IstioCni) "sailoperator.io" ["v1"] "IstioCNI" required,
}

impl Resource {
    /// `metadata.name`, when there is one.
    pub fn name(&self) -> Option<&str> {
        self.metadata()?.name.as_deref()
    }

    /// `metadata.annotations` (empty when absent).
    pub fn annotations(&self) -> BTreeMap<String, String> {
        self.metadata()
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default()
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.name().unwrap_or("(unnamed)"))
    }
}

/// The containers of a Deployment's pod template (init containers aside).
pub fn containers(dep: &Deployment) -> impl Iterator<Item = &Container> {
    dep.spec
        .iter()
        .flat_map(|s| s.template.spec.iter())
        .flat_map(|p| p.containers.iter())
}
