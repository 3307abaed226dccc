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
            "DestinationRule subset-level portLevelSettings",
            "
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  subsets:
  - name: version-v1
    labels: {version: v1}
    trafficPolicy: {portLevelSettings: [{port: {number: 8080}, loadBalancer: {simple: RANDOM}}]}
",
            "spec.subsets.0.trafficPolicy.portLevelSettings",
        ),
        (
            "DestinationRule TLS",
            "
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL, subjectAltNames: [x]}}
",
            "spec.trafficPolicy.tls.subjectAltNames",
        ),
        (
            "VirtualService direct response",
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - directResponse: {status: 503}
",
            "spec.http.0.directResponse",
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
            "VirtualService CORS with the deprecated allowOrigin (allowOrigins is translated)",
            "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - corsPolicy: {allowOrigin: [x]}
    route:
    - destination: {host: recommendation}
",
            "spec.http.0.corsPolicy.allowOrigin",
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
            "Gateway servers on two ports",
            "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: customer-gateway}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ['*']
",
            "spec.servers.1.port.number 8080: the local gateway serves one port",
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

/// A Gateway selecting another workload is taken, as the API server takes it (it then configures nothing).
#[test]
fn a_gateway_selecting_another_workload_is_accepted() {
    let yaml = "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other-gateway}
spec:
  selector: {istio: my-ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [customer.example.com]
";
    let docs = mesh_manifests::parse_str(Path::new("istio/fixture.yml"), yaml).unwrap();
    assert!(matches!(check(&docs[0]), Ok(Effect::Keep)));
}

/// The repository's own files: each kind has the effect the table says — what the lab runs is kept, the
/// mesh-config files set the mesh mode, the kinds noted are kept with their note, and every other kind the
/// loader takes is refused naming what the lab runs, with the table's fix. Every kind the lab takes is seen.
#[test]
fn each_kind_of_the_repository_has_the_effect_the_table_says() {
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
        match (kinds::does(kind), check(doc)) {
            (Does::Runs { .. }, Ok(Effect::Keep)) => {}
            (Does::MeshConfig { .. }, Ok(Effect::MeshMode(_) | Effect::Noted(_))) => {}
            (Does::Notes { note }, Ok(Effect::Noted(n))) => {
                assert_eq!(n, note, "{}", doc.location())
            }
            (Does::Refuses { fix }, Err(e)) => {
                assert!(e.message.ends_with(fix), "{e}");
                for run in kinds::runs_kinds() {
                    assert!(e.message.contains(run), "{e}");
                }
            }
            (does, effect) => panic!("{}: {kind} {does:?}, but {effect:?}", doc.location()),
        }
    }
    for k in kinds::LAB_KINDS {
        if !matches!(k.does, Does::Refuses { .. }) {
            assert!(
                seen.contains(k.kind),
                "no file of the repository is a {}",
                k.kind
            );
        }
    }
}

#[test]
fn an_object_exported_away_from_the_labs_namespace_is_refused_and_one_exported_to_it_taken() {
    let dr = |export: &str| {
        format!(
            "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {{name: recommendation}}
spec:
  host: recommendation
  exportTo: {export}
  subsets:
  - name: v1
    labels: {{version: v1}}
"
        )
    };
    assert_eq!(
        refusal(&dr("[other]")),
        "istio/fixture.yml#0: DestinationRule recommendation: spec.exportTo [\"other\"]: this hides \
         the object from namespace \"tutorial\", where every proxy of the lab is, so istiod would apply it to \
         none of them; export it to \".\" or \"*\", or remove exportTo"
    );
    assert!(refusal(&dr("['~']")).contains("spec.exportTo [\"~\"]"));
    for ok in ["['.']", "['*']", "[tutorial]", "[other, '.']"] {
        let docs = mesh_manifests::parse_str(Path::new("x.yml"), &dr(ok)).unwrap();
        assert_eq!(check(&docs[0]), Ok(Effect::Keep), "{ok}");
    }
}

/// A misspelt protocol is named as such (istiod: `unsupported protocol`), not as a protocol outside the
/// lab's scope; a real one the lab does not serve still gets the scope's words.
#[test]
fn a_misspelt_protocol_is_named_as_no_protocol() {
    let se = |proto: &str| {
        format!(
            "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: worldclockapi}}
spec:
  hosts: [worldclockapi.com]
  ports:
  - {{number: 80, name: http, protocol: {proto}}}
  resolution: DNS
"
        )
    };
    assert_eq!(
        refusal(&se("htp")),
        "istio/fixture.yml#0: ServiceEntry worldclockapi: spec.ports.0.protocol \"htp\" is not a protocol \
         Istio knows (it takes GRPC, GRPC-Web, HTTP, HTTP_PROXY, HTTP2, HTTPS, TCP, TLS, UDP, Mongo, Redis, \
         MySQL, in any case)"
    );
    assert!(refusal(&se("TLS")).contains("only plain HTTP egress is in the lab's scope"));
    assert!(refusal(&se("tls")).contains("only plain HTTP egress is in the lab's scope"));
}
