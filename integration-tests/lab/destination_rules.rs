//! DestinationRule fields as istiod translates them, on the real Envoy through the gateway, with objects
//! written the way learners write them (networking/core/cluster.rs, docs/LOCAL-MESH.md): a subset's own
//! `trafficPolicy` (its connection pool, its outlier detection) applying to that subset only, a
//! namespace-wide rule's `tls.mode` (ISTIO_MUTUAL keeps the chain answering under STRICT, DISABLE sends plain
//! text the STRICT sidecars refuse), and the connection pool of a Service's rule on its sidecars' inbound side.

use std::collections::BTreeMap;
use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::dataplane::envoy::AccessLogEntry;
use mesh_lab::guided::send::{Answer, chain_prefix, parallel, requests};

use crate::routing::{PREFERENCE_OUT, line, tally};
use crate::{http, istio, lab, repo};

const R: &str = "recommendation.tutorial.svc.cluster.local";

fn flags(e: &AccessLogEntry) -> &str {
    e.response_flags.as_deref().unwrap_or("")
}

/// Answers of calls sent at once, which may come in any order: each is a 200 chain line from one of `pods`
/// (version, pod) or `other` (a 503 body); every pod's counters together are exactly 1..=n (so no other
/// request reached it). The answers per version, and `other`'s count under its body.
fn burst_tally(answers: &[Answer], pods: &[(&str, &str)], other: &str) -> BTreeMap<String, u64> {
    let mut counters: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut others = 0;
    for a in answers {
        if (a.status, a.body.as_str()) == (503, other) {
            others += 1;
            continue;
        }
        let (v, n) = pods
            .iter()
            .find_map(|(v, pod)| {
                let n = a.body.strip_prefix(&chain_prefix(v, pod))?;
                Some((*v, n.trim_end().parse::<u64>().ok()?))
            })
            .unwrap_or_else(|| panic!("an unexpected answer: {a:?}"));
        assert_eq!(a.status, 200, "{a:?}");
        counters.entry(v).or_default().push(n);
    }
    let mut seen = BTreeMap::new();
    for (v, mut ns) in counters {
        ns.sort();
        assert_eq!(ns, (1..=ns.len() as u64).collect::<Vec<_>>(), "{v}");
        seen.insert(v.to_owned(), ns.len() as u64);
    }
    if others > 0 {
        seen.insert(other.to_owned(), others);
    }
    seen
}

async fn apply(lab: &Lab, name: &str, yaml: &str) {
    lab.apply_text(Path::new(name), yaml)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
}

/// Subset `version-v2` alone has a pool of one connection and one pending request (v1 inherits the top
/// level's generous one), and v2 answers after 3 s (`Deployment-v2-timeout.yml`): of 40 calls at once under
/// the 50/50 split, every one routed to v1 answers, v2 answers the one it holds and the one pending, and
/// every other call routed to v2 overflows (503, flag UO) — on the v2 subset's cluster only.
#[tokio::test]
async fn a_subsets_connection_pool_overflows_that_subset_only() {
    let lab = lab().await;
    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v2-timeout.yml"))
        .await
        .unwrap();
    apply(
        &lab,
        "dr-subset-pool.yml",
        "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: recommendation
spec:
  host: recommendation
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 100
      http:
        http1MaxPendingRequests: 100
  subsets:
  - name: version-v1
    labels:
      version: v1
  - name: version-v2
    labels:
      version: v2
    trafficPolicy:
      connectionPool:
        tcp:
          maxConnections: 1
        http:
          http1MaxPendingRequests: 1
",
    )
    .await;
    lab.apply_file(&istio("virtual-service-recommendation-v1-v2-50-50.yml"))
        .await
        .unwrap();
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let burst = parallel(&http(), &lab.gateway_url, 40).await;
    let (proxy, listener) = PREFERENCE_OUT;
    let log = lab.wait_proxy_log(proxy, listener, 40, |_| true).await;
    lab.stop().await;
    let overflow = "customer => Error: 503 - preference => Error: 503 - upstream connect error or \
                    disconnect/reset before headers. reset reason: overflow\n";
    let seen = burst_tally(
        &burst,
        &[("v1", v1.as_str()), ("v2", v2.as_str())],
        overflow,
    );
    let n = |k: &str| seen.get(k).copied().unwrap_or(0);
    assert_eq!(n("v2"), 2, "one held, one pending: {seen:?}");
    assert_eq!(n("v1") + n("v2") + n(overflow), 40, "{seen:?}");
    // 40 calls split 50/50: fewer than 3 on v2 is a 1e-9 event.
    assert!(n(overflow) >= 1, "{seen:?}");
    assert_eq!(log.len(), 40);
    let v2_cluster = format!("outbound|8080|version-v2|{R}");
    let v1_cluster = format!("outbound|8080|version-v1|{R}");
    for e in &log {
        let cluster = e.upstream_cluster.as_deref().unwrap_or("");
        if flags(e) == "UO" {
            assert_eq!(cluster, v2_cluster, "{e:?}");
            assert_eq!(e.response_code, Some(503));
        } else {
            assert!(cluster == v1_cluster || cluster == v2_cluster, "{e:?}");
            assert_eq!((e.response_code, flags(e)), (Some(200), "-"), "{e:?}");
        }
    }
    let uo = log.iter().filter(|e| flags(e) == "UO").count() as u64;
    assert_eq!(uo, n(overflow));
}

/// Pool ejection written per subset (`networking.istio.io/v1`): subset `version-v2` ejects its pod after
/// one 5xx, panic mode off; with v2 misbehaving under the 50/50 split, v2's first 503 is seen once, then
/// v2's half answers `no healthy upstream` (UH) while v1 answers every call of its half.
#[tokio::test]
async fn a_subsets_outlier_detection_ejects_that_subsets_pod() {
    const N: usize = 20;
    let lab = lab().await;
    apply(
        &lab,
        "dr-subset-ejection.yml",
        "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: recommendation
spec:
  host: recommendation
  subsets:
  - name: version-v1
    labels:
      version: v1
  - name: version-v2
    labels:
      version: v2
    trafficPolicy:
      outlierDetection:
        consecutive5xxErrors: 1
        interval: 1s
        baseEjectionTime: 3m
        maxEjectionPercent: 100
",
    )
    .await;
    lab.apply_file(&istio("virtual-service-recommendation-v1-v2-50-50.yml"))
        .await
        .unwrap();
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    crate::misbehave_at(lab.app_addr("recommendation-v2").await.unwrap()).await;
    let a = requests(&http(), &lab.gateway_url, N, None).await;
    let log = crate::routing::preference_calls(&lab, N).await;
    lab.stop().await;
    let bad = format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{v2}'\n"
    );
    let uh = "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n";
    let seen = tally(
        &a,
        &[("v1", v1.as_str())],
        &[(503, bad.as_str()), (503, uh)],
    );
    let first = a.iter().position(|x| x.body == bad).expect("v2 was called");
    assert_eq!(seen.get(bad.as_str()), Some(&1), "{seen:?}");
    assert!(a[..first].iter().all(|x| x.body != uh), "{seen:?}");
    let v2_cluster = format!("outbound|8080|version-v2|{R}");
    let v2_calls: Vec<&AccessLogEntry> = log
        .iter()
        .filter(|e| e.upstream_cluster.as_deref() == Some(v2_cluster.as_str()))
        .collect();
    assert_eq!(
        v2_calls.len() as u64,
        1 + seen.get(uh).copied().unwrap_or(0)
    );
    assert!(
        v2_calls[1..]
            .iter()
            .all(|e| flags(e) == "UH" && e.response_code == Some(503)),
        "{v2_calls:?}"
    );
}

const NAMESPACE_WIDE: &str = "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: default
spec:
  host: \"*.tutorial.svc.cluster.local\"
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
";

/// What a proxy answers when the STRICT sidecar it calls in plain text closes the connection.
const CLOSED: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// Under STRICT (`peer-authentication-tutorial-strict.yml`): the upstream tutorial's way back from mTLS,
/// host `*` with `tls.mode: DISABLE`, makes every proxy send plain text, which the STRICT sidecars refuse
/// at the connection — the gateway's call to customer fails; the mTLS chapter's namespace-wide rule,
/// `*.tutorial.svc.cluster.local` with ISTIO_MUTUAL, is the more specific host and wins: the mesh
/// certificates, so the chain answers (recommendation's own rule, its subsets without `tls`, is more specific
/// still there); the same rule with DISABLE fails again.
#[tokio::test]
async fn the_most_specific_rule_sets_the_client_tls_of_every_service() {
    let lab = lab().await;
    let v1 = crate::only_v1(&lab).await;
    lab.apply_file(&istio("peer-authentication-tutorial-strict.yml"))
        .await
        .unwrap();
    let answers = |a: Vec<Answer>| -> Vec<(u16, String)> {
        a.into_iter().map(|x| (x.status, x.body)).collect()
    };
    let closed = vec![(503, CLOSED.to_owned()); 2];
    apply(
        &lab,
        "dr-disable-mtls.yml",
        "
apiVersion: \"networking.istio.io/v1alpha3\"
kind: \"DestinationRule\"
metadata:
  name: \"disable-mtls\"
spec:
  host: \"*\"
  trafficPolicy:
    tls:
      mode: DISABLE
",
    )
    .await;
    let a = answers(requests(&http(), &lab.gateway_url, 2, None).await);
    assert_eq!(a, closed);
    apply(&lab, "dr-namespace-mtls.yml", NAMESPACE_WIDE).await;
    let a = answers(requests(&http(), &lab.gateway_url, 2, None).await);
    assert_eq!(a, [(200, line("v1", &v1, 1)), (200, line("v1", &v1, 2))]);
    apply(
        &lab,
        "dr-namespace-plain.yml",
        &NAMESPACE_WIDE.replace("ISTIO_MUTUAL", "DISABLE"),
    )
    .await;
    let a = answers(requests(&http(), &lab.gateway_url, 2, None).await);
    lab.stop().await;
    assert_eq!(a, closed);
}

/// The connection pool of recommendation's rule (the top level: one connection, one pending request) on
/// v2's sidecar's inbound cluster too, the server side (cluster_builder.go `buildInboundCluster`), while
/// the client side's subset `version-v2` sets a generous pool of its own: of 10 calls at once to v2 (which
/// answers after 3 s), v2's sidecar holds one, queues one and answers the others itself with its overflow
/// 503 (flag UO on its inbound listener), which preference's sidecar passes on unretried.
#[tokio::test]
async fn the_services_connection_pool_also_bounds_its_sidecars_inbound_side() {
    const N: usize = 10;
    let lab = lab().await;
    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v2-timeout.yml"))
        .await
        .unwrap();
    apply(
        &lab,
        "dr-inbound-pool.yml",
        "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: recommendation
spec:
  host: recommendation
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1
      http:
        http1MaxPendingRequests: 1
  subsets:
  - name: version-v1
    labels:
      version: v1
  - name: version-v2
    labels:
      version: v2
    trafficPolicy:
      connectionPool:
        tcp:
          maxConnections: 100
        http:
          http1MaxPendingRequests: 100
",
    )
    .await;
    lab.apply_file(&istio("virtual-service-recommendation-v2.yml"))
        .await
        .unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let burst = parallel(&http(), &lab.gateway_url, N).await;
    let inbound = lab
        .wait_proxy_log("recommendation-v2", "virtualInbound", N, |_| true)
        .await;
    let (proxy, listener) = PREFERENCE_OUT;
    let out = lab.wait_proxy_log(proxy, listener, N, |_| true).await;
    lab.stop().await;
    let overflow = "customer => Error: 503 - preference => Error: 503 - upstream connect error or \
                    disconnect/reset before headers. reset reason: overflow\n";
    let seen = burst_tally(&burst, &[("v2", v2.as_str())], overflow);
    assert_eq!(seen.get("v2"), Some(&2), "one held, one queued: {seen:?}");
    assert_eq!(seen.get(overflow), Some(&(N as u64 - 2)), "{seen:?}");
    assert_eq!(inbound.len(), N, "{inbound:?}");
    let uo: Vec<&AccessLogEntry> = inbound.iter().filter(|e| flags(e) == "UO").collect();
    assert_eq!(uo.len(), N - 2, "{inbound:?}");
    assert!(
        uo.iter().all(|e| e.response_code == Some(503)
            && e.upstream_cluster.as_deref() == Some("inbound|8080||")),
        "{uo:?}"
    );
    // The client side did not overflow: every call left preference's sidecar in one attempt.
    assert_eq!(out.len(), N);
    assert!(
        out.iter()
            .all(|e| flags(e) != "UO" && e.attempts == Some(1)),
        "{out:?}"
    );
}

/// The upstream tutorial's way of writing pool ejection, per subset with the deprecated `consecutiveErrors:
/// 1`, empty pools, RANDOM and `5.000s` durations: istiod reads no `consecutiveErrors`, so Envoy's default
/// of 5 consecutive 5xx ejects. All traffic to v2, v2 misbehaving: exactly five of v2's 503s, then `no
/// healthy upstream`.
#[tokio::test]
async fn a_deprecated_consecutive_errors_leaves_envoys_default_of_five() {
    let lab = lab().await;
    apply(
        &lab,
        "dr-pool-ejection-upstream-style.yml",
        "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  creationTimestamp: null
  name: recommendation
  namespace: tutorial
spec:
  host: recommendation
  subsets:
  - labels:
      version: v1
    name: version-v1
  - labels:
      version: v2
    name: version-v2
    trafficPolicy:
      connectionPool:
        http: {}
        tcp: {}
      loadBalancer:
        simple: RANDOM
      outlierDetection:
        baseEjectionTime: 15.000s
        consecutiveErrors: 1
        interval: 5.000s
        maxEjectionPercent: 100
",
    )
    .await;
    lab.apply_file(&istio("virtual-service-recommendation-v2.yml"))
        .await
        .unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    crate::misbehave_at(lab.app_addr("recommendation-v2").await.unwrap()).await;
    let a = requests(&http(), &lab.gateway_url, 7, None).await;
    lab.stop().await;
    let bad = format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{v2}'\n"
    );
    let uh = "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n";
    let got: Vec<(u16, &str)> = a.iter().map(|x| (x.status, x.body.as_str())).collect();
    let mut want = vec![(503, bad.as_str()); 5];
    want.extend([(503, uh); 2]);
    assert_eq!(got, want);
}
