//! The chaos chapter through the gateway with the shipped istio/ files: preference's sidecar aborts or delays half
//! the calls to recommendation. Shares within exact binomial bounds, exact bodies, the fault flags in its log.

use std::time::Duration;

use mesh_lab::guided::send::{Answer, chain_prefix, parallel, requests};

use crate::routing::{PREFERENCE_OUT, binomial_bounds, tally};
use crate::{http, istio, lab};

/// fault-abort.yml: 503 on 50 % of 200 calls. The aborted count lies in the exact binomial interval whose tails
/// have probability at most 1e-6 (66-134); an aborted call never reaches recommendation, so each pod's counter
/// counts only the answers it gave; preference's sidecar logs each abort with flag FI.
#[tokio::test]
async fn the_abort_fault_fails_half_the_calls_with_fault_filter_abort_before_recommendation() {
    const N: u64 = 200;
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-fault-abort.yml"))
        .await
        .unwrap();
    let a = requests(&http(), &lab.gateway_url, N as usize, None).await;
    let (proxy, listener) = PREFERENCE_OUT;
    let log = lab
        .wait_proxy_log(proxy, listener, N as usize, |_| true)
        .await;
    lab.stop().await;
    let aborted = "customer => Error: 503 - preference => Error: 503 - fault filter abort\n";
    let seen = tally(
        &a,
        &[("v1", v1.as_str()), ("v2", v2.as_str())],
        &[(503, aborted)],
    );
    let n = seen.get(aborted).copied().unwrap_or(0);
    let (lo, hi) = binomial_bounds(N, 0.5, 1e-6);
    assert!(
        (lo..=hi).contains(&n),
        "{n} of {N} aborted, expected {lo}-{hi}: {seen:?}"
    );
    assert_eq!(log.len() as u64, N);
    let fi: Vec<_> = log
        .iter()
        .filter(|e| e.response_flags.as_deref() == Some("FI"))
        .collect();
    assert_eq!(fi.len() as u64, n);
    assert!(fi.iter().all(|e| e.response_code == Some(503)), "{fi:?}");
}

/// fault-delay.yml: 7s on 50 % of 64 calls sent at once (so the test takes 7s, not 7s per call). The delayed
/// count lies in its exact binomial interval (tails at most 1e-6: 13-51), each delayed call took 7-9.5s, every
/// other under 3s, every answer is the chain's (each pod's counters 1..n), and preference's sidecar logged
/// exactly the delayed ones with flag DI.
#[tokio::test]
async fn the_delay_fault_holds_half_the_calls_seven_seconds_and_all_answer_correctly() {
    const N: u64 = 64;
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-fault-delay.yml"))
        .await
        .unwrap();
    let a = parallel(&http(), &lab.gateway_url, N as usize).await;
    let (proxy, listener) = PREFERENCE_OUT;
    let log = lab
        .wait_proxy_log(proxy, listener, N as usize, |_| true)
        .await;
    lab.stop().await;
    let slow: Vec<&Answer> = a
        .iter()
        .filter(|x| x.elapsed >= Duration::from_secs(7))
        .collect();
    for x in &a {
        let ms = x.elapsed.as_millis();
        assert!(
            ms < 3000 || (7000..9500).contains(&ms),
            "a call took {ms} ms: {:?}",
            x.body
        );
    }
    // Answered in any order: each pod's counters are 1..n.
    for (v, pod) in [("v1", v1.as_str()), ("v2", v2.as_str())] {
        let prefix = chain_prefix(v, pod);
        let mut counters: Vec<u64> = a
            .iter()
            .filter_map(|x| x.body.strip_prefix(&prefix))
            .map(|n| n.strip_suffix('\n').unwrap().parse().unwrap())
            .collect();
        counters.sort();
        assert_eq!(counters, (1..=counters.len() as u64).collect::<Vec<_>>());
    }
    assert!(
        a.iter().all(|x| x.status == 200 && x.version().is_some()),
        "{:?}",
        a.iter().map(|x| &x.body).collect::<Vec<_>>()
    );
    let (lo, hi) = binomial_bounds(N, 0.5, 1e-6);
    let n = slow.len() as u64;
    assert!(
        (lo..=hi).contains(&n),
        "{n} of {N} delayed, expected {lo}-{hi}"
    );
    assert_eq!(log.len() as u64, N);
    let di = log
        .iter()
        .filter(|e| e.response_flags.as_deref() == Some("DI"))
        .count() as u64;
    assert_eq!(di, n);
}
