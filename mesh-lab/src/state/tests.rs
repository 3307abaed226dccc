//! The lab state's unit tests: apply's answers across apiVersions, delete's kinds.

use super::{FileVerb, LabState, delete_kinds_help, kubectl_kind, parse_kind, plural};
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

const DR: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: recommendation}\nspec:\n  host: recommendation\n  subsets:\n  - name: version-v2\n    labels: {version: v2}\n";

/// `create`, `replace` and `delete -f` take each object of the file on its own, answering kubectl's line
/// for those they change and the API server's error, with the file, for the others.
#[test]
fn create_replace_and_delete_of_a_file_answer_each_object_as_kubectl() {
    let text = format!("{DR}---\napiVersion: networking.istio.io/v1\n{VS}");
    let docs = mesh_manifests::parse_str(std::path::Path::new("istio/x.yml"), &text).unwrap();
    let mut state = LabState::new();
    let mut run = |verb, docs: &[mesh_manifests::Document]| {
        let o = state.file_verb(verb, docs).unwrap();
        (o.lines, o.errors)
    };
    let dr = "destinationrule.networking.istio.io";
    let vs = "virtualservice.networking.istio.io";
    let drs = "destinationrules.networking.istio.io";
    let vss = "virtualservices.networking.istio.io";
    assert_eq!(
        run(FileVerb::Create, &docs[1..]),
        (vec![format!("{vs}/recommendation created")], vec![])
    );
    assert_eq!(
        run(FileVerb::Create, &docs),
        (
            vec![format!("{dr}/recommendation created")],
            vec![format!(
                "Error from server (AlreadyExists): error when creating \"istio/x.yml\": {vss} \"recommendation\" \
                 already exists"
            )]
        )
    );
    assert_eq!(
        run(FileVerb::Replace, &docs).0,
        [
            format!("{dr}/recommendation replaced"),
            format!("{vs}/recommendation replaced")
        ]
    );
    assert_eq!(
        run(FileVerb::Delete, &docs[..1]),
        (vec![format!("{dr} \"recommendation\" deleted")], vec![])
    );
    assert_eq!(
        run(FileVerb::Delete, &docs),
        (
            vec![format!("{vs} \"recommendation\" deleted")],
            vec![format!(
                "Error from server (NotFound): error when deleting \"istio/x.yml\": {drs} \"recommendation\" not found"
            )]
        )
    );
    assert_eq!(
        run(FileVerb::Replace, &docs[1..]).1,
        [format!(
            "Error from server (NotFound): error when replacing \"istio/x.yml\": {vss} \"recommendation\" not found"
        )]
    );
    assert_eq!(
        LabState::new().delete("se", "x").unwrap_err(),
        "Error from server (NotFound): serviceentries.networking.istio.io \"x\" not found"
    );
}
