//! The admission check's tests: field paths, refusals, and the repository's files.

use super::*;

fn p(s: &str) -> Vec<String> {
    s.split('.').map(str::to_owned).collect()
}

#[test]
fn patterns_match_indices_and_maps() {
    assert!(pattern_matches("spec.hosts.*", &p("spec.hosts.0")));
    assert!(!pattern_matches("spec.hosts.*", &p("spec.hosts")));
    assert!(pattern_matches("spec.labels.**", &p("spec.labels.app")));
    assert!(allowed(
        &["spec.http.*.route.*.weight"],
        &p("spec.http.0.route"),
        false
    ));
    assert!(!allowed(
        &["spec.http.*.route.*.weight"],
        &p("spec.http.0.match"),
        false
    ));
}

fn refusal(yaml: &str) -> String {
    let docs =
        mesh_manifests::parse_str(Path::new("istio/fixture.yml"), yaml).expect("fixture loads");
    check(&docs[0]).expect_err("refused").to_string()
}

#[test]
fn each_unsupported_field_is_refused_naming_file_object_and_field() {
    let cases = [
        (
            "DestinationRule subset-level trafficPolicy",
            "
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  subsets:
  - name: version-v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: RANDOM}}
",
            "spec.subsets.0.trafficPolicy",
        ),
        (
            "DestinationRule TLS",
            "
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
",
            "spec.trafficPolicy.tls",
        ),
        (
            "VirtualService header operations",
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - headers: {request: {set: {x-a: b}}}
    route:
    - destination: {host: recommendation}
",
            "spec.http.0.headers",
        ),
        (
            "VirtualService query parameter match",
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{queryParams: {a: {exact: b}}}]
    route:
    - destination: {host: recommendation}
",
            "spec.http.0.match.0.queryParams",
        ),
        (
            "VirtualService CORS",
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - corsPolicy: {allowOrigins: [{exact: x}]}
    route:
    - destination: {host: recommendation}
",
            "spec.http.0.corsPolicy",
        ),
        (
            "Gateway TLS server",
            "
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: customer-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ['*']
    tls: {mode: SIMPLE}
",
            "spec.servers.0.tls",
        ),
        (
            "PeerAuthentication portLevelMtls",
            "
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default}
spec:
  mtls: {mode: STRICT}
  portLevelMtls: {\"8080\": {mode: DISABLE}}
",
            "field spec.portLevelMtls is not supported",
        ),
        (
            "AuthorizationPolicy CUSTOM",
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: ext}
spec:
  action: CUSTOM
  provider: {name: my-ext-authz}
  rules: [{}]
",
            "CUSTOM",
        ),
        (
            "AuthorizationPolicy ipBlocks",
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: office}
spec:
  rules:
  - from:
    - source: {ipBlocks: [10.0.0.0/8]}
",
            "spec.rules.0.from.0.source.ipBlocks",
        ),
    ];
    for (why, yaml, field) in cases {
        let err = refusal(yaml);
        assert!(err.starts_with("istio/fixture.yml#0: "), "{why}: {err}");
        assert!(err.contains(field), "{why}: {err}");
    }
}

fn kind_of(kind: &str) -> &'static mesh_manifests::Kind {
    mesh_manifests::KINDS
        .iter()
        .find(|k| k.kind == kind)
        .unwrap_or_else(|| panic!("{kind} is not in mesh_manifests::KINDS"))
}

/// Every kind the lab names is a kind the loader takes, named once.
#[test]
fn the_lab_s_kinds_are_kinds_the_loader_takes() {
    let all: Vec<&str> = [RUNS, MESH_CONFIG, NOTED].concat();
    for kind in &all {
        kind_of(kind);
        assert_eq!(all.iter().filter(|k| *k == kind).count(), 1, "{kind}");
    }
}

/// The scope every refused field quotes names every kind the lab runs.
#[test]
fn the_scope_names_every_kind_the_lab_runs() {
    for kind in RUNS {
        assert!(SCOPE.contains(kind), "the scope leaves out {kind}: {SCOPE}");
    }
}

/// The repository's own files: what the lab runs is kept, the mesh-config files set the mesh mode, the
/// kinds noted are kept without effect, and every other kind the loader takes is refused naming what the
/// lab runs. Every kind of `KINDS` in the repository is seen.
#[test]
fn each_kind_of_the_repository_has_the_effect_its_list_says() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dirs = [
        "kubernetes",
        "istio",
        "customer/kubernetes",
        "preference/kubernetes",
        "recommendation/kubernetes",
    ]
    .map(|d| repo.join(d));
    let (docs, errors) = mesh_manifests::load_paths_collecting(dirs);
    assert!(errors.is_empty(), "{errors:?}");
    let mut seen = std::collections::BTreeSet::new();
    for doc in &docs {
        let kind = doc.resource.kind();
        seen.insert(kind);
        match check(doc) {
            Ok(Effect::Keep) => assert!(RUNS.contains(&kind), "{}: {kind}", doc.location()),
            Ok(Effect::MeshMode(_)) => {
                assert!(MESH_CONFIG.contains(&kind), "{}: {kind}", doc.location())
            }
            Ok(Effect::Noted(_)) => assert!(
                NOTED.contains(&kind) || MESH_CONFIG.contains(&kind),
                "{}: {kind}",
                doc.location()
            ),
            Err(e) => {
                assert!(![RUNS, MESH_CONFIG, NOTED].concat().contains(&kind), "{e}");
                assert!(e.message.contains(&RUNS.join(", ")), "{e}");
            }
        }
    }
    for kind in [RUNS, MESH_CONFIG, NOTED].concat() {
        assert!(seen.contains(kind), "no file of the repository is a {kind}");
    }
}
