//! VirtualService header operations, redirect, corsPolicy and `sourceLabels` through the real gateway and
//! sidecars, as istiod's pilot/pkg/networking/core/route/route.go builds them (docs/LOCAL-MESH.md): a request
//! header the gateway or a sidecar sets reaches the app (customer copies `user-agent` into
//! `baggage-user-agent`, which the Safari rule routes on), response headers are set, added and removed; a
//! redirect answers its status and Location without reaching the app; a preflight from an allowed origin gets
//! the CORS headers, one from another origin does not; a `sourceLabels` match routes only the calls of the
//! workload it names.

use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::guided::send::{Answer, requests};
use reqwest::header::HeaderMap;

use crate::routing::line;
use crate::{http, istio, lab};

/// Replaces the shipped gateway VirtualService `customer-gateway` with one rule to customer carrying `fields`
/// (YAML lines of the rule, indented by four spaces), in `api` (`v1`, `v1beta1`, `v1alpha3`).
async fn gateway_rule(lab: &Lab, api: &str, fields: &str) {
    let yaml = format!(
        "apiVersion: networking.istio.io/{api}
kind: VirtualService
metadata:
  name: customer-gateway
spec:
  hosts:
  - \"*\"
  gateways:
  - customer-gateway
  http:
  - route:
    - destination:
        host: customer
        port:
          number: 8080
{fields}"
    );
    lab.apply_text(Path::new("customer-gateway-vs.yml"), &yaml)
        .await
        .unwrap();
}

/// The chain with recommendation's subsets and the Safari rule (Safari → v2, others → v1); the two pods.
async fn safari_lab() -> (Lab, String, String) {
    let lab = lab().await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-safari.yml"))
        .await
        .unwrap();
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    (lab, v1, v2)
}

/// One GET through the gateway without a User-Agent: status, headers, body.
async fn get(client: &reqwest::Client, lab: &Lab, path: &str) -> (u16, HeaderMap, String) {
    let r = client
        .get(format!("{}{path}", lab.gateway_url))
        .send()
        .await
        .expect("the gateway answers");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    h.get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

fn bodies(a: &[Answer]) -> Vec<(u16, String)> {
    a.iter().map(|a| (a.status, a.body.clone())).collect()
}

/// The gateway's rule sets `user-agent: Safari` on the request, so customer's `baggage-user-agent` makes the
/// Safari rule send the call to v2; its response operations set, add (to the app's own) and remove headers,
/// the destination's own set one more. A rule removing `user-agent` hides a Safari client from the Safari
/// rule; then the customer sidecar's route to preference sets `baggage-user-agent` itself (v1 API), with
/// v2 answering again.
#[tokio::test]
async fn header_operations_reach_the_app_and_shape_the_response() {
    let (lab, v1, v2) = safari_lab().await;
    let client = http();
    let plain = get(&client, &lab, "").await;
    gateway_rule(
        &lab,
        "v1alpha3",
        "      headers:
        response:
          set:
            x-destination: customer
    headers:
      request:
        set:
          user-agent: Safari/605.1.15
      response:
        set:
          x-served-by: mesh-gateway
        add:
          content-type: charset=utf-8
        remove:
        - x-envoy-upstream-service-time
",
    )
    .await;
    let shaped = get(&client, &lab, "").await;
    let remove = "    headers:\n      request:\n        remove:\n        - user-agent\n";
    gateway_rule(&lab, "v1alpha3", remove).await;
    let removed = requests(&client, &lab.gateway_url, 2, Some("Safari/605.1.15")).await;
    lab.apply_text(
        Path::new("preference-vs.yml"),
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: preference
spec:
  hosts:
  - preference
  http:
  - headers:
      request:
        set:
          baggage-user-agent: Safari
    route:
    - destination:
        host: preference
",
    )
    .await
    .unwrap();
    let by_sidecar = requests(&client, &lab.gateway_url, 2, Some("curl/8")).await;
    lab.stop().await;
    assert_eq!(
        (plain.0, plain.2.as_str()),
        (200, line("v1", &v1, 1).as_str())
    );
    assert_eq!(header(&plain.1, "x-served-by"), Vec::<&str>::new());
    assert_eq!(header(&plain.1, "x-envoy-upstream-service-time").len(), 1);
    assert_eq!(
        (shaped.0, shaped.2.as_str()),
        (200, line("v2", &v2, 1).as_str())
    );
    assert_eq!(header(&shaped.1, "x-served-by"), ["mesh-gateway"]);
    assert_eq!(header(&shaped.1, "x-destination"), ["customer"]);
    // APPEND_IF_EXISTS_OR_ADD: Envoy appends to the app's value, comma-separated.
    let app_type = header(&plain.1, "content-type");
    assert_eq!(app_type.len(), 1, "{app_type:?}");
    assert_eq!(
        header(&shaped.1, "content-type"),
        [format!("{},charset=utf-8", app_type[0])]
    );
    assert_eq!(
        header(&shaped.1, "x-envoy-upstream-service-time"),
        Vec::<&str>::new()
    );
    assert_eq!(
        bodies(&removed),
        [(200, line("v1", &v1, 2)), (200, line("v1", &v1, 3))],
        "the gateway removed the Safari user-agent before customer saw it"
    );
    assert_eq!(
        bodies(&by_sidecar),
        [(200, line("v2", &v2, 2)), (200, line("v2", &v2, 3))]
    );
}

/// The gateway redirects `/old` with 302 to `/customer` and `/moved` with the default 301 to another
/// authority over https; Envoy answers itself (no app counter moves: the next chain answer is the first).
#[tokio::test]
async fn redirects_answer_their_status_and_location() {
    let lab = lab().await;
    let pod = crate::only_v1(&lab).await;
    let yaml = "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: customer-gateway
spec:
  hosts:
  - \"*\"
  gateways:
  - customer-gateway
  http:
  - match:
    - uri:
        prefix: /old
    redirect:
      uri: /customer
      redirectCode: 302
  - match:
    - uri:
        exact: /moved
    redirect:
      authority: tutorial.example.com
      scheme: https
  - route:
    - destination:
        host: customer
";
    lab.apply_text(Path::new("redirect.yml"), yaml)
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let old = get(&client, &lab, "old/page").await;
    let moved = get(&client, &lab, "moved").await;
    let chain = get(&client, &lab, "").await;
    lab.stop().await;
    let authority = lab
        .gateway_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    assert_eq!((old.0, old.2.as_str()), (302, ""));
    assert_eq!(
        header(&old.1, "location"),
        [format!("http://{authority}/customer").as_str()]
    );
    assert_eq!((moved.0, moved.2.as_str()), (301, ""));
    assert_eq!(
        header(&moved.1, "location"),
        ["https://tutorial.example.com/moved"]
    );
    assert_eq!(
        (chain.0, chain.2.as_str()),
        (200, line("v1", &pod, 1).as_str())
    );
}

/// A preflight from an allowed origin (exact, or by prefix) gets Envoy's answer with the policy's headers; one
/// from another origin goes on to the app (customer has no OPTIONS: 404) and comes back without them, unless
/// `unmatchedPreflights: IGNORE`, where Envoy answers it, still without them; a GET from an allowed origin
/// gets the chain's answer with the allow-origin and expose headers.
#[tokio::test]
async fn a_cors_policy_answers_allowed_preflights_only() {
    let lab = lab().await;
    let pod = crate::only_v1(&lab).await;
    gateway_rule(&lab, "v1", CORS_POLICY).await;
    let client = http();
    let preflight = |origin| with_origin(&client, &lab, reqwest::Method::OPTIONS, origin);
    let exact = preflight("https://tutorial.example.com").await;
    let prefix = preflight("http://localhost:3000").await;
    let other = preflight("https://evil.example.com").await;
    let simple = with_origin(
        &client,
        &lab,
        reqwest::Method::GET,
        "https://tutorial.example.com",
    )
    .await;
    let ignore = "    corsPolicy:\n      allowOrigins:\n      - exact: https://tutorial.example.com\n      \
                  unmatchedPreflights: IGNORE\n";
    gateway_rule(&lab, "v1", ignore).await;
    let ignored = preflight("https://evil.example.com").await;
    // Which of the five requests reached customer: the gateway logs each (bounded wait for the flush).
    let gateway_log: Vec<(Option<u16>, bool)> = lab
        .wait_proxy_log("istio-ingressgateway", "0.0.0.0_8080", 5, |_| true)
        .await
        .iter()
        .map(|e| (e.response_code, e.upstream_host.is_some()))
        .collect();
    lab.stop().await;
    // Envoy answers both allowed preflights and the IGNOREd one; the other origin's preflight and the GET
    // go on to customer.
    let (envoy, app) = (false, true);
    assert_eq!(
        gateway_log,
        [
            (Some(200), envoy),
            (Some(200), envoy),
            (Some(404), app),
            (Some(200), app),
            (Some(200), envoy),
        ]
    );
    for ((status, h, body), origin) in [
        (&exact, "https://tutorial.example.com"),
        (&prefix, "http://localhost:3000"),
    ] {
        assert_eq!((*status, body.as_str()), (200, ""), "{origin}");
        assert_eq!(header(h, "access-control-allow-origin"), [origin]);
        assert_eq!(header(h, "access-control-allow-methods"), ["GET,POST"]);
        assert_eq!(header(h, "access-control-allow-headers"), ["x-token"]);
        assert_eq!(header(h, "access-control-max-age"), ["3600"]);
        assert_eq!(header(h, "access-control-allow-credentials"), ["true"]);
    }
    for (what, (status, h, body)) in [("forwarded", &other), ("ignored", &ignored)] {
        let want = if what == "forwarded" { 404 } else { 200 };
        assert_eq!((*status, body.as_str()), (want, ""), "{what}");
        for name in [
            "access-control-allow-origin",
            "access-control-allow-methods",
        ] {
            assert_eq!(header(h, name), Vec::<&str>::new(), "{what}: {name}");
        }
    }
    assert_eq!(
        (simple.0, simple.2.as_str()),
        (200, line("v1", &pod, 1).as_str())
    );
    assert_eq!(
        header(&simple.1, "access-control-allow-origin"),
        ["https://tutorial.example.com"]
    );
    assert_eq!(
        header(&simple.1, "access-control-expose-headers"),
        ["x-version"]
    );
}

/// The CORS test's policy (YAML lines of the gateway rule).
const CORS_POLICY: &str = "    corsPolicy:
      allowOrigins:
      - exact: https://tutorial.example.com
      - prefix: http://localhost
      allowMethods:
      - GET
      - POST
      allowHeaders:
      - x-token
      exposeHeaders:
      - x-version
      maxAge: 1h
      allowCredentials: true
";

/// One request through the gateway from a page at `origin` (an OPTIONS one a preflight for POST).
async fn with_origin(
    client: &reqwest::Client,
    lab: &Lab,
    method: reqwest::Method,
    origin: &str,
) -> (u16, HeaderMap, String) {
    let mut req = client
        .request(method.clone(), &lab.gateway_url)
        .header("origin", origin);
    if method == reqwest::Method::OPTIONS {
        req = req.header("access-control-request-method", "POST");
    }
    let r = req.send().await.expect("the gateway answers");
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

/// `sourceLabels: {app: preference, version: v1}` sends preference v1's calls to v2 (the only caller of
/// recommendation); with `{app: customer}` preference's sidecar drops that rule and the next one routes to v1.
#[tokio::test]
async fn source_labels_route_only_the_named_workloads_calls() {
    let lab = lab().await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let (v1, v2) = (
        lab.pod_name("recommendation-v1").await.unwrap(),
        lab.pod_name("recommendation-v2").await.unwrap(),
    );
    let vs = |labels: &str| {
        format!(
            "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - match:
    - sourceLabels:
{labels}
    route:
    - destination:
        host: recommendation
        subset: version-v2
  - route:
    - destination:
        host: recommendation
        subset: version-v1
"
        )
    };
    let client = http();
    let file = Path::new("recommendation-vs.yml");
    lab.apply_text(file, &vs("        app: preference\n        version: v1"))
        .await
        .unwrap();
    let from_preference = requests(&client, &lab.gateway_url, 3, None).await;
    lab.apply_text(file, &vs("        app: customer"))
        .await
        .unwrap();
    let from_customer = requests(&client, &lab.gateway_url, 3, None).await;
    lab.stop().await;
    let want = |v: &str, pod: &str| (1..=3).map(|n| (200, line(v, pod, n))).collect::<Vec<_>>();
    assert_eq!(bodies(&from_preference), want("v2", &v2));
    assert_eq!(bodies(&from_customer), want("v1", &v1));
}
