//! The lab state's unit tests: apply's answers across apiVersions, the merge patch, delete's kinds.

use serde_json::json;

use super::{LabState, delete_kinds_help, kubectl_kind, merge_patch, parse_kind, plural};
use mesh_istiod::config::validation::kinds::{Does, LAB_KINDS, runs_kinds};

const VS: &str = "kind: VirtualService\nmetadata: {name: recommendation}\nspec:\n  hosts: [recommendation]\n  http:\n  - route:\n    - destination: {host: recommendation, subset: version-v2}\n";

fn apply(state: &mut LabState, api_version: &str) -> Vec<String> {
    let text = format!("apiVersion: {api_version}\n{VS}");
    let docs = mesh_manifests::parse_str(std::path::Path::new("vs.yml"), &text).unwrap();
    state.apply(&docs).unwrap()
}

/// One object whatever the version; re-applied at another version it is `configured` (kubectl's
/// last-applied-configuration changes), at the same version `unchanged`.
#[test]
fn the_same_object_at_another_api_version_is_configured() {
    let mut state = LabState::new();
    let lines: Vec<String> = [
        "networking.istio.io/v1beta1",
        "networking.istio.io/v1beta1",
        "networking.istio.io/v1alpha3",
        "networking.istio.io/v1",
        "networking.istio.io/v1",
    ]
    .into_iter()
    .flat_map(|v| apply(&mut state, v))
    .collect();
    assert_eq!(
        lines,
        [
            "virtualservice.networking.istio.io/recommendation created",
            "virtualservice.networking.istio.io/recommendation unchanged",
            "virtualservice.networking.istio.io/recommendation configured",
            "virtualservice.networking.istio.io/recommendation configured",
            "virtualservice.networking.istio.io/recommendation unchanged",
        ]
    );
    assert_eq!(state.objects.len(), 1);
    assert_eq!(state.objects[0].api_version, "networking.istio.io/v1");
}

#[test]
fn merge_patch_follows_rfc_7386() {
    let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
    merge_patch(
        &mut v,
        &json!({"a": {"b": null, "e": 3}, "d": [2], "f": "g"}),
    );
    assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [2], "f": "g"}));
}

/// `delete` takes every kind the lab runs, by name, plural, short name and kubectl's full name, and
/// nothing else; its help names each.
#[test]
fn delete_takes_every_kind_the_lab_runs_and_its_help_names_them() {
    for kind in runs_kinds() {
        let lower = kind.to_ascii_lowercase();
        for name in [
            kind.to_string(),
            lower.clone(),
            plural(&lower),
            kubectl_kind(kind),
        ] {
            assert_eq!(parse_kind(&name), Some(kind), "{name}");
        }
        assert!(delete_kinds_help().contains(&lower), "{kind}");
    }
    for k in LAB_KINDS {
        for short in k.short_names {
            let runs = matches!(k.does, Does::Runs { .. });
            assert_eq!(parse_kind(short), runs.then_some(k.kind), "{short}");
        }
    }
    assert_eq!(parse_kind("serviceentries"), Some("ServiceEntry"));
    assert_eq!(
        parse_kind("authorizationpolicies"),
        Some("AuthorizationPolicy")
    );
    for other in ["service", "namespace", "configmap", "kustomization"] {
        assert_eq!(parse_kind(other), None, "{other}");
    }
    assert_eq!(kubectl_kind("Deployment"), "deployment.apps");
    assert_eq!(
        kubectl_kind("AuthorizationPolicy"),
        "authorizationpolicy.security.istio.io"
    );
    assert_eq!(kubectl_kind("Service"), "service");
    assert_eq!(kubectl_kind("Istio"), "istio.sailoperator.io");
    for (name, kind) in [
        ("svc", "service"),
        ("services", "service"),
        ("sa", "serviceaccount"),
    ] {
        let err = LabState::new().delete(name, "customer").unwrap_err();
        assert!(
            err.starts_with(&format!(
                "error: {kind} \"customer\": the local mesh keeps "
            )) && err.ends_with("run this step on a cluster"),
            "{err}"
        );
    }
    let err = LabState::new().delete("cm", "x").unwrap_err();
    assert!(
        err.ends_with(
            "(the lab knows deployment, serviceentry, virtualservice, destinationrule, gateway, sidecar, \
             peerauthentication, authorizationpolicy, requestauthentication)"
        ),
        "{err}"
    );
}
