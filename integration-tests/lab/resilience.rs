//! The resilience chapter through the gateway with the shipped istio/ files: the timeout against the slow v2, the
//! retries past a misbehaving v2, the default retry policy leaving a 503 alone, the circuit breaker (ejection and
//! overflow). Exact bodies and statuses; attempts and response flags from preference's sidecar access log.

use mesh_lab::Lab;
use mesh_lab::dataplane::envoy::AccessLogEntry;
use mesh_lab::guided::send::{Answer, parallel, requests};

use crate::routing::{line, preference_calls, tally};
use crate::{http, istio, lab, repo};

const CLUSTER: &str = "outbound|8080||recommendation.tutorial.svc.cluster.local";

/// `oc exec deploy/recommendation-v2 -c istio-proxy -- curl -s localhost:8080/misbehave`.
async fn misbehave(lab: &Lab) {
    crate::misbehave_at(lab.app_addr("recommendation-v2").await.unwrap()).await;
}

fn misbehavior(v2: &str) -> String {
    format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{v2}'\n"
    )
}

/// v2's sidecar's inbound log: what reached v2's app.
async fn at_v2(lab: &Lab, n: usize) -> Vec<AccessLogEntry> {
    lab.wait_proxy_log("recommendation-v2", "virtualInbound", n, |_| true)
        .await
}

fn flags(e: &AccessLogEntry) -> &str {
    e.response_flags.as_deref().unwrap_or("")
}

/// `Deployment-v2-timeout.yml` (v2 sleeps 3s) and the 1s timeout: calls that land on v2 are cut by preference's
/// sidecar after 1s (504, flag UT) and customer reports preference's 503; v1's answer at once. Requests until
/// both were seen twice, at most 30 (each lands on v2 with probability about 1/2).
#[tokio::test]
async fn the_timeout_cuts_the_slow_v2_after_one_second_while_v1_answers_at_once() {
    let lab = lab().await;
    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v2-timeout.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-timeout.yml"))
        .await
        .unwrap();
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let timed_out =
        "customer => Error: 503 - preference => Error: 504 - upstream request timeout\n";
    let client = http();
    let mut a: Vec<Answer> = Vec::new();
    while a.len() < 30 {
        a.extend(requests(&client, &lab.gateway_url, 1, None).await);
        let cut = a.iter().filter(|x| x.body == timed_out).count();
        if cut >= 2 && a.len() - cut >= 2 {
            break;
        }
    }
    let log = preference_calls(&lab, a.len()).await;
    lab.stop().await;
    let seen = tally(&a, &[("v1", v1.as_str())], &[(503, timed_out)]);
    let cut = seen.get(timed_out).copied().unwrap_or(0);
    assert!(
        cut >= 2 && seen.get("v1").copied().unwrap_or(0) >= 2,
        "{seen:?} in {} requests",
        a.len()
    );
    for x in &a {
        let ms = x.elapsed.as_millis();
        if x.body == timed_out {
            assert!((990..2500).contains(&ms), "a timeout after {ms} ms");
        } else {
            assert!(ms < 900, "v1 answered after {ms} ms");
        }
    }
    let ut: Vec<&AccessLogEntry> = log.iter().filter(|e| flags(e) == "UT").collect();
    assert_eq!(log.len(), a.len());
    assert_eq!(ut.len() as u64, cut, "{log:?}");
    for e in &ut {
        assert_eq!(e.response_code, Some(504));
        assert_eq!(e.upstream_cluster.as_deref(), Some(CLUSTER));
        // %DURATION% runs from the request's first byte, the timeout from its end; measured 997 ms: Envoy's
        // timer (millisecond, its own clock) may read a few ms short.
        let d = e.duration_ms.unwrap();
        assert!(
            (950..1800).contains(&d),
            "the sidecar timed out after {d} ms"
        );
    }
}

/// retry.yml (3 attempts on 5xx, the previous host avoided) with v2 misbehaving: every call answers from v1;
/// every attempt beyond the first was one of v2's 503s.
#[tokio::test]
async fn retries_hide_the_misbehaving_v2_and_every_extra_attempt_is_one_of_its_503s() {
    const N: usize = 20;
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    misbehave(&lab).await;
    lab.apply_file(&istio("virtual-service-recommendation-retry.yml"))
        .await
        .unwrap();
    let a = requests(&http(), &lab.gateway_url, N, None).await;
    let log = preference_calls(&lab, N).await;
    let retried: u64 = log.iter().map(|e| e.attempts.unwrap_or(1) - 1).sum();
    let v2_log = at_v2(&lab, retried as usize).await;
    lab.stop().await;
    let want: Vec<(u16, String)> = (1..=N as u64).map(|n| (200, line("v1", &v1, n))).collect();
    let got: Vec<(u16, String)> = a.iter().map(|x| (x.status, x.body.clone())).collect();
    assert_eq!(got, want);
    assert_eq!(log.len(), N);
    assert!(
        log.iter()
            .all(|e| e.response_code == Some(200) && e.upstream_cluster.as_deref() == Some(CLUSTER)),
        "{log:?}"
    );
    // Each call lands on v2 first with probability about 1/2: none in 20 is a 1 in a million event.
    assert!(retried >= 1, "no call was retried: {log:?}");
    assert_eq!(v2_log.len() as u64, retried, "{v2_log:?}");
    assert!(v2_log.iter().all(|e| e.response_code == Some(503)));
}

/// Without a VirtualService the default retry policy (istiod's: connect-failure, refused-stream, unavailable,
/// cancelled, retriable-status-codes with no codes) does not retry v2's 503: the caller sees it, in one attempt.
#[tokio::test]
async fn the_default_retry_policy_does_not_retry_a_503_so_the_misbehaving_v2_is_seen() {
    const N: usize = 20;
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    misbehave(&lab).await;
    let a = requests(&http(), &lab.gateway_url, N, None).await;
    let log = preference_calls(&lab, N).await;
    let bad = misbehavior(&v2);
    let failed = a.iter().filter(|x| x.body == bad).count();
    let v2_log = at_v2(&lab, failed).await;
    lab.stop().await;
    let seen = tally(&a, &[("v1", v1.as_str())], &[(503, bad.as_str())]);
    // About half land on v2: none in 20 is a 1 in a million event.
    assert!(failed >= 1, "{seen:?}");
    assert_eq!(log.len(), N);
    assert!(log.iter().all(|e| e.attempts == Some(1)), "{log:?}");
    let failed_log = log.iter().filter(|e| e.response_code == Some(503)).count();
    assert_eq!(failed_log, failed);
    assert_eq!(v2_log.len(), failed, "{v2_log:?}");
}

/// circuit-breaker.yml with the 50/50 VirtualService and v2 misbehaving: v2's first 503 ejects its only pod, then
/// its half gets `no healthy upstream` (flag UH, panic mode off) while v1 answers; 40 calls at once overflow
/// the pool of 1 (flag UO).
#[tokio::test]
async fn the_circuit_breaker_ejects_v2_after_one_503_and_overflows_beyond_a_pool_of_one() {
    const N: usize = 20;
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    lab.apply_file(&istio(
        "destination-rule-recommendation-circuit-breaker.yml",
    ))
    .await
    .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-v1-v2-50-50.yml"))
        .await
        .unwrap();
    misbehave(&lab).await;
    let client = http();
    let a = requests(&client, &lab.gateway_url, N, None).await;
    let log = preference_calls(&lab, N).await;
    let burst = parallel(&client, &lab.gateway_url, 40).await;
    let (proxy, listener) = crate::routing::PREFERENCE_OUT;
    let overflow = "customer => Error: 503 - preference => Error: 503 - upstream connect error or disconnect/reset before headers. reset reason: overflow\n";
    let overflowed = burst.iter().filter(|x| x.body == overflow).count();
    let uo = lab
        .wait_proxy_log(proxy, listener, overflowed, |e| flags(e) == "UO")
        .await;
    let v2_log = at_v2(&lab, 1).await;
    lab.stop().await;
    let bad = misbehavior(&v2);
    let uh = "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n";
    let seen = tally(
        &a,
        &[("v1", v1.as_str())],
        &[(503, bad.as_str()), (503, uh)],
    );
    let first = a.iter().position(|x| x.body == bad);
    assert_eq!(seen.get(bad.as_str()), Some(&1), "{seen:?}");
    assert!(
        a[..first.unwrap()].iter().all(|x| x.body != uh),
        "no healthy upstream before v2 failed: {seen:?}"
    );
    let v2_calls: Vec<&AccessLogEntry> = log
        .iter()
        .filter(|e| {
            e.upstream_cluster.as_deref()
                == Some("outbound|8080|version-v2|recommendation.tutorial.svc.cluster.local")
        })
        .collect();
    assert_eq!(
        v2_calls.len() as u64,
        1 + seen.get(uh).copied().unwrap_or(0)
    );
    assert_eq!(flags(v2_calls[0]), "-");
    assert!(
        v2_calls[1..]
            .iter()
            .all(|e| flags(e) == "UH" && e.response_code == Some(503))
    );
    assert_eq!(
        v2_log.len(),
        1,
        "v2's app saw only the call that ejected it"
    );
    // The burst: v1's answers, v2's half still ejected, the rest overflowed.
    let mut counters = Vec::new();
    for x in &burst {
        let prefix = mesh_lab::guided::send::chain_prefix("v1", v1.as_str());
        match x.body.strip_prefix(&prefix) {
            Some(n) => counters.push(n.trim_end().parse::<u64>().unwrap()),
            None => assert!(x.body == uh || x.body == overflow, "{:?}", x.body),
        }
        assert_eq!(
            x.status,
            if x.body.starts_with(&prefix) {
                200
            } else {
                503
            }
        );
    }
    counters.sort();
    let from = seen["v1"] + 1;
    assert_eq!(
        counters,
        (from..from + counters.len() as u64).collect::<Vec<_>>()
    );
    assert!(overflowed >= 1, "no overflow among 40 calls at once");
    assert_eq!(uo.len(), overflowed);
}

/// retry.yml's `perTryTimeout: 2s` against `Deployment-v2-timeout.yml` (v2 sleeps 3s): a call that lands on v2
/// first is cut after 2s and retried on v1 (retryOn 5xx covers a per-try timeout), so every caller gets v1's
/// answer, those after about 2s in two attempts. Requests until both kinds were seen, at most 30.
#[tokio::test]
async fn a_retry_after_the_per_try_timeout_answers_from_v1_after_two_seconds() {
    let lab = lab().await;
    lab.apply_file(&repo().join("recommendation/kubernetes/Deployment-v2-timeout.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-retry.yml"))
        .await
        .unwrap();
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let client = http();
    let mut a: Vec<Answer> = Vec::new();
    let slow = |a: &[Answer]| a.iter().filter(|x| x.elapsed.as_millis() >= 1900).count();
    while a.len() < 30 {
        a.extend(requests(&client, &lab.gateway_url, 1, None).await);
        if slow(&a) >= 1 && a.len() > slow(&a) {
            break;
        }
    }
    let log = preference_calls(&lab, a.len()).await;
    lab.stop().await;
    let want: Vec<(u16, String)> = (1..=a.len() as u64)
        .map(|n| (200, line("v1", &v1, n)))
        .collect();
    let got: Vec<(u16, String)> = a.iter().map(|x| (x.status, x.body.clone())).collect();
    assert_eq!(got, want);
    let n_slow = slow(&a);
    assert!(n_slow >= 1 && a.len() > n_slow, "{n_slow} of {}", a.len());
    for x in &a {
        let ms = x.elapsed.as_millis();
        assert!(
            ms < 900 || (1990..3500).contains(&ms),
            "a call took {ms} ms"
        );
    }
    assert_eq!(log.len(), a.len());
    let retried: Vec<&AccessLogEntry> = log.iter().filter(|e| e.attempts == Some(2)).collect();
    assert_eq!(retried.len(), n_slow, "{log:?}");
    assert!(
        log.iter()
            .all(|e| e.response_code == Some(200) && e.attempts <= Some(2))
    );
    for e in retried {
        let d = e.duration_ms.unwrap();
        assert!((1950..3000).contains(&d), "retried after {d} ms");
    }
}
