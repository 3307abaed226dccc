//! `mesh-lab guided routing|resilience|chaos`: the tutorial's in-mesh chapters on the local mesh. Each step
//! applies the istio/ file, sends requests through the gateway and ends with a ✔/✘ verdict against what
//! istio/README.md says users see: exact bodies where the tutorial prints them, shares of 300 requests within
//! about 3.5 binomial standard deviations for splits (90/10: 4-16 %, 75/25: 17-33 %, 50/50: 40-60 %), the
//! mirror from v2's log, Envoy's response flags from the sidecars' access logs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::guided::guide::{Chapter, Guide, LabFiles, Outcome};
use crate::lab::Lab;

/// A reply through the gateway.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Answer {
    /// `v1`, `v2`, `v3` for a chain answer, else `None`.
    pub fn version(&self) -> Option<&str> {
        let rest = self
            .body
            .strip_prefix("customer => preference => recommendation ")?;
        rest.get(..2)
    }
}

/// The body of a chain answer from `pod` (version `v`), counter aside.
pub fn chain_prefix(v: &str, pod: &str) -> String {
    format!("customer => preference => recommendation {v} from '{pod}': ")
}

/// `n` requests through the gateway, one after the other, with a User-Agent.
pub async fn requests(
    http: &reqwest::Client,
    url: &str,
    n: usize,
    agent: Option<&str>,
) -> Vec<Answer> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(one(http, url, agent).await);
    }
    out
}

async fn one(http: &reqwest::Client, url: &str, agent: Option<&str>) -> Answer {
    let mut req = http.get(url);
    if let Some(a) = agent {
        req = req.header("user-agent", a);
    }
    send(req).await
}

/// Sends `req` and times it; a request that got no answer is status 0 with the reason as its body.
pub async fn send(req: reqwest::RequestBuilder) -> Answer {
    let start = Instant::now();
    let (status, body) = match req.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, format!("request failed: {e}")),
    };
    Answer {
        status,
        body,
        elapsed: start.elapsed(),
    }
}

/// `n` requests at once (parallel load).
pub async fn parallel(http: &reqwest::Client, url: &str, n: usize) -> Vec<Answer> {
    futures_util::future::join_all((0..n).map(|_| one(http, url, None))).await
}

fn share(answers: &[Answer], v: &str) -> f64 {
    answers.iter().filter(|a| a.version() == Some(v)).count() as f64 / answers.len().max(1) as f64
}

fn file(files: &LabFiles, name: &str) -> PathBuf {
    files.istio.join(name)
}

/// Runs one chapter on `lab` (fresh or reset), writing to `out`.
pub async fn run<W: Write>(
    lab: &Lab,
    files: &LabFiles,
    chapter: Chapter,
    out: W,
) -> anyhow::Result<Outcome> {
    let mut g = Guide::new(lab, out, 0)?;
    match chapter {
        Chapter::Routing => routing(&mut g, files).await?,
        Chapter::Resilience => resilience(&mut g, files).await?,
        Chapter::Chaos => chaos(&mut g, files).await?,
        Chapter::Egress | Chapter::Security => {
            unreachable!("the egress and security chapters have modules of their own")
        }
    }
    Ok(g.outcome)
}

async fn pods<W: Write>(g: &Guide<'_, W>) -> anyhow::Result<(String, String)> {
    Ok((
        g.lab.pod_name("recommendation-v1").await?,
        g.lab.pod_name("recommendation-v2").await?,
    ))
}

impl<W: Write> Guide<'_, W> {
    async fn send(&mut self, n: usize, agent: Option<&str>) -> Vec<Answer> {
        let a = match agent {
            Some(a) => format!("-A {a} "),
            None => String::new(),
        };
        self.say(&format!(
            "  $ for i in $(seq {n}); do curl -s {a}$GATEWAY_URL; done"
        ));
        let answers = requests(&self.http, &self.lab.gateway_url, n, agent).await;
        for a in answers.iter().take(3) {
            self.say(&format!("  {}", a.body.trim_end()));
        }
        if n > 3 {
            self.say(&format!("  … ({} more)", n - 3));
        }
        answers
    }

    async fn apply_step(&mut self, path: &Path) -> bool {
        self.oc(&format!(
            "oc apply -f {} -n tutorial",
            crate::guided::guide::shown(path)
        ));
        self.apply(path).await
    }

    /// Every answer from `pod` of version `v`.
    fn all_from(&mut self, answers: &[Answer], v: &str, pod: &str, good: &str) {
        let prefix = chain_prefix(v, pod);
        let bad = answers
            .iter()
            .find(|a| a.status != 200 || !a.body.starts_with(&prefix));
        self.verdict(
            bad.is_none(),
            good,
            format!(
                "expected only `{prefix}N`, got {:?}",
                bad.map(|a| a.body.trim_end())
            ),
        );
    }

    fn split(&mut self, answers: &[Answer], v2: (f64, f64), what: &str) {
        let s = share(answers, "v2");
        let v1 = share(answers, "v1");
        let ok = (v2.0..=v2.1).contains(&s) && (v1 + s - 1.0).abs() < 1e-9;
        self.verdict(
            ok,
            &format!(
                "{what}: v2 answered {:.1} % of {} (expected {:.0}-{:.0} %), v1 the rest",
                s * 100.0,
                answers.len(),
                v2.0 * 100.0,
                v2.1 * 100.0
            ),
            format!(
                "{what}: v2 answered {:.1} %, v1 {:.1} % of {} (expected v2 within {:.0}-{:.0} %)",
                s * 100.0,
                v1 * 100.0,
                answers.len(),
                v2.0 * 100.0,
                v2.1 * 100.0
            ),
        );
    }
}

async fn routing<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    let (v1, v2) = pods(g).await?;
    g.say("Routing chapter: customer -> preference -> recommendation v1 and v2, each pod with its sidecar.");
    g.step(
        "1",
        "no rule: both versions answer (Envoy's default LEAST_REQUEST over both pods)",
    );
    let a = g.send(40, None).await;
    let both = share(&a, "v1") > 0.0 && share(&a, "v2") > 0.0 && a.iter().all(|a| a.status == 200);
    g.verdict(
        both,
        "v1 and v2 both answered",
        format!("expected both versions, v2 share {:.2}", share(&a, "v2")),
    );

    g.step(
        "2",
        "subsets version-v1 and version-v2: nothing changes yet",
    );
    if g.apply_step(&file(files, "destination-rule-recommendation-v1-v2.yml"))
        .await
    {
        let a = g.send(40, None).await;
        let both = share(&a, "v1") > 0.0 && share(&a, "v2") > 0.0;
        g.verdict(both, "still both versions", "expected both versions".into());
    }
    for (f, v, pod) in [
        ("virtual-service-recommendation-v1.yml", "v1", &v1),
        ("virtual-service-recommendation-v2.yml", "v2", &v2),
    ] {
        g.step("3", &format!("all traffic to {v}"));
        if g.apply_step(&file(files, f)).await {
            let a = g.send(10, None).await;
            g.all_from(
                &a,
                v,
                pod,
                &format!("only `recommendation {v} from '{pod}': N`"),
            );
        }
    }
    for (f, lo, hi, what) in [
        (
            "virtual-service-recommendation-v1-v2-90-10.yml",
            0.04,
            0.16,
            "canary 90/10",
        ),
        (
            "virtual-service-recommendation-v1-v2-75-25.yml",
            0.17,
            0.33,
            "canary 75/25",
        ),
        (
            "virtual-service-recommendation-v1-v2-50-50.yml",
            0.40,
            0.60,
            "50/50",
        ),
    ] {
        g.step("4", what);
        if g.apply_step(&file(files, f)).await {
            let a = g.send(300, None).await;
            g.split(&a, (lo, hi), what);
        }
    }
    for (f, agent) in [
        ("virtual-service-recommendation-safari.yml", "Safari"),
        ("virtual-service-recommendation-firefox.yml", "Firefox"),
        ("virtual-service-recommendation-mobile.yml", "Mobile"),
    ] {
        g.step(
            "5",
            &format!("user-agent {agent} to v2 (customer copies it into baggage-user-agent)"),
        );
        if g.apply_step(&file(files, f)).await {
            let a = g.send(5, Some(agent)).await;
            g.all_from(&a, "v2", &v2, &format!("curl -A {agent}: v2"));
            let a = g.send(5, None).await;
            g.all_from(&a, "v1", &v1, "plain curl: v1");
        }
    }
    g.step("6", "mirror every request to v2; v1 answers");
    if g.apply_step(&file(files, "virtual-service-recommendation-mirror-v2.yml"))
        .await
    {
        let before = g.lab.logs("recommendation-v2").await?.len();
        let inbound_before = g
            .lab
            .proxy_log("recommendation-v2", "virtualInbound")
            .await
            .len();
        let a = g.send(10, None).await;
        g.all_from(&a, "v1", &v1, "only v1 answers");
        g.oc("oc logs deploy/recommendation-v2 -c recommendation");
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut seen = 0;
        while Instant::now() < deadline {
            let logs = g.lab.logs("recommendation-v2").await?;
            seen = logs[before.min(logs.len())..]
                .iter()
                .filter(|l| l.contains(&format!("recommendation request from {v2}")))
                .count();
            if seen >= 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for l in g
            .lab
            .logs("recommendation-v2")
            .await?
            .iter()
            .rev()
            .take(2)
            .rev()
        {
            g.say(&format!("  {l}"));
        }
        g.verdict(
            seen == 10,
            &format!("v2's log shows the 10 mirrored requests ({seen})"),
            format!("v2's log shows {seen} mirrored requests, expected 10"),
        );
        // istiod sets disable_shadow_host_suffix_append: v2's sidecar sees the Host unchanged.
        let hosts: Vec<String> = g
            .lab
            .wait_proxy_log(
                "recommendation-v2",
                "virtualInbound",
                inbound_before + 10,
                |_| true,
            )
            .await
            .into_iter()
            .skip(inbound_before)
            .filter_map(|e| e.authority)
            .collect();
        let plain = hosts.iter().filter(|h| *h == "recommendation:8080").count();
        g.verdict(
            plain == 10 && hosts.len() == 10,
            "the mirrored requests reach v2 with Host recommendation:8080 (no -shadow suffix, as current istiod sets it)",
            format!("mirrored Hosts at v2: {hosts:?}"),
        );
    }
    g.step(
        "7",
        "random load balancing (the VirtualService deleted first)",
    );
    g.delete("virtualservice", "recommendation").await;
    if g.apply_step(&file(files, "destination-rule-recommendation-random.yml"))
        .await
    {
        let a = g.send(40, None).await;
        let both = share(&a, "v1") > 0.0 && share(&a, "v2") > 0.0;
        g.verdict(
            both,
            "v1 and v2 in no fixed order",
            "expected both versions".into(),
        );
    }
    Ok(())
}

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

async fn resilience<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    let (v1, _) = pods(g).await?;
    g.say("Resilience chapter: retries, timeout, circuit breaker.");
    g.step(
        "1",
        "v2 misbehaves: without a rule, the calls that land on it fail",
    );
    misbehave(g, true).await?;
    let a = g.send(20, None).await;
    let failing = a.iter().any(|a| {
        a.body.starts_with(
            "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '",
        )
    });
    g.verdict(
        failing,
        "some calls fail with v2's 503 (the default retry policy does not retry a 503)",
        "expected v2's 503 among the answers".into(),
    );
    g.step("2", "retries: 3 attempts, 2s each, on 5xx");
    if g.apply_step(&file(files, "virtual-service-recommendation-retry.yml"))
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
    misbehave(g, false).await?;
    g.step(
        "3",
        "timeout 1s against the slow v2 (Deployment-v2-timeout.yml: v2 sleeps 3s)",
    );
    g.oc("oc apply -f recommendation/kubernetes/Deployment-v2-timeout.yml -n tutorial");
    let slow = files
        .repo
        .join("recommendation/kubernetes/Deployment-v2-timeout.yml");
    if g.apply(&slow).await
        && g.apply_step(&file(files, "virtual-service-recommendation-timeout.yml"))
            .await
    {
        let a = g.send(12, None).await;
        let timeout_body =
            "customer => Error: 503 - preference => Error: 504 - upstream request timeout\n";
        let timed_out: Vec<&Answer> = a.iter().filter(|a| a.body == timeout_body).collect();
        let fast_v1 = a
            .iter()
            .filter(|a| {
                a.body.starts_with(&chain_prefix("v1", &v1))
                    && a.elapsed < Duration::from_millis(900)
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
    g.oc("oc apply -f recommendation/kubernetes/Deployment-v2.yml -n tutorial");
    g.apply(
        &files
            .repo
            .join("recommendation/kubernetes/Deployment-v2.yml"),
    )
    .await;
    g.step(
        "4",
        "circuit breaker with the 50/50 VirtualService, v2 misbehaving",
    );
    let cb = g
        .apply_step(&file(
            files,
            "destination-rule-recommendation-circuit-breaker.yml",
        ))
        .await
        && g.apply_step(&file(
            files,
            "virtual-service-recommendation-v1-v2-50-50.yml",
        ))
        .await;
    if cb {
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
                a.body
                    == "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n"
            })
            .count();
        g.verdict(
            first == 1 && uh > 0 && a.iter().all(|x| x.version() == Some("v1") || x.status == 503),
            &format!("v2's first 503 ejects it: then its half gets `no healthy upstream` ({uh}), v1 answers the rest"),
            format!("expected one misbehavior 503 then `no healthy upstream`, got {first} and {uh}"),
        );
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
        g.verdict(overflow > 0 && flags > 0, &format!("beyond the pool of 1, the sidecar answers 503 overflow ({overflow} of 40, flag UO in its access log)"), format!("expected overflow 503s, got {overflow} (UO flags {flags})"));
        misbehave(g, false).await?;
    }
    Ok(())
}

async fn chaos<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    g.say("Chaos chapter: fault injection by the caller's sidecar.");
    g.step("1", "abort 50 % with 503");
    if g.apply_step(&file(
        files,
        "virtual-service-recommendation-fault-abort.yml",
    ))
    .await
    {
        let a = g.send(100, None).await;
        let body = "customer => Error: 503 - preference => Error: 503 - fault filter abort\n";
        let aborted = a.iter().filter(|a| a.body == body).count();
        let fine = a.iter().filter(|a| a.version().is_some()).count();
        g.verdict(
            (30..=70).contains(&aborted) && aborted + fine == 100,
            &format!("{aborted} of 100 `{}`, the rest answered", body.trim_end()),
            format!("expected about half aborted, got {aborted} aborted and {fine} answers"),
        );
    }
    g.step("2", "delay 7s on 50 %");
    if g.apply_step(&file(
        files,
        "virtual-service-recommendation-fault-delay.yml",
    ))
    .await
    {
        g.say("  $ 16 requests at once");
        let a = parallel(&g.http, &g.lab.gateway_url, 16).await;
        let slow = a
            .iter()
            .filter(|a| a.elapsed >= Duration::from_secs(7))
            .count();
        let ok = a.iter().all(|a| a.version().is_some()) && (2..=14).contains(&slow);
        g.verdict(
            ok,
            &format!("{slow} of 16 took 7s, all answers correct"),
            format!(
                "expected about half delayed 7s and all correct, got {slow} slow: {:?}",
                a.iter()
                    .map(|a| a.body.trim_end().to_owned())
                    .collect::<Vec<_>>()
            ),
        );
    }
    Ok(())
}
