//! One broken fixture per rule (integration-tests/fixtures/manifests/), each validated together with the shipped
//! manifests: exactly the listed findings must come out for the fixture file.
use mesh_manifests::{LoadError, Rule, load_file};

use crate::support::{findings_with_fixture, fixture};

struct Case {
    fixture: &'static str,
    reason: &'static str,
    /// (rule, document index, text the message must contain), in report order.
    expected: &'static [(Rule, usize, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        fixture: "host-unresolved.yml",
        reason: "a misspelt destination host resolves to nothing",
        expected: &[(
            Rule::HostResolves,
            0,
            "route host `recomendation` is no Service and no ServiceEntry host",
        )],
    },
    Case {
        fixture: "subset-undefined.yml",
        reason: "a subset no DestinationRule defines",
        expected: &[(
            Rule::SubsetDefined,
            0,
            "route subset `version-v4` of host `recommendation` is defined by no DestinationRule",
        )],
    },
    Case {
        fixture: "subset-selects-nothing.yml",
        reason: "a subset whose labels match no pod",
        expected: &[(
            Rule::SubsetSelects,
            0,
            "subset `version-v7` (labels {\"app\": \"recommendation\", \"version\": \"v7\"}) selects no Deployment's pods",
        )],
    },
    Case {
        fixture: "service-selects-nothing.yml",
        reason: "a Service selecting no pod, with an unnamed port",
        expected: &[
            (
                Rule::ServiceSelects,
                0,
                "selector {\"app\": \"recommendations\"} selects no Deployment's pods",
            ),
            (Rule::HttpPort, 0, "port 8080 is named ``"),
        ],
    },
    Case {
        fixture: "port-unnamed.yml",
        reason: "port 8080 named web instead of http",
        expected: &[(
            Rule::HttpPort,
            0,
            "container recommendation does not declare port 8080 named `http`",
        )],
    },
    Case {
        fixture: "env-not-in-contract.yml",
        reason: "an env var outside the configuration contract",
        expected: &[(
            Rule::EnvContract,
            0,
            "sets `PREFERENCE_ULR`, which is not a variable of the configuration contract",
        )],
    },
    Case {
        fixture: "pod-insecure.yml",
        reason: "restricted-v2 violations",
        expected: &[
            (Rule::PodSecurity, 0, "pod securityContext sets runAsUser"),
            (
                Rule::PodSecurity,
                0,
                "capabilities.drop does not include ALL",
            ),
            (Rule::PodSecurity, 0, "readOnlyRootFilesystem is not true"),
            (
                Rule::PodSecurity,
                0,
                "memory limit 1Gi is not a few tens of MiB",
            ),
            (Rule::PodSecurity, 0, "livenessProbe is an exec probe"),
            (
                Rule::AppPod,
                0,
                "livenessProbe is not httpGet /health/live on port http",
            ),
        ],
    },
    Case {
        fixture: "app-pod-incomplete.yml",
        reason: "an app pod without inject label, with the API token, no pod-name HOSTNAME, its own account, drain time",
        expected: &[
            (Rule::AppPod, 0, "HOSTNAME does not come from the pod name"),
            (
                Rule::AppPod,
                0,
                "pod label `sidecar.istio.io/inject: \"true\"` missing (OSSM 3 injects by label only)",
            ),
            (Rule::AppPod, 0, "automountServiceAccountToken is not false"),
            (
                Rule::AppPod,
                0,
                "serviceAccountName must equal the `app` label",
            ),
            (
                Rule::AppPod,
                0,
                "terminationGracePeriodSeconds must exceed SHUTDOWN_TIMEOUT (10s)",
            ),
        ],
    },
    Case {
        fixture: "service-entry-host-mismatch.yml",
        reason: "the egress ServiceEntry names another host than v3's WORLDCLOCK_URL",
        expected: &[(
            Rule::EgressHost,
            0,
            "hosts [\"worldclockapi.org\"] do not include the host recommendation v3 calls ([\"worldclockapi.com\"])",
        )],
    },
    Case {
        fixture: "service-entry-wrong-port-unmarked.yml",
        reason: "a wrong port without the marker is a real mistake",
        expected: &[(
            Rule::EgressPort,
            0,
            "declares worldclockapi.com on port(s) [8080], but recommendation v3 calls http://worldclockapi.com/api/json/cet/now (port 80)",
        )],
    },
    Case {
        fixture: "marker-without-mistake.yml",
        reason: "a marker on a correct file is stale",
        expected: &[(
            Rule::MarkerWithoutMistake,
            0,
            "is marked `istio-tutorial-rs/wrong-on-purpose` but no rule finds anything wrong with it",
        )],
    },
    Case {
        fixture: "kustomize-broken/kustomization.yaml",
        reason: "a kustomization with a missing file, a plain directory and an unlisted image",
        expected: &[
            (Rule::Kustomize, 0, "resource `missing.yml` listed in"),
            (Rule::Kustomize, 0, "resource `not-a-kustomization` ("),
            (
                Rule::Kustomize,
                0,
                "image `customer:0.1.0` of Deployment customer",
            ),
        ],
    },
    Case {
        fixture: "image-unresolved.yml",
        reason: "an unpinned tag no build makes, and an ImageStream without local lookup",
        expected: &[
            (
                Rule::Image,
                0,
                "container recommendation: image `recommendation:latest` has no pinned tag",
            ),
            (
                Rule::Image,
                0,
                "no BuildConfig outputs to ImageStreamTag `recommendation:latest`",
            ),
            (
                Rule::Image,
                1,
                "ImageStream recommendation-nightly has no `lookupPolicy.local: true`",
            ),
        ],
    },
];

#[test]
fn each_broken_fixture_fails_its_rule_and_only_it() {
    for case in CASES {
        // Arrange
        let file = fixture(case.fixture);

        // Act
        let findings = findings_with_fixture(&file);

        // Assert
        let got: Vec<(Rule, usize, String)> = findings
            .iter()
            .map(|f| (f.rule, f.index, f.message.clone()))
            .collect();
        assert_eq!(
            got.len(),
            case.expected.len(),
            "{} ({}): got {got:#?}",
            case.fixture,
            case.reason
        );
        for ((rule, index, message), (want_rule, want_index, part)) in got.iter().zip(case.expected)
        {
            assert_eq!(
                (rule, index),
                (want_rule, want_index),
                "{} ({})",
                case.fixture,
                case.reason
            );
            assert!(
                message.contains(part),
                "{} ({}): `{message}` lacks `{part}`",
                case.fixture,
                case.reason
            );
        }
        assert!(
            findings
                .iter()
                .all(|f| f.on_purpose.is_none() || case.fixture.starts_with("marker"))
        );
    }
}

#[test]
fn unknown_field_names_file_document_and_path() {
    let file = fixture("unknown-field.yml");

    let err = load_file(&file).expect_err("`subset:` is not a DestinationRule field");

    match &err {
        LoadError::UnknownField {
            file: f,
            index,
            kind,
            path,
            line,
            did_you_mean,
        } => {
            assert_eq!(
                (f, *index, kind.as_str(), path.as_str()),
                (&file, 1, "DestinationRule", "spec.subset")
            );
            assert_eq!(
                (*line, did_you_mean.as_deref()),
                (Some(21), Some("subsets"))
            );
        }
        other => panic!("expected UnknownField, got {other:?}"),
    }
    assert!(
        err.to_string().ends_with(
            "unknown-field.yml: document 1 (DestinationRule): unknown field `spec.subset` (line 21); \
             did you mean `subsets`?"
        ),
        "{err}"
    );
}

#[test]
fn unknown_kind_is_an_error_naming_the_file() {
    let file = fixture("unknown-kind.yml");

    let err = load_file(&file).expect_err("VirtualServise is no kind");

    assert!(
        matches!(&err, LoadError::UnknownKind { file: f, index: 0, refusal } if *f == file && refusal.kind() == "VirtualServise"),
        "{err:?}"
    );
    assert!(
        err.to_string().ends_with(
            "unknown-kind.yml: document 0: VirtualServise at apiVersion networking.istio.io/v1beta1: \
             no such kind; did you mean kind: VirtualService?"
        ),
        "{err}"
    );
}

/// Istio serves networking.istio.io v1, v1beta1 and v1alpha3 with one schema: the checks take each.
#[test]
fn every_networking_version_istio_serves_loads() {
    for version in ["v1", "v1beta1", "v1alpha3"] {
        let text = format!(
            "apiVersion: networking.istio.io/{version}\nkind: VirtualService\nmetadata:\n  name: x\nspec: {{}}\n"
        );

        let docs = mesh_manifests::parse_str(std::path::Path::new("inline.yml"), &text)
            .unwrap_or_else(|e| panic!("{version}: {e}"));

        assert_eq!(
            docs[0].api_version,
            format!("networking.istio.io/{version}")
        );
    }
}

#[test]
fn unknown_field_in_a_core_kind_is_found_too() {
    let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selector:\n    app: x\n  ports:\n  - name: http\n    port: 8080\n    targetPortt: 8080\n";

    let err = mesh_manifests::parse_str(std::path::Path::new("inline.yml"), text)
        .expect_err("targetPortt is a typo");

    assert!(
        matches!(&err, LoadError::UnknownField { index: 0, path, .. } if path == "spec.ports.0.targetPortt"),
        "{err:?}"
    );
}
