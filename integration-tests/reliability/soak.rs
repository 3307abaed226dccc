//! Soak: the chain as three real processes under 32 connections → no failure at all, and flat memory.

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use integration_tests::process::{Proc, start_chain};

use crate::util::{load, rss_kib};

/// Length of the soak: `RELIABILITY_SOAK_SECS` (default 20).
fn soak_length() -> Duration {
    let secs = std::env::var("RELIABILITY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20u64);
    Duration::from_secs(secs.max(4))
}

fn rss_of(procs: &[(&str, &Proc)]) -> Vec<u64> {
    procs.iter().map(|(_, p)| rss_kib(p.child.id())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_32_connections_no_failures_and_flat_rss() {
    // Arrange: the chain as users run it, one process per service.
    let chain = start_chain(&[], [&[], &[], &[("HOSTNAME", "soak")]]);
    let procs = [
        ("customer", &chain.customer),
        ("preference", &chain.preference),
        ("recommendation", &chain.recommendation),
    ];
    let length = soak_length();
    let warm_up = length / 4;
    let stop = Arc::new(AtomicBool::new(false));
    let url = chain.customer.url.clone();
    let started = Instant::now();
    let run = tokio::spawn(load(url, 32, length, stop.clone()));
    // Act: sample RSS every 250 ms; the reference is the highest value in the last second of warm-up.
    let mut reference = vec![0u64; procs.len()];
    let mut peak_after = vec![0u64; procs.len()];
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = rss_of(&procs);
        let at = started.elapsed();
        if at + Duration::from_secs(1) >= warm_up && at < warm_up {
            reference = reference.iter().zip(&now).map(|(a, b)| *a.max(b)).collect();
        } else if at >= warm_up {
            peak_after = peak_after
                .iter()
                .zip(&now)
                .map(|(a, b)| *a.max(b))
                .collect();
        }
    }
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("load ends within its bound")
        .expect("load task");
    // Assert
    let first = report.first_failure.as_deref().unwrap_or("none");
    assert_eq!(report.non_2xx, 0, "{report:?}, first failure: {first}");
    assert_eq!(
        report.socket_errors, 0,
        "{report:?}, first failure: {first}"
    );
    assert!(report.ok > 0, "{report:?}");
    for (i, (name, _)) in procs.iter().enumerate() {
        let (warm, peak) = (reference[i], peak_after[i]);
        assert!(warm > 0 && peak > 0, "{name}: RSS sampled ({warm}, {peak})");
        assert!(
            peak * 100 <= warm * 110,
            "{name}: RSS grew from {warm} KiB after warm-up to {peak} KiB (> 10 %) over {length:?}, {} requests",
            report.ok
        );
    }
    eprintln!(
        "soak {length:?}: {} requests ({:.0}/s), RSS KiB after warm-up {reference:?}, peak after {peak_after:?}",
        report.ok,
        report.ok as f64 / length.as_secs_f64()
    );
}
