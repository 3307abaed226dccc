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
