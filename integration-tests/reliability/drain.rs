//! Draining, the one home of its tests: SIGTERM under load, for each service in turn. The requests in flight
//! finish with their normal answer, new connections are refused at once, and the process logs "received SIGTERM,
//! draining", exits 0 within its grace period and logs "stopped".

use std::{
    collections::BTreeSet,
    net::TcpStream,
    time::{Duration, Instant},
};

use integration_tests::{process::start_chain, wait};

use crate::util::addr;

/// Requests held in flight when SIGTERM arrives.
const IN_FLIGHT: usize = 16;
/// recommendation holds each request this long, so all of them are provably in flight at every hop.
const HOLD: &str = "1500ms";
const GRACE: &str = "5s";

async fn sigterm_drains(target: &str) {
    // Arrange: the chain as three processes; the target drains within GRACE.
    let host = format!("drain-{target}");
    let grace = |name: &str| if name == target { GRACE } else { "10s" };
    let chain = start_chain(
        &[],
        [
            &[("SHUTDOWN_TIMEOUT", grace("customer"))],
            &[("SHUTDOWN_TIMEOUT", grace("preference"))],
            &[
                ("HOSTNAME", &host),
                ("RESPONSE_DELAY", HOLD),
                ("SHUTDOWN_TIMEOUT", grace("recommendation")),
            ],
        ],
    );
    let client = integration_tests::reqwest_client();
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (client, url) = (client.clone(), chain.customer.url.clone());
            tokio::spawn(async move {
                let r = client.get(&url).send().await?;
                let status = r.status().as_u16();
                Ok::<_, reqwest::Error>((status, r.text().await?, Instant::now()))
            })
        })
        .collect();
    // Every request has reached recommendation: the counter says so.
    chain.recommendation.wait_for_line(
        &format!("recommendation request from {host}: {IN_FLIGHT}"),
        Duration::from_secs(10),
    );
    let mut victim = match target {
        "recommendation" => chain.recommendation,
        "preference" => chain.preference,
        _ => chain.customer,
    };
    let victim_addr = addr(&victim.url);
    // Act
    let signalled = Instant::now();
    victim.signal("TERM");
    // Assert: draining starts, and from then on new connections are refused (not accepted and left hanging).
    victim.wait_for_line("received SIGTERM, draining", Duration::from_secs(5));
    let refused_at = wait::until(
        &format!("{target} refusing new connections after SIGTERM"),
        Duration::from_secs(3).saturating_sub(signalled.elapsed()),
        || match TcpStream::connect_timeout(&victim_addr, Duration::from_millis(200)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(Instant::now()),
            _ => None,
        },
    );
    let mut counts = BTreeSet::new();
    let mut last_done = signalled;
    for request in requests {
        let (status, body, done) = tokio::time::timeout(Duration::from_secs(15), request)
            .await
            .expect("in-flight request bounded")
            .expect("task")
            .unwrap_or_else(|e| panic!("{target}: an in-flight request failed: {e:?}"));
        assert_eq!(status, 200, "{target}: {body}");
        let prefix = format!("customer => preference => recommendation v1 from '{host}': ");
        let count: u64 = body
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix('\n'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{target}: unexpected body {body:?}"));
        counts.insert(count);
        last_done = last_done.max(done);
    }
    assert_eq!(
        counts,
        (1..=IN_FLIGHT as u64).collect(),
        "{target}: every in-flight request answered once"
    );
    assert!(
        refused_at < last_done,
        "{target}: new connections were refused while requests were still draining"
    );
    let status = victim.wait_exit(Duration::from_secs(8));
    assert!(
        status.success(),
        "{target}: exit 0 after draining, got {status}"
    );
    victim.wait_for_line("stopped", Duration::from_secs(1));
}

/// One service at a time: recommendation drains its own handlers, preference and customer their calls to the
/// next hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_each_service() {
    for target in ["recommendation", "preference", "customer"] {
        sigterm_drains(target).await;
    }
}
