//! Typed structs for the kinds no type crate covers: kustomize's `Kustomization`, OpenShift's
//! `Route`, `ImageStream` and `BuildConfig`, Maistra (OpenShift Service Mesh 2) `ServiceMeshMemberRoll` / `ServiceMeshMember` /
//! `ServiceMeshControlPlane`, and Sail operator (OpenShift Service Mesh 3) `Istio` / `IstioCNI`.
//!
//! They cover only the fields this repository's files use, named and shaped as in OpenShift's API
//! (`route/v1`, `image/v1` and `build/v1` `types.go` of openshift/api). Unknown fields are still errors: the
//! loader reports every field a struct does not read (with its path) through `serde_ignored`.
//! The `ServiceMeshControlPlane` and `Istio` structs describe *merge patches* (applied with
//! `oc patch --type merge --patch-file`), so their `metadata` is optional.

use k8s_openapi::api::core::v1::{EnvVar, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

/// Mesh-wide outbound traffic policy mode, shared by the OSSM 2 and OSSM 3 patches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum OutboundMode {
    #[serde(rename = "ALLOW_ANY")]
    AllowAny,
    #[serde(rename = "REGISTRY_ONLY")]
    RegistryOnly,
}

/// `kustomize.config.k8s.io/v1beta1` `Kustomization` (kustomization.yaml).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Files or directories (holding their own kustomization.yaml), relative to this file's folder.
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub images: Vec<KustomizeImage>,
}

/// One entry of a kustomization's `images:` list.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeImage {
    pub name: String,
    #[serde(default)]
    pub new_name: Option<String>,
    #[serde(default)]
    pub new_tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// `route.openshift.io/v1` `Route`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: RouteSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default)]
    pub host: Option<String>,
    pub to: RouteTarget,
    #[serde(default)]
    pub port: Option<RoutePort>,
    #[serde(default)]
    pub tls: Option<RouteTls>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTarget {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub weight: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    pub target_port: IntOrString,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTls {
    pub termination: String,
    #[serde(default)]
    pub insecure_edge_termination_policy: Option<String>,
}

/// `image.openshift.io/v1` `ImageStream`: with `lookupPolicy.local`, a pod's `image: <name>:<tag>` in the
/// same namespace resolves to the stream's tag, so no registry host is named.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStream {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ImageStreamSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamSpec {
    #[serde(default)]
    pub lookup_policy: ImageLookupPolicy,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct ImageLookupPolicy {
    pub local: bool,
}

/// `build.openshift.io/v1` `BuildConfig` (the binary, docker-strategy form: `oc start-build --from-dir`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfig {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: BuildConfigSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfigSpec {
    #[serde(default)]
    pub run_policy: Option<String>,
    #[serde(default)]
    pub source: BuildSource,
    pub strategy: BuildStrategy,
    #[serde(default)]
    pub output: BuildOutput,
    #[serde(default)]
    pub resources: Option<k8s_openapi::api::core::v1::ResourceRequirements>,
    #[serde(default)]
    pub successful_builds_history_limit: Option<i32>,
    #[serde(default)]
    pub failed_builds_history_limit: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSource {
    /// `Binary`, `Git`, `Dockerfile`, ...
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(default)]
    pub binary: Option<BinaryBuildSource>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryBuildSource {
    #[serde(default)]
    pub as_file: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStrategy {
    /// `Docker`, `Source`, `Custom`, `JenkinsPipeline`.
    #[serde(rename = "type", default)]
    pub type_: Option<String>,
    #[serde(default)]
    pub docker_strategy: Option<DockerBuildStrategy>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerBuildStrategy {
    #[serde(default)]
    pub dockerfile_path: Option<String>,
    #[serde(default)]
    pub build_args: Vec<EnvVar>,
    #[serde(default)]
    pub no_cache: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct BuildOutput {
    /// Kind `ImageStreamTag` (name `<stream>:<tag>`) or `DockerImage`.
    #[serde(default)]
    pub to: Option<ObjectReference>,
}

/// `maistra.io/v1` `ServiceMeshMemberRoll` (OSSM 2: the namespaces in the mesh, named `default`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshMemberRoll {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceMeshMemberRollSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshMemberRollSpec {
    #[serde(default)]
    pub members: Vec<String>,
}

/// `maistra.io/v1` `ServiceMeshMember` (OSSM 2: one namespace joins, no cluster-admin needed).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshMember {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceMeshMemberSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshMemberSpec {
    pub control_plane_ref: ControlPlaneRef,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneRef {
    pub name: String,
    pub namespace: String,
}

/// `maistra.io/v2` `ServiceMeshControlPlane` merge patch: only
/// `spec.proxy.networking.trafficControl.outbound.policy`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMeshControlPlane {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    pub spec: SmcpSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SmcpSpec {
    pub proxy: SmcpProxy,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SmcpProxy {
    pub networking: SmcpNetworking,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmcpNetworking {
    pub traffic_control: SmcpTrafficControl,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct SmcpTrafficControl {
    pub outbound: SmcpOutbound,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct SmcpOutbound {
    pub policy: OutboundMode,
}

impl Default for SmcpOutbound {
    fn default() -> Self {
        Self {
            policy: OutboundMode::AllowAny,
        }
    }
}

/// `sailoperator.io/v1` `Istio` (OSSM 3 control plane). Used both as a full resource and as a merge
/// patch of `spec.values.meshConfig.outboundTrafficPolicy.mode`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Istio {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: Option<ObjectMeta>,
    pub spec: IstioSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioSpec {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub values: Option<IstioValues>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioValues {
    #[serde(default)]
    pub mesh_config: Option<IstioMeshConfig>,
    #[serde(default)]
    pub sidecar_injector_webhook: Option<SidecarInjectorWebhook>,
}

/// `spec.values.sidecarInjectorWebhook` of an `Istio`: the pods the injector skips whatever the webhook's
/// selectors say (Istio's `neverInjectSelector`; kubernetes/ossm3/control-plane.yml keeps build pods out).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarInjectorWebhook {
    #[serde(default)]
    pub never_inject_selector: Vec<InjectLabelSelector>,
}

/// A Kubernetes label selector as the injector reads it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectLabelSelector {
    #[serde(default)]
    pub match_labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<InjectLabelRequirement>,
}

/// One `matchExpressions` entry: `key`, `operator` (In, NotIn, Exists, DoesNotExist), `values`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct InjectLabelRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioMeshConfig {
    #[serde(default)]
    pub outbound_traffic_policy: Option<IstioOutboundTrafficPolicy>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct IstioOutboundTrafficPolicy {
    pub mode: OutboundMode,
}

/// `sailoperator.io/v1` `IstioCNI` (OSSM 3 needs one per cluster).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioCni {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: IstioCniSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IstioCniSpec {
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}
