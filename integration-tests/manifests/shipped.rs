//! The shipped manifests load, pass every rule except where a file is marked wrong on purpose, and
//! hold the exact objects the labs name (docs/EGRESS-LAB-OPENSHIFT.md, istio/README.md).
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mesh_manifests::k8s_openapi::api::apps::v1::Deployment;
use mesh_manifests::openshift::OutboundMode;
use mesh_manifests::{Document, Resource, Rule, WRONG_ON_PURPOSE};

use crate::support::{findings, repo, shipped};

fn deployment<'a>(docs: &'a [Document], name: &str) -> &'a Deployment {
    docs.iter()
        .find_map(|d| match &d.resource {
            Resource::Deployment(dep) if dep.metadata.name.as_deref() == Some(name) => Some(&**dep),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Deployment {name}"))
}

/// The single document of `file` (relative to the repository root).
fn only_doc<'a>(docs: &'a [Document], file: &str) -> &'a Resource {
    let path = repo().join(file);
    let found: Vec<&Resource> = docs
        .iter()
        .filter(|d| d.file == path)
        .map(|d| &d.resource)
        .collect();
    let [one] = found.as_slice() else {
        panic!(
            "{file} must hold exactly one document, holds {}",
            found.len()
        );
    };
    one
}

/// The loader takes every version Istio serves, but the repository's own files are applied on OSSM 2 too,
/// which does not serve v1 (OSSM 2.6 is Istio 1.20; v1 arrived in 1.22): they stay at v1beta1, which OSSM 2 and
/// 3 serve.
#[test]
fn shipped_istio_objects_are_at_v1beta1_which_ossm_2_and_3_serve() {
    let docs = shipped();

    let elsewhere: Vec<String> = docs
        .iter()
        .filter(|d| {
            let (group, version) = d.api_version.rsplit_once('/').unwrap_or(("", ""));
            group.ends_with(".istio.io") && version != "v1beta1"
        })
        .map(|d| format!("{} ({} {})", d.location(), d.resource, d.api_version))
        .collect();

    assert!(
        elsewhere.is_empty(),
        "Istio objects not at v1beta1:\n{}",
        elsewhere.join("\n")
    );
    assert!(
        docs.iter()
            .any(|d| d.api_version == "security.istio.io/v1beta1")
    );
}

#[test]
fn only_files_marked_wrong_on_purpose_are_reported() {
    // Arrange
    let docs = shipped();

    // Act
    let findings = findings(&docs);

    // Assert
    let unexpected: Vec<String> = findings
        .iter()
        .filter(|f| f.on_purpose.is_none())
        .map(ToString::to_string)
        .collect();
    assert!(
        unexpected.is_empty(),
        "shipped manifests break rules:\n{}",
        unexpected.join("\n")
    );
    let reported: BTreeSet<PathBuf> = findings.iter().map(|f| f.file.clone()).collect();
    let marked: BTreeSet<PathBuf> = docs
        .iter()
        .filter(|d| d.resource.annotations().contains_key(WRONG_ON_PURPOSE))
        .map(|d| d.file.clone())
        .collect();
    assert_eq!(
        reported, marked,
        "every marked file, and only those, must be reported"
    );
    let wrong_port = repo().join("istio/service-entry-egress-worldclockapi-wrong-port.yml");
    assert_eq!(marked, BTreeSet::from([wrong_port]));
    let [finding] = findings.as_slice() else {
        panic!("expected exactly one finding, got {findings:#?}");
    };
    assert_eq!(finding.rule, Rule::EgressPort);
    for part in [
        "port(s) [81]",
        "http://worldclockapi.com/api/json/cet/now (port 80)",
        "customer => Error: 503 - preference => Error: 500",
        "declaring port 80",
    ] {
        assert!(
            finding.message.contains(part),
            "trainer's explanation lacks `{part}`: {finding}"
        );
    }
}

#[test]
fn recommendation_v3_deployment_is_the_egress_labs() {
    let docs = shipped();
    let v3 = deployment(&docs, "recommendation-v3");
    let template = v3.spec.as_ref().unwrap().template.clone();
    let meta = template.metadata.unwrap();
    let labels = meta.labels.unwrap();
    assert_eq!(
        labels.get("app").map(String::as_str),
        Some("recommendation")
    );
    assert_eq!(labels.get("version").map(String::as_str), Some("v3"));
    assert_eq!(
        labels.get(mesh_manifests::INJECT_LABEL).map(String::as_str),
        Some("true")
    );
    let env: BTreeMap<String, Option<String>> = template.spec.unwrap().containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    assert_eq!(env["RECOMMENDATION_VERSION"].as_deref(), Some("v3"));
    assert_eq!(
        env["WORLDCLOCK_URL"].as_deref(),
        Some(mesh_manifests::contract::DEFAULT_WORLDCLOCK_URL)
    );
    let path = repo().join("recommendation/kubernetes/Deployment-v3.yml");
    assert!(
        docs.iter().any(|d| d.file == path),
        "the tutorial's command path must exist"
    );
}

#[test]
fn slow_v2_replaces_v2_and_sleeps_3s() {
    let docs = shipped();
    let Resource::Deployment(slow) =
        only_doc(&docs, "recommendation/kubernetes/Deployment-v2-timeout.yml")
    else {
        panic!("Deployment-v2-timeout.yml must hold exactly one Deployment");
    };
    assert_eq!(slow.metadata.name.as_deref(), Some("recommendation-v2"));
    let c = &slow
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let delay = c.env.iter().flatten().find(|e| e.name == "RESPONSE_DELAY");
    assert_eq!(delay.and_then(|e| e.value.as_deref()), Some("3s"));
}

#[test]
fn egress_lab_objects_are_exactly_the_specs() {
    let docs = shipped();
    for (file, port) in [
        (
            "istio/service-entry-egress-worldclockapi-wrong-port.yml",
            81,
        ),
        ("istio/service-entry-egress-worldclockapi.yml", 80),
    ] {
        let Resource::ServiceEntry(se) = only_doc(&docs, file) else {
            panic!("{file} must hold exactly one ServiceEntry");
        };
        assert_eq!(
            se.metadata.name.as_deref(),
            Some("worldclockapi-egress-rule"),
            "{file}"
        );
        assert_eq!(se.spec.hosts, ["worldclockapi.com"], "{file}");
        let ports: Vec<(String, i64, Option<String>)> = se
            .spec
            .ports
            .iter()
            .flatten()
            .map(|p| (p.name.clone(), p.number, p.protocol.clone()))
            .collect();
        assert_eq!(
            ports,
            [("http-80".to_owned(), port, Some("http".to_owned()))],
            "{file}"
        );
    }
    let Resource::VirtualService(vs) =
        only_doc(&docs, "istio/virtual-service-worldclockapi-timeout.yml")
    else {
        panic!("one VirtualService expected");
    };
    assert_eq!(vs.metadata.name.as_deref(), Some("worldclockapi-timeout"));
    assert_eq!(
        vs.spec.hosts.as_deref(),
        Some(&["worldclockapi.com".to_owned()][..])
    );
    let http = &vs.spec.http.as_ref().unwrap()[0];
    assert_eq!(http.timeout.as_deref(), Some("3s"));
    let route = &http.route.as_ref().unwrap()[0];
    assert_eq!(
        (route.destination.host.as_str(), route.weight),
        ("worldclockapi.com", Some(100))
    );
}

/// The REGISTRY_ONLY switch for each platform, each with a revert of the same object.
#[test]
fn registry_only_switches_have_reverts() {
    let docs = shipped();
    let mode_of = |file: &str| -> (String, Option<String>, OutboundMode) {
        let r = only_doc(&docs, file);
        let mode = match r {
            Resource::ServiceMeshControlPlane(p) => {
                p.spec.proxy.networking.traffic_control.outbound.policy
            }
            Resource::Istio(i) => i
                .spec
                .values
                .as_ref()
                .and_then(|v| v.mesh_config.as_ref())
                .and_then(|m| m.outbound_traffic_policy.as_ref())
                .map(|o| o.mode)
                .expect("mode"),
            Resource::Sidecar(s) => {
                use mesh_manifests::kcr_networking_istio_io::v1::sidecars::SidecarOutboundTrafficPolicyMode as M;
                match s
                    .spec
                    .outbound_traffic_policy
                    .as_ref()
                    .and_then(|o| o.mode.clone())
                {
                    Some(M::RegistryOnly) => OutboundMode::RegistryOnly,
                    Some(M::AllowAny) => OutboundMode::AllowAny,
                    None => panic!("{file}: no mode"),
                }
            }
            other => panic!("{file}: unexpected {other}"),
        };
        (r.kind().to_owned(), r.name().map(str::to_owned), mode)
    };
    for (on, off) in [
        (
            "istio/registry-only-ossm2-smcp-patch.yml",
            "istio/allow-any-ossm2-smcp-patch.yml",
        ),
        (
            "istio/registry-only-ossm3-istio-patch.yml",
            "istio/allow-any-ossm3-istio-patch.yml",
        ),
        (
            "istio/sidecar-registry-only.yml",
            "istio/sidecar-allow-any.yml",
        ),
    ] {
        let (kind_on, name_on, mode_on) = mode_of(on);
        let (kind_off, name_off, mode_off) = mode_of(off);
        assert_eq!(
            (kind_on, name_on),
            (kind_off, name_off),
            "{off} must revert the object {on} changes"
        );
        assert_eq!(
            (mode_on, mode_off),
            (OutboundMode::RegistryOnly, OutboundMode::AllowAny),
            "{on} / {off}"
        );
    }
}

/// Every pod runs under its service's account: the security labs name `cluster.local/ns/tutorial/sa/<svc>`.
#[test]
fn each_service_has_its_service_account_and_service() {
    let docs = shipped();
    for svc in ["customer", "preference", "recommendation"] {
        let has = |kind: &str| {
            docs.iter()
                .any(|d| d.resource.kind() == kind && d.resource.name() == Some(svc))
        };
        assert!(has("ServiceAccount"), "ServiceAccount {svc}");
        assert!(has("Service"), "Service {svc}");
    }
    for name in [
        "customer",
        "preference-v1",
        "recommendation-v1",
        "recommendation-v2",
        "recommendation-v3",
    ] {
        deployment(&docs, name);
    }
}
