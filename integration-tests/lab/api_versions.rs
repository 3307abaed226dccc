//! Every apiVersion Istio serves, on the real Envoy: the same networking objects at v1alpha3, v1beta1 and v1
//! give the same answers through the gateway, the security objects at v1beta1 and v1 the same verdicts, the
//! egress blog's v1alpha3 objects run the guided egress chapter through, and a removed API is refused with
//! the release that removed it. The files are integration-tests/fixtures/api-versions/ and
//! integration-tests/fixtures/blog-egress-v1alpha3/.

use std::path::{Path, PathBuf};

use mesh_lab::Lab;
use mesh_lab::guided::guide::LabFiles;
use mesh_lab::guided::send::chain_prefix;
use mesh_lab::lab::tokens::TokenRequest;

use crate::egress::{NOW, mesh_error_line};
use crate::{http, lab, repo};

fn fixture(path: &str) -> PathBuf {
    repo().join("integration-tests/fixtures").join(path)
}

/// The apiVersion of every document of `file`.
fn api_versions(file: &Path) -> Vec<String> {
    mesh_manifests::load_file(file)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|d| d.api_version)
        .collect()
}

/// One request through the gateway: status and body.
async fn get(lab: &Lab, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(&lab.gateway_url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("the gateway answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Gateway, VirtualServices, DestinationRule, ServiceEntry and Sidecar at each networking version: with the
/// ingress objects deleted the gateway has no route (404); the file's Gateway and VirtualService bring it
/// back, its VirtualService and DestinationRule send every request to v3, whose time lookup leaves through
/// the ServiceEntry although its Sidecar makes the namespace REGISTRY_ONLY; without the ServiceEntry the
/// Sidecar blocks it. Each version gives exactly the same answers.
#[tokio::test]
async fn every_networking_kind_takes_effect_at_v1alpha3_v1beta1_and_v1_with_the_same_answers() {
    let lab = lab().await;
    let mut seen = Vec::new();
    for version in ["v1alpha3", "v1beta1", "v1"] {
        let file = fixture(&format!("api-versions/networking-{version}.yml"));
        let want = format!("networking.istio.io/{version}");
        assert!(api_versions(&file).iter().all(|a| *a == want), "{file:?}");
        lab.reset().await.unwrap();
        lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v3.yml"))
            .await
            .unwrap();
        lab.delete("virtualservice", "customer-gateway")
            .await
            .unwrap();
        lab.delete("gateway", "customer-gateway").await.unwrap();
        let no_route = get(&lab, None).await;
        let applied = lab.apply_file(&file).await.unwrap();
        let v3 = lab.pod_name("recommendation-v3").await.unwrap();
        let routed = get(&lab, None).await;
        lab.delete("serviceentry", "worldclockapi-egress-rule")
            .await
            .unwrap();
        let blocked = get(&lab, None).await;
        seen.push((
            version,
            no_route.0,
            applied,
            (routed.0, routed.1.replace(&v3, "<v3 pod>")),
            blocked,
        ));
    }
    lab.stop().await;
    let v3_line = format!("customer => preference => recommendation v3 {NOW} from '<v3 pod>': 1\n");
    for (version, no_route, applied, routed, blocked) in &seen {
        assert_eq!(*no_route, 404, "{version}: no Gateway, no route");
        assert_eq!(
            *applied,
            [
                "gateway.networking.istio.io/customer-gateway created",
                "virtualservice.networking.istio.io/customer-gateway created",
                "destinationrule.networking.istio.io/recommendation created",
                "virtualservice.networking.istio.io/recommendation created",
                "serviceentry.networking.istio.io/worldclockapi-egress-rule created",
                "sidecar.networking.istio.io/default created",
            ],
            "{version}"
        );
        assert_eq!(*routed, (200, v3_line.clone()), "{version}");
        assert_eq!(
            *blocked,
            (503, mesh_error_line(502, "")),
            "{version}: REGISTRY_ONLY"
        );
    }
}

/// PeerAuthentication, RequestAuthentication and AuthorizationPolicy at security.istio.io/v1beta1 and v1:
/// every sidecar STRICT, customer denies a request without a token and answers one with the lab's token.
#[tokio::test]
async fn every_security_kind_takes_effect_at_v1beta1_and_v1() {
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let mut seen = Vec::new();
    for version in ["v1beta1", "v1"] {
        let file = fixture(&format!("api-versions/security-{version}.yml"));
        let want = format!("security.istio.io/{version}");
        assert!(api_versions(&file).iter().all(|a| *a == want), "{file:?}");
        lab.reset().await.unwrap();
        let before = get(&lab, None).await.0;
        let applied = lab.apply_file(&file).await.unwrap();
        let modes: Vec<String> = lab
            .show()
            .await
            .unwrap()
            .workloads
            .into_iter()
            .map(|w| w.mtls)
            .collect();
        let no_token = get(&lab, None).await;
        let token = lab.token(&TokenRequest::default()).await.unwrap();
        let with_token = get(&lab, Some(&token)).await;
        seen.push((version, before, applied, modes, no_token, with_token));
    }
    lab.stop().await;
    for (version, before, applied, modes, no_token, (status, body)) in &seen {
        assert_eq!(*before, 200, "{version}");
        assert_eq!(
            *applied,
            [
                "peerauthentication.security.istio.io/default created",
                "requestauthentication.security.istio.io/customer-jwt created",
                "authorizationpolicy.security.istio.io/customer created",
            ],
            "{version}"
        );
        assert!(!modes.is_empty());
        for m in modes {
            assert_eq!(m, "STRICT (PeerAuthentication default)", "{version}");
        }
        assert_eq!(
            *no_token,
            (403, "RBAC: access denied".to_owned()),
            "{version}"
        );
        assert_eq!(*status, 200, "{version}: {body}");
        assert!(
            body.starts_with(&chain_prefix("v1", &v1))
                || body.starts_with(&chain_prefix("v2", &v2)),
            "{version}: {body}"
        );
    }
}

/// The egress blog's DestinationRule, VirtualServices and ServiceEntries as it writes them
/// (networking.istio.io/v1alpha3) run the guided egress chapter to the end, every step passing.
#[tokio::test]
async fn the_egress_blogs_v1alpha3_objects_run_the_egress_chapter_through() {
    let blog = |f: &str| fixture(&format!("blog-egress-v1alpha3/{f}"));
    let mut files = LabFiles::find(&repo().join("istio")).unwrap();
    files.destination_rule = blog("destination-rule-recommendation-v1-v2-v3.yml");
    files.virtual_service_v3 = blog("virtual-service-recommendation-v3.yml");
    files.service_entry_wrong_port = blog("service-entry-egress-worldclockapi-wrong-port.yml");
    files.service_entry = blog("service-entry-egress-worldclockapi.yml");
    files.virtual_service_timeout = blog("virtual-service-worldclockapi-timeout.yml");
    for f in [
        &files.destination_rule,
        &files.virtual_service_v3,
        &files.service_entry_wrong_port,
        &files.service_entry,
        &files.virtual_service_timeout,
    ] {
        assert_eq!(api_versions(f), ["networking.istio.io/v1alpha3"], "{f:?}");
    }
    let lab = lab().await;
    let mut out = Vec::new();
    let outcome = mesh_lab::guided::egress::run(&lab, &files, &mut out).await;
    lab.stop().await;
    let text = String::from_utf8_lossy(&out);
    let outcome = outcome.unwrap();
    assert!(outcome.failed.is_empty(), "{text}");
    assert!(outcome.passed >= 10, "{text}");
    for applied in [
        "blog-egress-v1alpha3/destination-rule-recommendation-v1-v2-v3.yml",
        "blog-egress-v1alpha3/virtual-service-recommendation-v3.yml",
        "blog-egress-v1alpha3/service-entry-egress-worldclockapi-wrong-port.yml",
        "blog-egress-v1alpha3/service-entry-egress-worldclockapi.yml",
        "blog-egress-v1alpha3/virtual-service-worldclockapi-timeout.yml",
    ] {
        assert!(
            text.contains(&format!(
                "$ mesh-lab apply -f {}",
                fixture(applied).display()
            )),
            "{applied} not applied in\n{text}"
        );
    }
}

/// A removed API is refused by the running lab with the release that removed it, and nothing of the file
/// applies.
#[tokio::test]
async fn a_removed_api_is_refused_naming_the_release_and_the_replacement() {
    let lab = lab().await;
    let policy = "apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: recommendation
spec:
  host: recommendation
  subsets:
  - name: version-v1
    labels:
      version: v1
---
apiVersion: authentication.istio.io/v1alpha1
kind: Policy
metadata:
  name: default
spec:
  peers:
  - mtls: {}
";
    let err = lab
        .apply_text(Path::new("istio/old-mtls.yml"), policy)
        .await
        .unwrap_err();
    let show = lab.show().await.unwrap();
    lab.stop().await;
    assert_eq!(
        format!("{err:#}"),
        "istio/old-mtls.yml: document 1: Policy at apiVersion authentication.istio.io/v1alpha1: Istio's \
         alpha authentication API (Policy, MeshPolicy), removed in Istio 1.6: write a PeerAuthentication \
         for mutual TLS and a RequestAuthentication for JWT (security.istio.io/v1) instead"
    );
    assert!(
        !show.objects.iter().any(|o| o.kind == "DestinationRule"),
        "{:?}",
        show.objects
    );
}

/// A Gateway API route is refused by the running lab by name, told to write what the lab runs (it is not
/// taken for Istio's Gateway, whose kind name it shares), and nothing of the file applies.
#[tokio::test]
async fn a_gateway_api_route_is_refused_naming_what_the_lab_runs_instead() {
    let lab = lab().await;
    let before = lab.show().await.unwrap().objects;
    let routes = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: customer-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: customer
spec:
  parentRefs:
  - name: customer-gateway
  rules:
  - backendRefs:
    - name: customer
      port: 8080
";
    let err = lab
        .apply_text(Path::new("istio/gateway-api.yml"), routes)
        .await
        .unwrap_err();
    let after = lab.show().await.unwrap().objects;
    lab.stop().await;
    assert_eq!(
        format!("{err:#}"),
        "istio/gateway-api.yml: document 0: Gateway at apiVersion gateway.networking.k8s.io/v1: the \
         Kubernetes Gateway API serves Gateway at gateway.networking.k8s.io/v1 and v1beta1; the local mesh \
         does not run it: write Istio's Gateway and a VirtualService bound to it (networking.istio.io/v1, \
         as kubernetes/app/customer-gateway.yml does), which the local mesh runs, or apply it on a cluster"
    );
    assert_eq!(after, before);
}
