//! `mesh-lab guided resilience`: the tutorial's resilience chapter on the local mesh — retries, a timeout and
//! the circuit breaker against a misbehaving or slow recommendation v2 — each step with the `oc` command it
//! stands for and a ✔/✘ verdict from the answers' bodies and times and Envoy's response flags.

use std::io::Write;
use std::time::Duration;

use crate::guided::Step;
use crate::guided::guide::{Guide, LabFiles};
use crate::guided::send::{Answer, chain_prefix, parallel, pods};

const MISBEHAVE: &str =
    "oc exec deploy/recommendation-v2 -c istio-proxy -- curl -s localhost:8080/misbehave";
const BEHAVE: &str =
    "oc exec deploy/recommendation-v2 -c istio-proxy -- curl -s localhost:8080/behave";

/// The chapter's steps.
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "v2 misbehaves: without a rule, what becomes of its 503",
            &[MISBEHAVE],
            &["for i in $(seq 20); do curl -s $GATEWAY_URL; done"],
            v2_misbehaves
        ),
        step!(
            2,
            "retries: 3 attempts, 2s each, on 5xx",
            &["oc apply -f istio/virtual-service-recommendation-retry.yml -n tutorial"],
            &["mesh-lab apply -f istio/virtual-service-recommendation-retry.yml"],
            retries
        ),
        step!(
            3,
            "timeout 1s against the slow v2 (Deployment-v2-timeout.yml: v2 sleeps 3s)",
            &[
                BEHAVE,
                "oc apply -f recommendation/kubernetes/Deployment-v2-timeout.yml -n tutorial",
                "oc apply -f istio/virtual-service-recommendation-timeout.yml -n tutorial",
                "oc apply -f recommendation/kubernetes/Deployment-v2.yml -n tutorial",
            ],
            &[
                "mesh-lab apply -f recommendation/kubernetes/Deployment-v2-timeout.yml",
                "mesh-lab apply -f istio/virtual-service-recommendation-timeout.yml",
                "mesh-lab apply -f recommendation/kubernetes/Deployment-v2.yml",
            ],
            timeout
        ),
        step!(
            4,
            "circuit breaker with the 50/50 VirtualService, v2 misbehaving",
            &[
                "oc apply -f istio/destination-rule-recommendation-circuit-breaker.yml -n tutorial",
                "oc apply -f istio/virtual-service-recommendation-v1-v2-50-50.yml -n tutorial",
                MISBEHAVE,
                BEHAVE,
            ],
            &[
                "mesh-lab apply -f istio/destination-rule-recommendation-circuit-breaker.yml",
                "mesh-lab apply -f istio/virtual-service-recommendation-v1-v2-50-50.yml",
            ],
            circuit_breaker
        ),
    ]
}

/// `curl localhost:8080/misbehave` (or `/behave`) in v2's pod: v2 answers 503 from then on (or no longer).
async fn misbehave<W: Write>(g: &mut Guide<'_, W>, on: bool) -> anyhow::Result<()> {
    let addr = g.lab.app_addr("recommendation-v2").await?;
    let path = if on { "misbehave" } else { "behave" };
    g.oc(&format!(
        "oc exec deploy/recommendation-v2 -c istio-proxy -- curl -s localhost:8080/{path}"
    ));
    let r = g
        .http
        .get(format!("http://{addr}/{path}"))
        .send()
        .await?
        .text()
        .await?;
    g.say(&format!("  {}", r.trim_end()));
    Ok(())
}

/// Step 1: v2 misbehaves; without a rule, the calls that land on it fail under current Istio, whose default
/// retry policy leaves a 503 alone (`EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY`, from 1.24). Under Istio 1.20
/// (`up --istio 1.20`, OpenShift Service Mesh 2.6) the default policy retries the 503 on v1 and every call
/// answers.
async fn v2_misbehaves<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) -> anyhow::Result<()> {
    let retried = g.lab.istio.retries_503_by_default();
    let title = if retried {
        "v2 misbehaves: without a rule, Istio before 1.24 retries its 503 on v1"
    } else {
        "v2 misbehaves: without a rule, the calls that land on it fail"
    };
    g.say(&format!("  {title}"));
    misbehave(g, true).await?;
    let a = g.send(20, None).await;
    let failing = a
        .iter()
        .filter(|a| {
            a.body.starts_with(
                "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '",
            )
        })
        .count();
    let release = g.lab.istio;
    if retried {
        g.verdict(
            failing == 0 && a.iter().all(|a| a.status == 200),
            &format!(
                "every call answers: under Istio {release} the default retry policy retries v2's 503 on v1 (from Istio 1.24 the 503s reach the client)"
            ),
            format!("expected no 503 under Istio {release}, got {failing} of v2's"),
        );
    } else {
        g.verdict(
            failing > 0,
            &format!(
                "some calls fail with v2's 503 (under Istio {release} the default retry policy does not retry a 503; Istio 1.20, OpenShift Service Mesh 2.6, retried it: `mesh-lab up --istio 1.20`)"
            ),
            "expected v2's 503 among the answers".into(),
        );
    }
    Ok(())
}

/// Step 2: the retry rule sends the failed calls to v1.
async fn retries<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    let (v1, _) = pods(g).await?;
    if g.apply_step(&files.istio_file("virtual-service-recommendation-retry.yml"))
        .await
    {
        let a = g.send(20, None).await;
        g.all_from(
            &a,
            "v1",
            &v1,
            "only v1 answers, no errors (the retry goes to the other pod)",
        );
    }
    Ok(())
}

/// Step 3: v2 behaves again, then sleeps 3s, the 1s timeout cuts it; then v2 as it was.
async fn timeout<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    misbehave(g, false).await?;
    let (v1, _) = pods(g).await?;
    let v1 = v1.as_str();
    g.oc("oc apply -f recommendation/kubernetes/Deployment-v2-timeout.yml -n tutorial");
    let slow = files
        .repo
        .join("recommendation/kubernetes/Deployment-v2-timeout.yml");
    if g.apply(&slow).await
        && g.apply_step(&files.istio_file("virtual-service-recommendation-timeout.yml"))
            .await
    {
        let a = g.send(12, None).await;
        if g.lab.istio.retries_503_by_default() {
            retried_timeout_verdict(g, &a, v1);
        } else {
            timeout_verdict(g, &a, v1);
        }
    }
    g.oc("oc apply -f recommendation/kubernetes/Deployment-v2.yml -n tutorial");
    g.apply(
        &files
            .repo
            .join("recommendation/kubernetes/Deployment-v2.yml"),
    )
    .await;
    Ok(())
}

/// v1 answers at once, v2's calls end after about 1s with Envoy's `upstream request timeout`.
fn timeout_verdict<W: Write>(g: &mut Guide<'_, W>, a: &[Answer], v1: &str) {
    let timeout_body =
        "customer => Error: 503 - preference => Error: 504 - upstream request timeout\n";
    let timed_out: Vec<&Answer> = a.iter().filter(|a| a.body == timeout_body).collect();
    let fast_v1 = a
        .iter()
        .filter(|a| {
            a.body.starts_with(&chain_prefix("v1", v1)) && a.elapsed < Duration::from_millis(900)
        })
        .count();
    let ok = !timed_out.is_empty()
        && fast_v1 > 0
        && timed_out.len() + fast_v1 == a.len()
        && timed_out.iter().all(|a| {
            a.elapsed >= Duration::from_millis(950) && a.elapsed < Duration::from_millis(2500)
        });
    g.verdict(
        ok,
        &format!(
            "v1 at once ({fast_v1}), v2 cut after ~1s ({}): `{}`",
            timed_out.len(),
            timeout_body.trim_end()
        ),
        format!(
            "expected fast v1 answers and ~1s timeouts, got {:?}",
            a.iter()
                .map(|a| (a.body.trim_end().to_owned(), a.elapsed))
                .collect::<Vec<_>>()
        ),
    );
}

/// Before Istio 1.24 the default retry policy of customer's sidecar retries preference's 503 (its answer
/// to the 504 timeout), so the calls cut after ~1s are tried again and mostly answer from v1, later.
fn retried_timeout_verdict<W: Write>(g: &mut Guide<'_, W>, a: &[Answer], v1: &str) {
    let timeout_body =
        "customer => Error: 503 - preference => Error: 504 - upstream request timeout
";
    let from_v1 = |a: &&Answer| a.body.starts_with(&chain_prefix("v1", v1));
    let late_v1 = a
        .iter()
        .filter(from_v1)
        .filter(|a| a.elapsed >= Duration::from_millis(950))
        .count();
    let ok = late_v1 > 0 && a.iter().all(|a| from_v1(&a) || a.body == timeout_body);
    g.verdict(
        ok,
        &format!(
            "under Istio {} customer's sidecar retries preference's 503 after each ~1s timeout: v1 answers, {late_v1} of them after the timeout",
            g.lab.istio
        ),
        format!(
            "expected v1 answers, some after ~1s, got {:?}",
            a.iter()
                .map(|a| (a.body.trim_end().to_owned(), a.elapsed))
                .collect::<Vec<_>>()
        ),
    );
}

/// Step 4: the circuit breaker with the 50/50 split: v2's first 503 ejects it, and beyond the pool of one
/// connection the sidecar answers 503 overflow.
async fn circuit_breaker<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    let cb = g
        .apply_step(&files.istio_file("destination-rule-recommendation-circuit-breaker.yml"))
        .await
        && g.apply_step(&files.istio_file("virtual-service-recommendation-v1-v2-50-50.yml"))
            .await;
    if !cb {
        return Ok(());
    }
    let (_, v2) = pods(g).await?;
    misbehave(g, true).await?;
    let a = g.send(20, None).await;
    let first = a
        .iter()
        .filter(|a| {
            a.body
                .contains(&format!("recommendation misbehavior from '{v2}'"))
        })
        .count();
    let uh = a
        .iter()
        .filter(|a| {
            a.body == "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n"
        })
        .count();
    if g.lab.istio.retries_503_by_default() {
        g.verdict(
            a.iter().all(|x| x.version() == Some("v1")),
            &format!("under Istio {} the sidecars retry v2's 503 and `no healthy upstream`: every call answers from v1", g.lab.istio),
            format!("expected only v1 answers, got {first} misbehavior 503s and {uh} `no healthy upstream`"),
        );
        pool_overflow(g).await;
        return misbehave(g, false).await;
    }
    g.verdict(
        first == 1 && uh > 0 && a.iter().all(|x| x.version() == Some("v1") || x.status == 503),
        &format!("v2's first 503 ejects it: then its half gets `no healthy upstream` ({uh}), v1 answers the rest"),
        format!("expected one misbehavior 503 then `no healthy upstream`, got {first} and {uh}"),
    );
    pool_overflow(g).await;
    misbehave(g, false).await
}

/// 40 requests at once: beyond the pool of one connection, preference's sidecar answers 503 overflow (UO).
async fn pool_overflow<W: Write>(g: &mut Guide<'_, W>) {
    g.say("  $ 40 requests at once");
    let p = parallel(&g.http, &g.lab.gateway_url, 40).await;
    let overflow = p
        .iter()
        .filter(|a| a.body.contains("reset reason: overflow"))
        .count();
    let flags = g
        .lab
        .wait_proxy_log("preference-v1", "outbound_0.0.0.0_8080", overflow, |e| {
            e.response_flags.as_deref() == Some("UO")
        })
        .await
        .len();
    if g.lab.istio.retries_503_by_default() {
        let flags = g
            .lab
            .wait_proxy_log("preference-v1", "outbound_0.0.0.0_8080", 1, |e| {
                e.response_flags.as_deref() == Some("UO")
            })
            .await
            .len();
        return g.verdict(flags > 0, &format!("beyond the pool of 1, preference's sidecar answers 503 overflow (flag UO {flags} times in its access log); under Istio {} customer's sidecar retries them ({overflow} of 40 still overflow)", g.lab.istio), format!("expected UO flags, got {flags}"));
    }
    g.verdict(overflow > 0 && flags > 0, &format!("beyond the pool of 1, the sidecar answers 503 overflow ({overflow} of 40, flag UO in its access log)"), format!("expected overflow 503s, got {overflow} (UO flags {flags})"));
}
