//! Every learner's mistake explained where it shows: the chapters' failures through the gateway with the
//! shipped files, and for each the proxy, Envoy's response flag in words, the route and cluster, and the fix
//! the lab knows, as `show` prints it, as `guided` prints under a failing answer (`guided::why::lines`) and
//! as the graph says it on the edge.
//! The bodies stay Envoy's (asserted exactly where the chapter's tests do not already).

use chrono::Utc;
use mesh_lab::Lab;
use mesh_lab::guided::send::{Answer, parallel};
use mesh_lab::observe::explain::Explanation;
use mesh_lab::observe::show::render;

use crate::{http, istio, lab, misbehave_at, repo};

const V2: &str = "outbound|8080|version-v2|recommendation.tutorial.svc.cluster.local";
const V3: &str = "outbound|8080|version-v3|recommendation.tutorial.svc.cluster.local";

/// `n` requests through the gateway (with `header` if given) and the lab's explanation of them.
async fn send(
    lab: &Lab,
    n: usize,
    header: Option<(&str, &str)>,
) -> (Vec<Answer>, Vec<Explanation>) {
    let since = Utc::now();
    let client = http();
    let mut answers = Vec::new();
    for _ in 0..n {
        let mut req = client.get(&lab.gateway_url);
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        answers.push(mesh_lab::guided::send::send(req).await);
    }
    (answers, lab.explain_since(since, n).await)
}

/// The one explanation with `flag` at `proxy`, and its guided line.
fn one<'a>(x: &'a [Explanation], proxy: &str, flag: &str) -> (&'a Explanation, String) {
    let found: Vec<&Explanation> = x
        .iter()
        .filter(|e| e.proxy == proxy && e.why.flag == flag)
        .collect();
    assert_eq!(found.len(), 1, "one {flag} at {proxy} in {x:#?}");
    let line = mesh_lab::guided::why::lines(&[found[0].clone()]).remove(0);
    (found[0], line)
}

/// The graph says it too: an edge from `proxy` (or, for its own inbound denial, to it) names `flag` in words.
async fn in_graph(lab: &Lab, proxy: &str, flag: &str) {
    let g = lab.graph().await;
    let said = format!(" {flag} (");
    assert!(
        g.edges
            .iter()
            .any(|e| (e.source == proxy || e.target == proxy)
                && e.why.iter().any(|w| w.contains(&said))),
        "no edge at {proxy} says {flag} in words: {:#?}",
        g.edges
    );
}

fn has(text: &str, words: &[&str]) {
    for w in words {
        assert!(text.contains(w), "{w:?} not in:\n{text}");
    }
}

async fn shown(lab: &Lab) -> String {
    render(&lab.show().await.unwrap())
}

/// A VirtualService to v3 before any DestinationRule: `show` says so before any request, the chain's 503
/// keeps Envoy's empty reason and preference's sidecar explains NC with the file defining the subset; with
/// the DestinationRule but no v3 pod, UH names the Deployment to apply, and scaled to 0, the scale command.
#[tokio::test]
async fn a_subset_no_destination_rule_defines_and_a_subset_no_pod_runs_are_explained_with_their_fix()
 {
    let lab = lab().await;
    lab.apply_file(&istio("virtual-service-recommendation-v3.yml"))
        .await
        .unwrap();
    let before = shown(&lab).await;
    has(
        &before,
        &[
            "VirtualService recommendation routes to subset version-v3 of recommendation, which no DestinationRule \
             defines: requests get 503 NC (no cluster) and an empty body; no DestinationRule for recommendation is \
             applied; fix: mesh-lab apply -f istio/destination-rule-recommendation-v1-v2-v3.yml",
            &format!("{V3}, retries 2 on"),
            "(NO SUCH CLUSTER: 503, flag NC)",
        ],
    );
    let (a, x) = send(&lab, 2, None).await;
    for r in &a {
        assert_eq!(
            (r.status, r.body.as_str()),
            (503, "customer => Error: 503 - preference => Error: 503 -\n")
        );
    }
    let (nc, line) = one(&x, "preference-v1", "NC");
    in_graph(&lab, "preference-v1", "NC").await;
    assert_eq!((nc.requests, nc.cluster.as_str()), (2, V3));
    has(
        &line,
        &[
            "preference-v1's sidecar: 503 NC (no cluster: the route names a cluster the proxy does not have",
            "route [recommendation.tutorial.svc.cluster.local:8080] -> outbound|8080|version-v3|",
            "fix: mesh-lab apply -f istio/destination-rule-recommendation-v1-v2-v3.yml (defines subset version-v3)",
        ],
    );
    has(
        &shown(&lab).await,
        &[
            "Why requests failed (access logs):",
            &format!("✘ x2 {}", nc.line()),
        ],
    );

    lab.apply_file(&istio("destination-rule-recommendation-v1-v2-v3.yml"))
        .await
        .unwrap();
    let no_pod = "no pod of subset version-v3 of recommendation runs; fix: mesh-lab apply -f \
                  recommendation/kubernetes/Deployment-v3.yml";
    has(
        &shown(&lab).await,
        &[
            "which no running pod carries the labels of: requests get 503 UH",
            no_pod,
            &format!(
                "{V3}, retries 2 on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes (NO POD OF THAT SUBSET RUNS: 503, flag UH)"
            ),
            "istio/virtual-service-recommendation-v3.yml]  ! see Notes",
        ],
    );
    let (a, x) = send(&lab, 1, None).await;
    assert_eq!(
        a[0].body,
        "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n"
    );
    let (_, line) = one(&x, "preference-v1", "UH");
    in_graph(&lab, "preference-v1", "UH").await;
    has(&line, &["503 UH (no healthy upstream: ", V3, no_pod]);

    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v3.yml"))
        .await
        .unwrap();
    lab.scale("deployment", "recommendation-v3", 0)
        .await
        .unwrap();
    let (_, x) = send(&lab, 1, None).await;
    let (_, line) = one(&x, "preference-v1", "UH");
    in_graph(&lab, "preference-v1", "UH").await;
    lab.stop().await;
    has(
        &line,
        &[
            "Deployment recommendation-v3 has replicas 0: fix: mesh-lab scale deployment recommendation-v3 --replicas 1",
        ],
    );
}

/// The chaos chapter: fault.abort's 503 (FI) and fault.delay (DI) at preference's sidecar name the
/// VirtualService's fault and how to take it away.
#[tokio::test]
async fn injected_faults_name_the_virtual_services_fault() {
    let lab = lab().await;
    lab.apply_file(&istio("virtual-service-recommendation-fault-abort.yml"))
        .await
        .unwrap();
    let mut x = Vec::new();
    for _ in 0..30 {
        x = send(&lab, 1, None).await.1;
        if !x.is_empty() {
            break;
        }
    }
    let (_, line) = one(&x, "preference-v1", "FI");
    in_graph(&lab, "preference-v1", "FI").await;
    has(
        &line,
        &[
            "503 FI (fault injected: the VirtualService's fault.abort answered instead of the service)",
            "VirtualService recommendation's fault.abort (httpStatus: 503, percentage: {value: 50.0}); fix: \
             mesh-lab delete virtualservice recommendation",
        ],
    );
    // The chapter's delay, shortened to 1 s and made certain, so one request shows it.
    let delay = std::fs::read_to_string(istio("virtual-service-recommendation-fault-delay.yml"))
        .unwrap()
        .replace("fixedDelay: 7s", "fixedDelay: 1s")
        .replace("value: 50.0", "value: 100.0");
    lab.apply_text(
        &istio("virtual-service-recommendation-fault-delay.yml"),
        &delay,
    )
    .await
    .unwrap();
    let (a, x) = send(&lab, 1, None).await;
    let shown = shown(&lab).await;
    in_graph(&lab, "preference-v1", "DI").await;
    lab.stop().await;
    assert_eq!(a[0].status, 200, "a delay still answers");
    let (_, line) = one(&x, "preference-v1", "DI");
    has(
        &line,
        &[
            "200 DI (delay injected",
            "fault.delay (fixedDelay: 1s, percentage: {value: 100.0})",
        ],
    );
    has(&shown, &[&line]);
}

/// The resilience chapter: the circuit breaker's ejection (UH) and overflow (UO) name the DestinationRule's
/// outlierDetection and connectionPool; retries on two misbehaving versions end in URX naming the retries;
/// the slow v2 against the 1 s timeout is UT naming the timeout and the slow pod.
#[tokio::test]
async fn resilience_failures_name_the_rules_fields_and_the_upstream() {
    let lab = lab().await;
    lab.apply_file(&istio(
        "destination-rule-recommendation-circuit-breaker.yml",
    ))
    .await
    .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-v1-v2-50-50.yml"))
        .await
        .unwrap();
    let v1 = lab.app_addr("recommendation-v1").await.unwrap();
    misbehave_at(lab.app_addr("recommendation-v2").await.unwrap()).await;
    let (_, x) = send(&lab, 12, None).await;
    let (uh, line) = one(&x, "preference-v1", "UH");
    in_graph(&lab, "preference-v1", "UH").await;
    assert_eq!(uh.cluster, V2);
    has(
        &line,
        &[
            "is ejected by DestinationRule recommendation's outlierDetection (baseEjectionTime: 3m, consecutive5xxErrors: 1",
        ],
    );
    let since = Utc::now();
    let burst = parallel(&http(), &lab.gateway_url, 40).await;
    let x = lab.explain_since(since, burst.len()).await;
    let (_, line) = one(&x, "preference-v1", "UO");
    in_graph(&lab, "preference-v1", "UO").await;
    has(
        &line,
        &[
            "503 UO (upstream overflow",
            "DestinationRule recommendation's connectionPool (http: {http1MaxPendingRequests: 1, \
             maxRequestsPerConnection: 1}, tcp: {maxConnections: 1}) is full",
        ],
    );

    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-retry.yml"))
        .await
        .unwrap();
    misbehave_at(v1).await;
    let (_, x) = send(&lab, 1, None).await;
    let (_, line) = one(&x, "preference-v1", "URX");
    in_graph(&lab, "preference-v1", "URX").await;
    has(
        &line,
        &[
            "503 URX (retries exhausted",
            "VirtualService recommendation's retries (attempts: 3",
            "kept failing; fix: heal the upstream: curl http://",
            "/behave (its app)",
        ],
    );

    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v2-timeout.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-timeout.yml"))
        .await
        .unwrap();
    let mut x = Vec::new();
    for _ in 0..30 {
        x = send(&lab, 1, None).await.1;
        if x.iter().any(|e| e.why.flag == "UT") {
            break;
        }
    }
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    in_graph(&lab, "preference-v1", "UT").await;
    lab.stop().await;
    let (_, line) = one(&x, "preference-v1", "UT");
    has(
        &line,
        &[
            "504 UT (upstream request timeout",
            &format!(
                "VirtualService recommendation's timeout 1s passed before pod {v2} (127.0.0.1:"
            ),
            ", Deployment recommendation-v2 from Deployment-v2-timeout.yml) answered; fix: make the upstream \
             answer in time, or raise the timeout",
        ],
    );
}

/// The security chapter: deny-all's 403 at customer's sidecar (RBAC) names the policies in force; the JWT
/// policy's 403 without a token and 401 with a bad one say to send `mesh-lab token`'s.
#[tokio::test]
async fn denials_name_the_policies_and_the_token() {
    let lab = lab().await;
    lab.apply_file(&istio("authorization-policy-deny-all.yml"))
        .await
        .unwrap();
    let (a, x) = send(&lab, 1, None).await;
    assert_eq!(
        (a[0].status, a[0].body.as_str()),
        (403, "RBAC: access denied")
    );
    let (_, line) = one(&x, "customer", "RBAC");
    in_graph(&lab, "customer", "RBAC").await;
    has(
        &line,
        &[
            "customer's sidecar: 403 RBAC (denied: no AuthorizationPolicy rule allows it (RBAC: access denied)); route inbound",
            "in force on customer: AuthorizationPolicy deny-all",
            "fix: mesh-lab delete authorizationpolicy deny-all, or give it a rule that allows the caller",
        ],
    );
    lab.delete("authorizationpolicy", "deny-all").await.unwrap();
    lab.apply_file(&istio("request-authentication-customer-jwt.yml"))
        .await
        .unwrap();
    let (_, x) = send(&lab, 1, None).await;
    let (_, line) = one(&x, "customer", "RBAC");
    in_graph(&lab, "customer", "RBAC").await;
    has(
        &line,
        &[
            "fix: send the JWT the policy asks for: curl -H \"Authorization: Bearer $(mesh-lab token)\"",
        ],
    );
    let (a, x) = send(&lab, 1, Some(("authorization", "Bearer not.a.jwt"))).await;
    in_graph(&lab, "customer", "JWT").await;
    lab.stop().await;
    assert_eq!(a[0].status, 401);
    let (_, line) = one(&x, "customer", "JWT");
    has(
        &line,
        &[
            "401 JWT (the RequestAuthentication rejected the request's JWT",
            "RequestAuthentication customer-jwt checks it; fix: send a token it accepts: curl -H \"Authorization: \
             Bearer $(mesh-lab token)\"",
        ],
    );
}

/// The egress chapter: step 6's ServiceEntry on port 81 with the VirtualService for port 80 gives v3's sidecar a
/// route to a cluster nobody declared (NC), fixed by the ServiceEntry on port 80; a down time API is the
/// connection failure naming `mesh-lab fault none`; REGISTRY_ONLY without a ServiceEntry is block_all's 502
/// naming the ServiceEntry to apply.
#[tokio::test]
async fn egress_failures_name_the_service_entry_and_the_time_api() {
    let lab = lab().await;
    for f in [
        "destination-rule-recommendation-v1-v2-v3.yml",
        "virtual-service-recommendation-v3.yml",
        "service-entry-egress-worldclockapi-wrong-port.yml",
        "virtual-service-worldclockapi-timeout.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
    }
    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v3.yml"))
        .await
        .unwrap();
    let (_, x) = send(&lab, 1, None).await;
    let shown = shown(&lab).await;
    let (nc, line) = one(&x, "recommendation-v3", "NC");
    in_graph(&lab, "recommendation-v3", "NC").await;
    assert_eq!(nc.cluster, "outbound|80||worldclockapi.com");
    has(
        &line,
        &[
            "recommendation-v3's sidecar: 503 NC (no cluster",
            "ServiceEntry worldclockapi-egress-rule declares worldclockapi.com on port(s) [81], not 80; fix: \
             mesh-lab apply -f istio/service-entry-egress-worldclockapi.yml (declares worldclockapi.com on port 80)",
        ],
    );
    has(&shown, &[&nc.line()]);

    lab.apply_file(&istio("service-entry-egress-worldclockapi.yml"))
        .await
        .unwrap();
    lab.fault("down", None).await.unwrap();
    let (_, x) = send(&lab, 1, None).await;
    let down: Vec<&Explanation> = x.iter().filter(|e| e.why.flag.contains("UF")).collect();
    assert_eq!(down.len(), 1, "{x:#?}");
    has(
        &down[0].line(),
        &[
            "recommendation-v3's sidecar: 503 ",
            "503 URX,UF (retries exhausted: ",
            "failed (nothing listens, or the mutual-TLS handshake failed); the default retry policy gave up; ",
            "the time API worldclockapi.com misbehaves (mesh-lab fault down); fix: mesh-lab fault none",
        ],
    );

    lab.fault("none", None).await.unwrap();
    lab.delete("virtualservice", "worldclockapi-timeout")
        .await
        .unwrap();
    lab.delete("serviceentry", "worldclockapi-egress-rule")
        .await
        .unwrap();
    lab.set_mode(mesh_istiod::model::sidecar::Mode::RegistryOnly)
        .await
        .unwrap();
    let (_, x) = send(&lab, 1, None).await;
    in_graph(&lab, "recommendation-v3", "block_all").await;
    lab.stop().await;
    let (_, line) = one(&x, "recommendation-v3", "block_all");
    has(
        &line,
        &[
            "502 block_all (blocked: the outbound policy is REGISTRY_ONLY",
            "no ServiceEntry declares worldclockapi.com; fix: mesh-lab apply -f \
             istio/service-entry-egress-worldclockapi.yml",
        ],
    );
}

/// `guided` prints the reason under a failing answer and its ✘ carries the same words: the chaos chapter run
/// on a lab where a learner left deny-all applied fails its first step, and says it is customer's RBAC.
#[tokio::test]
async fn guided_says_why_under_a_failing_answer_and_on_its_cross() {
    let lab = lab().await;
    lab.apply_file(&istio("authorization-policy-deny-all.yml"))
        .await
        .unwrap();
    let files = mesh_lab::guided::guide::LabFiles::find(&repo().join("istio")).unwrap();
    let chapters = mesh_lab::guided::chapters("chaos").unwrap();
    let mut out = Vec::new();
    let outcome = mesh_lab::guided::run_chapters(&lab, &files, &chapters, &mut out).await;
    lab.stop().await;
    let text = String::from_utf8_lossy(&out);
    let outcome = outcome.unwrap();
    let why = "customer's sidecar: 403 RBAC (denied: no AuthorizationPolicy rule allows it (RBAC: access \
               denied)); route inbound; cluster ";
    has(
        &text,
        &[
            &format!("  RBAC: access denied\n  … (97 more)\n  ↳ {why}"),
            "in force on customer: AuthorizationPolicy deny-all: ALLOW, no rules (allows nothing); \
             AuthorizationPolicy deny-all has no rules, so it allows nothing; fix: mesh-lab delete \
             authorizationpolicy deny-all",
        ],
    );
    assert_eq!(outcome.failed.len(), 2, "{text}");
    has(
        &outcome.failed[0],
        &[
            "expected about half aborted, got 0 aborted and 0 answers; why: ",
            why,
            "(x100)",
        ],
    );
    assert!(
        !outcome.failed[1].contains("why:"),
        "step 2 sent no request through Guide::send: {}",
        outcome.failed[1]
    );
}
