//! One parsed YAML document and the closed set of kinds the repository may contain.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kcr_networking_istio_io::v1beta1::{
    destinationrules::DestinationRule, gateways::Gateway, serviceentries::ServiceEntry,
    sidecars::Sidecar, virtualservices::VirtualService,
};
use kcr_security_istio_io::v1beta1::{
    authorizationpolicies::AuthorizationPolicy, peerauthentications::PeerAuthentication,
    requestauthentications::RequestAuthentication,
};

use crate::openshift;

/// One YAML document of one file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The file as it was given to the loader (joined with the directory when a directory was walked).
    pub file: PathBuf,
    /// 0-based position in the file's document stream (empty documents count too).
    pub index: usize,
    pub resource: Resource,
}

impl Document {
    /// `file#index`, how findings and errors name a document.
    pub fn location(&self) -> String {
        format!("{}#{}", self.file.display(), self.index)
    }
}

/// Every kind the repository's manifests may contain, typed. Anything else fails to load.
#[derive(Clone, Debug, PartialEq)]
pub enum Resource {
    Namespace(Box<Namespace>),
    ServiceAccount(Box<ServiceAccount>),
    Deployment(Box<Deployment>),
    Service(Box<Service>),
    VirtualService(Box<VirtualService>),
    DestinationRule(Box<DestinationRule>),
    ServiceEntry(Box<ServiceEntry>),
    Gateway(Box<Gateway>),
    Sidecar(Box<Sidecar>),
    PeerAuthentication(Box<PeerAuthentication>),
    AuthorizationPolicy(Box<AuthorizationPolicy>),
    RequestAuthentication(Box<RequestAuthentication>),
    Kustomization(Box<openshift::Kustomization>),
    Route(Box<openshift::Route>),
    ServiceMeshMemberRoll(Box<openshift::ServiceMeshMemberRoll>),
    ServiceMeshMember(Box<openshift::ServiceMeshMember>),
    ServiceMeshControlPlane(Box<openshift::ServiceMeshControlPlane>),
    Istio(Box<openshift::Istio>),
    IstioCni(Box<openshift::IstioCni>),
}

/// `(apiVersion, kind)` of every accepted kind, in the order the loader tries them.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("v1", "Namespace"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("networking.istio.io/v1beta1", "VirtualService"),
    ("networking.istio.io/v1beta1", "DestinationRule"),
    ("networking.istio.io/v1beta1", "ServiceEntry"),
    ("networking.istio.io/v1beta1", "Gateway"),
    ("networking.istio.io/v1beta1", "Sidecar"),
    ("security.istio.io/v1beta1", "PeerAuthentication"),
    ("security.istio.io/v1beta1", "AuthorizationPolicy"),
    ("security.istio.io/v1beta1", "RequestAuthentication"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ("route.openshift.io/v1", "Route"),
    ("maistra.io/v1", "ServiceMeshMemberRoll"),
    ("maistra.io/v1", "ServiceMeshMember"),
    ("maistra.io/v2", "ServiceMeshControlPlane"),
    ("sailoperator.io/v1", "Istio"),
    ("sailoperator.io/v1", "IstioCNI"),
];

impl Resource {
    /// The `kind` as written in YAML.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Namespace(_) => "Namespace",
            Resource::ServiceAccount(_) => "ServiceAccount",
            Resource::Deployment(_) => "Deployment",
            Resource::Service(_) => "Service",
            Resource::VirtualService(_) => "VirtualService",
            Resource::DestinationRule(_) => "DestinationRule",
            Resource::ServiceEntry(_) => "ServiceEntry",
            Resource::Gateway(_) => "Gateway",
            Resource::Sidecar(_) => "Sidecar",
            Resource::PeerAuthentication(_) => "PeerAuthentication",
            Resource::AuthorizationPolicy(_) => "AuthorizationPolicy",
            Resource::RequestAuthentication(_) => "RequestAuthentication",
            Resource::Kustomization(_) => "Kustomization",
            Resource::Route(_) => "Route",
            Resource::ServiceMeshMemberRoll(_) => "ServiceMeshMemberRoll",
            Resource::ServiceMeshMember(_) => "ServiceMeshMember",
            Resource::ServiceMeshControlPlane(_) => "ServiceMeshControlPlane",
            Resource::Istio(_) => "Istio",
            Resource::IstioCni(_) => "IstioCNI",
        }
    }

    /// The object's metadata; `None` for a kustomization and for merge patches written without one.
    pub fn metadata(&self) -> Option<&ObjectMeta> {
        Some(match self {
            Resource::Namespace(r) => &r.metadata,
            Resource::ServiceAccount(r) => &r.metadata,
            Resource::Deployment(r) => &r.metadata,
            Resource::Service(r) => &r.metadata,
            Resource::VirtualService(r) => &r.metadata,
            Resource::DestinationRule(r) => &r.metadata,
            Resource::ServiceEntry(r) => &r.metadata,
            Resource::Gateway(r) => &r.metadata,
            Resource::Sidecar(r) => &r.metadata,
            Resource::PeerAuthentication(r) => &r.metadata,
            Resource::AuthorizationPolicy(r) => &r.metadata,
            Resource::RequestAuthentication(r) => &r.metadata,
            Resource::Kustomization(_) => return None,
            Resource::Route(r) => &r.metadata,
            Resource::ServiceMeshMemberRoll(r) => &r.metadata,
            Resource::ServiceMeshMember(r) => &r.metadata,
            Resource::ServiceMeshControlPlane(r) => return r.metadata.as_ref(),
            Resource::Istio(r) => return r.metadata.as_ref(),
            Resource::IstioCni(r) => &r.metadata,
        })
    }

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
