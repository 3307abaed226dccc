//! The security chapter on the real Envoy, through the gateway: the six istio/ security files in the
//! chapter's order and each on its own, the JWT failures with Envoy's own 401 bodies, the Authorization
//! header in no log and no file, bad AuthorizationPolicies refused whole, the control endpoint's token,
//! and `show`'s identities and mTLS modes. Exact statuses and bodies: Envoy's local replies
//! (`RBAC: access denied`, `Jwt is expired`, …) have no trailing newline, the apps' answers end in one.

use std::path::{Path, PathBuf};

use mesh_lab::Lab;
use mesh_lab::guided::send::chain_prefix;
use mesh_lab::lab::tokens::TokenRequest;

use crate::served::Served;
use crate::{http, istio, lab};

pub(crate) const RBAC: &str = "RBAC: access denied";
const CUSTOMER_403: &str = "customer => Error: 403 - RBAC: access denied\n";
const PREFERENCE_403: &str =
    "customer => Error: 503 - preference => Error: 403 - RBAC: access denied\n";
const GATEWAY_LISTENER: &str = "0.0.0.0_8080";

/// One request through the gateway, with `token` as a bearer token.
pub(crate) async fn get(lab: &Lab, token: Option<&str>) -> (u16, String) {
    let mut req = http().get(&lab.gateway_url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("the gateway answers: {e:?}"));
    (r.status().as_u16(), r.text().await.unwrap())
}

/// recommendation v1's and v2's pod names, for [`assert_chain`].
pub(crate) async fn pods(lab: &Lab) -> [(&'static str, String); 2] {
    let pod = |v: &'static str| async move {
        let name = lab.pod_name(&format!("recommendation-{v}")).await.unwrap();
        (v, name)
    };
    [pod("v1").await, pod("v2").await]
}

/// Asserts `answer` is exactly the whole chain: 200 `customer => preference => recommendation vN from
/// '<that version's pod>': <counter>\n`.
pub(crate) fn assert_chain(pods: &[(&str, String); 2], answer: &(u16, String), step: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 200, "{step}: {body:?}");
    for (v, pod) in pods {
        if let Some(rest) = body.strip_prefix(&chain_prefix(v, pod)) {
            let counter = rest
                .strip_suffix('\n')
                .unwrap_or_else(|| panic!("{step}: no newline at the end of {body:?}"));
            assert!(
                !counter.is_empty() && counter.bytes().all(|b| b.is_ascii_digit()),
                "{step}: {body:?}"
            );
            return;
        }
    }
    panic!("{step}: not the chain from recommendation v1 or v2 ({pods:?}): {body:?}");
}

pub(crate) fn assert_answer(answer: &(u16, String), status: u16, body: &str, step: &str) {
    assert_eq!(
        (answer.0, answer.1.as_str()),
        (status, body),
        "{step}: expected {status} {body:?}"
    );
}

pub(crate) async fn apply(lab: &Lab, file: &str) {
    lab.apply_file(&istio(file))
        .await
        .unwrap_or_else(|e| panic!("{file} applies: {e:#}"));
}

/// The token with one character in the middle of its signature changed (the last character's low bits
/// may be base64url padding, so changing it may not change the signature).
fn alter_signature(token: &str) -> String {
    let dot = token.rfind('.').expect("a JWT has three segments");
    assert!(token.len() - dot - 1 > 8, "a signature: {token}");
    let out = mesh_lab::dataplane::issuer::with_bad_signature(token);
    assert_ne!(out, token);
    out
}

/// Every file under `dir`, recursively (bounded depth).
fn files_under(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    assert!(depth < 16, "{} nests too deep", dir.display());
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, depth + 1, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn the_six_security_files_in_the_chapters_order_through_the_gateway() {
    let lab = lab().await;
    let pods = pods(&lab).await;
    apply(&lab, "peer-authentication-tutorial-strict.yml").await;
    let strict = get(&lab, None).await;
    apply(&lab, "authorization-policy-deny-all.yml").await;
    let deny_all = get(&lab, None).await;
    apply(&lab, "authorization-policy-customer.yml").await;
    let customer = get(&lab, None).await;
    apply(&lab, "authorization-policy-preference.yml").await;
    let preference = get(&lab, None).await;
    apply(&lab, "authorization-policy-recommendation.yml").await;
    let recommendation = get(&lab, None).await;
    let applied = lab
        .apply_file(&istio("request-authentication-customer-jwt.yml"))
        .await
        .unwrap();
    let no_token = get(&lab, None).await;
    let token = lab.token(&TokenRequest::default()).await.unwrap();
    let with_token = get(&lab, Some(&token)).await;
    lab.stop().await;

    assert_chain(&pods, &strict, "STRICT");
    assert_answer(&deny_all, 403, RBAC, "deny-all");
    assert_answer(&customer, 503, CUSTOMER_403, "+ customer");
    assert_answer(&preference, 503, PREFERENCE_403, "+ preference");
    assert_chain(&pods, &recommendation, "+ recommendation");
    assert_eq!(
        applied,
        [
            "requestauthentication.security.istio.io/customer-jwt created",
            "authorizationpolicy.security.istio.io/customer configured"
        ]
    );
    assert_answer(&no_token, 403, RBAC, "JWT file, no token");
    assert_chain(&pods, &with_token, "JWT file, the lab's token");
}

/// The security objects `show` lists (kind and name).
async fn security_objects(lab: &Lab) -> Vec<String> {
    let show = lab.show().await.unwrap();
    show.objects
        .iter()
        .filter(|o| {
            matches!(
                o.kind.as_str(),
                "AuthorizationPolicy" | "PeerAuthentication" | "RequestAuthentication"
            )
        })
        .map(|o| format!("{} {}", o.kind, o.name))
        .collect()
}

#[tokio::test]
async fn each_security_file_on_its_own() {
    let lab = lab().await;
    // preference only from a principal no workload has: customer's call is denied.
    let other_principal = "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: preference}
spec:
  selector: {matchLabels: {app: preference}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: [cluster.local/ns/tutorial/sa/someone-else]}
";
    // (file, expected answer without a token: None = the whole chain)
    let cases: [(&str, Option<(u16, &str)>); 5] = [
        ("authorization-policy-deny-all.yml", Some((403, RBAC))),
        // An ALLOW policy for customer only: the other workloads have none, so nothing is denied.
        ("authorization-policy-customer.yml", None),
        // preference allows customer's identity.
        ("authorization-policy-preference.yml", None),
        ("authorization-policy-recommendation.yml", None),
        ("peer-authentication-tutorial-strict.yml", None),
    ];
    let mut results = Vec::new();
    for (file, want) in cases {
        lab.reset().await.unwrap();
        apply(&lab, file).await;
        let objects = security_objects(&lab).await;
        results.push((file, objects, get(&lab, None).await, want, pods(&lab).await));
    }
    lab.reset().await.unwrap();
    lab.apply_text(Path::new("istio/preference-other.yml"), other_principal)
        .await
        .unwrap();
    let other = get(&lab, None).await;

    lab.reset().await.unwrap();
    apply(&lab, "request-authentication-customer-jwt.yml").await;
    let jwt_objects = security_objects(&lab).await;
    let no_token = get(&lab, None).await;
    let token = lab.token(&TokenRequest::default()).await.unwrap();
    let with_token = get(&lab, Some(&token)).await;

    // After a reset nothing of the security files is left: the chain, no token needed.
    lab.reset().await.unwrap();
    let reset_objects = security_objects(&lab).await;
    let clean = get(&lab, None).await;
    let pods = pods(&lab).await;
    lab.stop().await;

    for (file, objects, answer, want, pods) in &results {
        assert_eq!(objects.len(), 1, "{file} alone after reset: {objects:?}");
        match want {
            Some((status, body)) => assert_answer(answer, *status, body, file),
            None => assert_chain(pods, answer, file),
        }
    }
    assert_answer(
        &other,
        503,
        CUSTOMER_403,
        "preference only from another principal",
    );
    assert_eq!(
        jwt_objects,
        [
            "RequestAuthentication customer-jwt",
            "AuthorizationPolicy customer"
        ]
    );
    assert_answer(&no_token, 403, RBAC, "JWT file alone, no token");
    assert_chain(&pods, &with_token, "JWT file alone, the lab's token");
    assert!(reset_objects.is_empty(), "{reset_objects:?}");
    assert_chain(&pods, &clean, "after reset");
}

/// A lab token: `None` fields default as `mesh-lab token` does; `minutes` its lifetime.
async fn mint(
    lab: &Lab,
    issuer: Option<&str>,
    subject: Option<&str>,
    minutes: Option<i64>,
) -> String {
    lab.token(&TokenRequest {
        issuer: issuer.map(str::to_owned),
        subject: subject.map(str::to_owned),
        expires_in: minutes.map(chrono::Duration::minutes),
        claims: Vec::new(),
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn jwt_failures_are_envoys_401s_and_the_token_is_logged_nowhere() {
    let lab = lab().await;
    let pods = pods(&lab).await;
    apply(&lab, "request-authentication-customer-jwt.yml").await;
    let good = mint(&lab, None, None, None).await;
    let other_issuer = mint(&lab, Some("someone-else"), None, None).await;
    // Envoy allows 60 s of clock skew: ten minutes ago is expired.
    let expired = mint(&lab, None, None, Some(-10)).await;
    let altered = alter_signature(&good);
    let other_subject = mint(&lab, None, Some("alice"), None).await;
    let answers = [
        ("the lab's token", get(&lab, Some(&good)).await),
        ("another issuer", get(&lab, Some(&other_issuer)).await),
        ("expired", get(&lab, Some(&expired)).await),
        ("altered signature", get(&lab, Some(&altered)).await),
        ("another subject", get(&lab, Some(&other_subject)).await),
    ];

    // Every request is in the gateway's and customer's access logs before the files are searched
    // (Envoy flushes every 50 ms; bounded wait).
    let n = answers.len();
    let gw = lab
        .wait_proxy_log("istio-ingressgateway", GATEWAY_LISTENER, n, |_| true)
        .await;
    let inbound = lab
        .wait_proxy_log("customer", "virtualInbound", n, |_| true)
        .await;
    let tokens = [&good, &other_issuer, &expired, &altered, &other_subject];
    let mut files = Vec::new();
    files_under(&lab.dir, 0, &mut files);
    let customer_pod = lab.pod_name("customer").await.unwrap();
    let expected_files: Vec<PathBuf> = ["istio-ingressgateway", customer_pod.as_str()]
        .iter()
        .flat_map(|d| {
            ["access.log", "envoy.log", "bootstrap.json"].map(|f| lab.dir.join(d).join(f))
        })
        .collect();
    let customer_log =
        std::fs::read_to_string(lab.dir.join(&customer_pod).join("access.log")).unwrap();
    let mut in_files = Vec::new();
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for (i, t) in tokens.iter().enumerate() {
            // The signature segment alone is enough to leak a token.
            let sig = &t[t.rfind('.').unwrap() + 1..];
            if text.contains(sig) {
                in_files.push(format!("token {i} in {}", f.display()));
            }
        }
        if text.to_ascii_lowercase().contains("bearer ") {
            in_files.push(format!("a bearer credential in {}", f.display()));
        }
    }
    let show = lab.show().await.unwrap();
    let mut app_lines = 0;
    let mut in_app_logs = Vec::new();
    for w in &show.workloads {
        for line in lab.logs(&w.name).await.unwrap() {
            app_lines += 1;
            if tokens.iter().any(|t| line.contains(t.as_str())) {
                in_app_logs.push(format!("{}: {line}", w.name));
            }
        }
    }
    let in_book = mesh_lab::dataplane::logs::book()
        .matching(|l| tokens.iter().any(|t| l.contains(t.as_str())));
    lab.stop().await;

    assert_chain(&pods, &answers[0].1, answers[0].0);
    assert_answer(
        &answers[1].1,
        401,
        "Jwt issuer is not configured",
        answers[1].0,
    );
    assert_answer(&answers[2].1, 401, "Jwt is expired", answers[2].0);
    assert_answer(&answers[3].1, 401, "Jwt verification fails", answers[3].0);
    assert_answer(&answers[4].1, 403, RBAC, answers[4].0);
    assert!(
        gw.len() >= n && inbound.len() >= n,
        "{} gateway and {} customer inbound entries",
        gw.len(),
        inbound.len()
    );
    for want in &expected_files {
        assert!(files.contains(want), "{} in {files:?}", want.display());
    }
    assert!(
        customer_log.contains("jwt_authn_access_denied"),
        "customer's access log records the 401s: {customer_log}"
    );
    assert!(in_files.is_empty(), "{in_files:?}");
    assert!(
        app_lines > 0,
        "the apps' log lines are recorded (else nothing was checked)"
    );
    assert!(in_app_logs.is_empty(), "{in_app_logs:?}");
    assert!(in_book.is_empty(), "{in_book:?}");
}

#[tokio::test]
async fn a_bad_authorization_policy_is_refused_whole() {
    let lab = lab().await;
    let valid = "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: first-valid}
spec:
  selector: {matchLabels: {app: preference}}
  action: DENY
  rules: [{}]
---
";
    let cases = [
        (
            "istio/custom.yml",
            "apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: second-custom}
spec:
  action: CUSTOM
  provider: {name: ext}
  rules: [{}]
",
            "AuthorizationPolicy second-custom",
            "spec.action CUSTOM",
        ),
        (
            "istio/ip-blocks.yml",
            "apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: second-ip-blocks}
spec:
  rules: [{from: [{source: {ipBlocks: [10.0.0.0/8]}}]}]
",
            "AuthorizationPolicy second-ip-blocks",
            "spec.rules.0.from.0.source.ipBlocks",
        ),
    ];
    let mut errors = Vec::new();
    for (file, second, _, _) in &cases {
        let text = format!("{valid}{second}");
        let err = lab
            .apply_text(Path::new(file), &text)
            .await
            .expect_err("refused");
        errors.push(format!("{err:#}"));
    }
    let show = lab.show().await.unwrap();
    let chain = get(&lab, None).await;
    let pods = pods(&lab).await;
    lab.stop().await;
    assert_chain(&pods, &chain, "after the refused files");
    for ((file, _, object, field), err) in cases.iter().zip(&errors) {
        assert!(
            err.contains(file) && err.contains(object) && err.contains(field),
            "{err}"
        );
    }
    let names: Vec<&str> = show.objects.iter().map(|o| o.name.as_str()).collect();
    for name in ["first-valid", "second-custom", "second-ip-blocks"] {
        assert!(!names.contains(&name), "{name} in {names:?}");
    }
}

#[tokio::test]
async fn the_control_endpoints_token() {
    let served = Served::start().await;
    let (lab, c) = (served.lab.clone(), served.client());
    let no_issuer = c.token(None, None, None, &[]).await;
    c.apply(&istio("request-authentication-customer-jwt.yml"))
        .await
        .unwrap();
    let token = c.token(None, None, None, &[]).await.unwrap();
    let expired = c.token(None, None, Some("-10m"), &[]).await.unwrap();
    let good = get(&lab, Some(token.trim_end())).await;
    let pods = pods(&lab).await;
    let late = get(&lab, Some(expired.trim_end())).await;
    served.stop().await;

    let err = format!("{:#}", no_issuer.expect_err("no issuer without --iss"));
    assert!(
        err.contains("no RequestAuthentication with a jwtRules issuer is applied")
            && err.contains("--iss"),
        "{err}"
    );
    // The CLI prints the answer as it comes: the token and one newline.
    for t in [&token, &expired] {
        let jwt = t.strip_suffix('\n').unwrap_or_else(|| panic!("{t:?}"));
        assert!(
            jwt.split('.').count() == 3 && !jwt.contains(char::is_whitespace),
            "{t:?}"
        );
    }
    assert_chain(&pods, &good, "the control endpoint's token");
    assert_answer(&late, 401, "Jwt is expired", "exp -10m");
}

#[tokio::test]
async fn show_lists_identities_and_the_strict_mode() {
    let lab = lab().await;
    apply(&lab, "peer-authentication-tutorial-strict.yml").await;
    apply(&lab, "authorization-policy-preference.yml").await;
    let show = lab.show().await.unwrap();
    lab.stop().await;
    let pref = show
        .workloads
        .iter()
        .find(|w| w.name == "preference-v1")
        .unwrap_or_else(|| panic!("{:?}", show.workloads));
    assert_eq!(
        pref.identity.as_deref(),
        Some("spiffe://cluster.local/ns/tutorial/sa/preference")
    );
    assert_eq!(pref.mtls, "STRICT (PeerAuthentication default)");
    for w in &show.workloads {
        assert!(w.mtls.starts_with("STRICT"), "{w:?}");
    }
    let ap = show
        .objects
        .iter()
        .find(|o| o.kind == "AuthorizationPolicy" && o.name == "preference")
        .unwrap_or_else(|| panic!("{:?}", show.objects));
    assert!(
        ap.file.ends_with("authorization-policy-preference.yml"),
        "{ap:?}"
    );
    assert_eq!(
        pref.policies,
        ["AuthorizationPolicy preference: ALLOW, 1 rule"]
    );
    let customer = show
        .workloads
        .iter()
        .find(|w| w.name == "customer")
        .unwrap_or_else(|| panic!("{:?}", show.workloads));
    assert!(customer.policies.is_empty(), "{customer:?}");
}
