//! The networking kinds' admission held to the translation: what the check accepts as egress is what the
//! egress translation runs, written either way istiod reads alike.

use crate::model::release::IstioRelease;
use std::path::Path;

use mesh_manifests::Resource;

use crate::config::validation::{Effect, check};
use crate::fixtures::{internet, v3};
use crate::model::sidecar::Mode;
use crate::networking::core::egress::to_envoy;

const SE_80: &str = include_str!("../../../../../istio/service-entry-egress-worldclockapi.yml");
const VS_TIMEOUT: &str =
    include_str!("../../../../../istio/virtual-service-worldclockapi-timeout.yml");

/// The egress blog's timeout VirtualService with `gateways: []` (or as shipped, with `gateways` absent).
fn timeout_vs(empty_gateways: bool) -> String {
    if !empty_gateways {
        return VS_TIMEOUT.to_owned();
    }
    assert_eq!(VS_TIMEOUT.matches("spec:\n").count(), 1, "{VS_TIMEOUT}");
    VS_TIMEOUT.replace("spec:\n", "spec:\n  gateways: []\n")
}

/// The objects of `yaml` through the admission check, as `mesh-lab apply` takes them: each must be kept.
fn admitted(file: &str, yaml: &str) -> Vec<Resource> {
    let docs = mesh_manifests::parse_str(Path::new(file), yaml).expect("the file loads");
    docs.into_iter()
        .map(|doc| {
            assert_eq!(check(&doc), Ok(Effect::Keep), "{}", doc.location());
            doc.resource
        })
        .collect()
}

/// `gateways: []` binds a VirtualService to the mesh like an absent `gateways` (istiod's
/// `getGatewayNames`): the admission check holds such an egress VirtualService to the egress rules, and the
/// translation gives v3's sidecar its 3s route, the same configuration as without `gateways` — never
/// accepted and then left untranslated.
#[test]
fn an_egress_virtual_service_with_empty_gateways_is_checked_and_translated_as_the_mesh() {
    let mut configs = Vec::new();
    for empty in [false, true] {
        let mut applied = admitted("istio/service-entry-egress-worldclockapi.yml", SE_80);
        let vs = timeout_vs(empty);
        applied.extend(admitted(
            "istio/virtual-service-worldclockapi-timeout.yml",
            &vs,
        ));
        let config = to_envoy(
            &applied,
            Mode::AllowAny,
            &internet(),
            &v3(),
            IstioRelease::CURRENT,
        )
        .unwrap();
        let vhost = config
            .virtual_host("worldclockapi.com:80")
            .unwrap_or_else(|| panic!("no route for worldclockapi.com (gateways: [] is {empty})"));
        let vhost = crate::util::protomarshal::to_json(vhost);
        assert_eq!(vhost["routes"][0]["route"]["timeout"], "3s", "{empty}");
        configs.push(config);
        // The egress rules, not the gateway's: routing egress back into the mesh is refused either way.
        let back = vs.replace(
            "host: worldclockapi.com\n      weight",
            "host: recommendation\n      weight",
        );
        assert_ne!(back, vs);
        let docs = mesh_manifests::parse_str(Path::new("back.yml"), &back).expect("loads");
        let err = check(&docs[0]).expect_err("refused").message;
        assert_eq!(
            err,
            "spec.http.0.route.0.destination.host \"recommendation\": routing egress back into the mesh is \
             not in the lab's scope",
            "{empty}"
        );
    }
    assert_eq!(configs[0], configs[1]);
}

/// `withoutHeaders` (each match type) and `retries.retryRemoteLocalities` are translated, so admitted.
#[test]
fn without_headers_and_retry_remote_localities_are_admitted() {
    admitted(
        "istio/fixture.yml",
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{withoutHeaders: {end-user: {exact: jason}, a: {prefix: b}, c: {regex: 'd.*'}}}]
    retries: {attempts: 2, retryRemoteLocalities: true}
    route:
    - destination: {host: recommendation}
",
    );
}

fn dr(host: &str, policy: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata: {{name: d}}\nspec:\n  host: {host}\n{policy}"
    )
}

/// Per-subset policies, `tls.mode` and namespace-wide hosts are translated (networking/core/cluster.rs), so
/// admitted.
#[test]
fn subset_policies_tls_modes_and_namespace_wide_hosts_are_admitted() {
    let subsets = "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n  subsets:\n  - name: version-v2\n    labels: {version: v2}\n    trafficPolicy:\n      loadBalancer: {simple: ROUND_ROBIN}\n      connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}\n      outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100}\n      tls: {mode: DISABLE}\n";
    admitted("dr.yml", &dr("recommendation", subsets));
    for host in [
        "'*.tutorial.svc.cluster.local'",
        "'*.svc.cluster.local'",
        "'*.local'",
    ] {
        admitted(
            "dr.yml",
            &dr(host, "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n"),
        );
    }
}

#[test]
fn hosts_outside_the_mesh_tls_origination_and_passthrough_are_refused_by_name() {
    let tls = "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n";
    assert_eq!(
        refusal(&dr("'*'", tls)),
        "spec.host \"*\": a DestinationRule for every host also governs the external hosts of ServiceEntries, \
         which the lab's DestinationRules do not reach (it takes \"*\" with tls.mode DISABLE alone); write \
         \"*.tutorial.svc.cluster.local\" (or \"*.local\") for the mesh's Services"
    );
    admitted(
        "dr.yml",
        &dr("'*'", "  trafficPolicy:\n    tls: {mode: DISABLE}\n"),
    );
    for host in ["'*.other.svc.cluster.local'", "worldclockapi.com"] {
        let h = host.trim_matches('\'');
        assert_eq!(
            refusal(&dr(host, tls)),
            format!(
                "spec.host \"{h}\": names none of the mesh's Services (customer, preference, recommendation, \
                 namespace tutorial); DestinationRules for hosts outside the mesh (TLS origination, pools for \
                 external hosts) are not in the lab's scope"
            )
        );
    }
    let simple = "  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy:\n      tls: {mode: SIMPLE}\n";
    assert_eq!(
        refusal(&dr("recommendation", simple)),
        "spec.subsets.0.trafficPolicy.tls.mode SIMPLE: TLS origination with certificates of your own is not in \
         the lab's scope; between the mesh's sidecars write ISTIO_MUTUAL (the mesh certificates) or leave tls \
         out (auto mTLS)"
    );
    let sni = "  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL, sni: x}\n";
    assert!(
        refusal(&dr("recommendation", sni))
            .starts_with("field spec.trafficPolicy.tls.sni is not supported"),
        "{}",
        refusal(&dr("recommendation", sni))
    );
    let pass = "  trafficPolicy:\n    loadBalancer: {simple: PASSTHROUGH}\n";
    assert!(
        refusal(&dr("recommendation", pass))
            .starts_with("spec.trafficPolicy.loadBalancer.simple PASSTHROUGH: "),
    );
}

/// The message the admission gives `yaml` (a single object).
fn refusal(yaml: &str) -> String {
    let docs =
        mesh_manifests::parse_str(Path::new("istio/fixture.yml"), yaml).expect("the file loads");
    match check(&docs[0]) {
        Err(e) => e.message,
        Ok(effect) => panic!("admitted ({effect:?}): {yaml}"),
    }
}

/// Header operations (rule and destination), redirect, corsPolicy, `sourceLabels` and `match.gateways` are
/// translated, so admitted on the sidecars and on the gateway; `sourceNamespace` is not, and is refused by name.
#[test]
fn header_operations_redirect_cors_and_source_matches_are_admitted() {
    for gateways in ["", "  gateways: [customer-gateway]\n"] {
        admitted(
            "istio/fixture.yml",
            &format!(
                "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: customer}}
spec:
  hosts: [customer]
{gateways}  http:
  - match: [{{sourceLabels: {{app: preference, version: v2}}, gateways: [mesh, customer-gateway]}}]
    redirect: {{uri: /new, authority: a.example.com, scheme: https, port: 8443, redirectCode: 302}}
  - match: [{{uri: {{prefix: /old}}}}]
    redirect: {{prefixRewrite: /new, derivePort: FROM_REQUEST_PORT}}
  - headers:
      request: {{set: {{x-a: '1'}}, add: {{x-b: '2'}}, remove: [x-c]}}
      response: {{set: {{app.example.com/version: v1}}, add: {{x-e: '5'}}, remove: [x-f]}}
    corsPolicy:
      allowOrigins: [{{exact: 'https://a.example.com'}}, {{prefix: 'https://b'}}, {{regex: '.*c'}}]
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      exposeHeaders: [x-version]
      maxAge: 24h
      allowCredentials: true
      unmatchedPreflights: IGNORE
    route:
    - destination: {{host: customer}}
      headers: {{request: {{set: {{x-g: '7'}}}}, response: {{remove: [x-h]}}}}
"
            ),
        );
    }
    let source_ns = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{sourceNamespace: tutorial}]
    route: [{destination: {host: recommendation}}]
";
    assert!(
        refusal(source_ns)
            .starts_with("field spec.http.0.match.0.sourceNamespace is not supported"),
        "{}",
        refusal(source_ns)
    );
}

/// A rule that both routes and redirects is refused, on the gateway as on the sidecars, naming the rule.
#[test]
fn route_and_redirect_together_are_refused() {
    for gateways in ["", "  gateways: [customer-gateway]\n"] {
        let yaml = format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: customer}}
spec:
  hosts: [customer]
{gateways}  http:
  - redirect: {{uri: /x}}
    route: [{{destination: {{host: customer}}}}]
"
        );
        assert_eq!(
            refusal(&yaml),
            "spec.http.0: route and redirect together; a rule either redirects or routes (drop one)",
            "{gateways}"
        );
    }
}

/// istiod takes a timeout, retries or a mirror beside a redirect and drops them (a redirect has no route
/// action); the lab refuses them by name rather than accept what has no effect.
#[test]
fn what_a_redirect_drops_is_refused_by_name() {
    let yaml = "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: customer}
spec:
  hosts: [customer]
  http:
  - redirect: {uri: /new}
    timeout: 2s
";
    assert_eq!(
        refusal(yaml),
        "spec.http.0.timeout: a redirecting rule sends nothing upstream, so istiod drops its timeout (route.go \
         builds a redirect without a route action); remove timeout or route instead"
    );
}

/// A VirtualService whose rule to v2 matches `user-agent` against `regex`, in v1alpha3 as the tutorial writes.
fn regex_vs(regex: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: recommendation}}
spec:
  hosts: [recommendation]
  http:
  - match: [{{headers: {{baggage-user-agent: {{regex: '{regex}'}}}}}}]
    route:
    - destination: {{host: recommendation, subset: version-v2}}
  - route:
    - destination: {{host: recommendation, subset: version-v1}}
"
    )
}

/// Istio's validation (pkg/config/validation/validation.go `validateStringRegexp`) refuses what RE2 cannot
/// parse and a regex over 1024 long, in Istio's words; what it accepts, the lab accepts, however large its
/// RE2 program (Envoy may still NACK it: `proxy-status`).
#[test]
fn regexes_are_held_to_istios_re2_rules() {
    const AT: &str = "\"spec.http.0.match.0.headers.baggage-user-agent.regex\"";
    let look_ahead = refusal(&regex_vs("(?=Safari)"));
    assert!(
        look_ahead.contains(&format!("{AT}: error parsing regexp: "))
            && look_ahead.contains("look-around")
            && look_ahead.contains("Istio uses RE2 style regex-based match"),
        "{look_ahead}"
    );
    let back_reference = refusal(&regex_vs("(a)\\1"));
    assert!(
        back_reference.contains("error parsing regexp: "),
        "{back_reference}"
    );
    let long = refusal(&regex_vs(&"a".repeat(1025)));
    assert!(
        long.contains(&format!(
            "{AT}: regex is too large, max length allowed is 1024"
        )),
        "{long}"
    );
    admitted("istio/regex.yml", &regex_vs(".*Safari.*"));
    admitted("istio/regex.yml", &regex_vs(&"[a-z]{1000}".repeat(40)));
}
