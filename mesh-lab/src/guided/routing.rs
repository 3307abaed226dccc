//! `mesh-lab guided routing`: the tutorial's routing chapter on the local mesh. Each step applies the istio/
//! file, sends requests through the gateway and ends with a ✔/✘ verdict against what istio/README.md says
//! users see: exact bodies where the tutorial prints them, shares of 300 requests within about 3.5 binomial
//! standard deviations for splits (90/10: 4-16 %, 75/25: 17-33 %, 50/50: 40-60 %), the mirror from v2's log
//! and v2's sidecar's access log, and v2 scaled to two replicas, every pod answering.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::guided::Step;
use crate::guided::guide::{Guide, LabFiles};
use crate::guided::send::{Answer, pods};
use crate::lab::Lab;

/// The chapter's steps.
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "no rule: both versions answer (Envoy's default LEAST_REQUEST over both pods)",
            &[],
            &["for i in $(seq 40); do curl -s $GATEWAY_URL; done"],
            no_rule
        ),
        step!(
            2,
            "subsets version-v1 and version-v2: nothing changes yet",
            apply "destination-rule-recommendation-v1-v2.yml",
            subsets
        ),
        step!(3, "all traffic to v1", apply "virtual-service-recommendation-v1.yml", all_to_v1),
        step!(4, "all traffic to v2", apply "virtual-service-recommendation-v2.yml", all_to_v2),
        step!(5, "canary 90/10", apply "virtual-service-recommendation-v1-v2-90-10.yml", canary_90_10),
        step!(6, "canary 75/25", apply "virtual-service-recommendation-v1-v2-75-25.yml", canary_75_25),
        step!(7, "50/50", apply "virtual-service-recommendation-v1-v2-50-50.yml", split_50_50),
        step!(
            8,
            "user-agent Safari to v2 (customer copies it into baggage-user-agent)",
            apply "virtual-service-recommendation-safari.yml",
            safari_to_v2
        ),
        step!(9, "user-agent Firefox to v2", apply "virtual-service-recommendation-firefox.yml", firefox_to_v2),
        step!(10, "user-agent Mobile to v2", apply "virtual-service-recommendation-mobile.yml", mobile_to_v2),
        step!(
            11,
            "mirror every request to v2; v1 answers",
            apply "virtual-service-recommendation-mirror-v2.yml",
            mirror_to_v2
        ),
        step!(
            12,
            "random load balancing (the VirtualService deleted first)",
            &[
                "oc delete virtualservice recommendation -n tutorial",
                "oc apply -f istio/destination-rule-recommendation-random.yml -n tutorial"
            ],
            &[
                "mesh-lab delete virtualservice recommendation",
                "mesh-lab apply -f istio/destination-rule-recommendation-random.yml"
            ],
            random_balancing
        ),
        step!(
            13,
            "three replicas behind the load balancer (recommendation-v2 scaled to 2)",
            &[
                "oc scale --replicas=2 deployment/recommendation-v2 -n tutorial",
                "oc scale --replicas=1 deployment/recommendation-v2 -n tutorial"
            ],
            &[
                "mesh-lab scale --replicas=2 deployment/recommendation-v2",
                "mesh-lab scale --replicas=1 deployment/recommendation-v2"
            ],
            three_replicas
        ),
    ]
}

/// The share of `answers` from version `v`.
fn share(answers: &[Answer], v: &str) -> f64 {
    answers.iter().filter(|a| a.version() == Some(v)).count() as f64 / answers.len().max(1) as f64
}

/// Whether both versions answered.
fn both(answers: &[Answer]) -> bool {
    share(answers, "v1") > 0.0 && share(answers, "v2") > 0.0
}

impl<W: Write> Guide<'_, W> {
    /// The verdict on a weighted split: v2's share within `v2`, v1 the rest.
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

/// Step 1: no rule, both versions answer.
async fn no_rule<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let a = g.send(40, None).await;
    let ok = both(&a) && a.iter().all(|a| a.status == 200);
    g.verdict(
        ok,
        "v1 and v2 both answered",
        format!("expected both versions, v2 share {:.2}", share(&a, "v2")),
    );
}

/// Step 2: the DestinationRule's subsets alone change nothing.
async fn subsets<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("destination-rule-recommendation-v1-v2.yml"))
        .await
    {
        let a = g.send(40, None).await;
        g.verdict(
            both(&a),
            "still both versions",
            "expected both versions".into(),
        );
    }
}

/// Steps 3 and 4: all traffic to `v` (the VirtualService `file`); only its pod answers.
async fn all_to<W: Write>(
    g: &mut Guide<'_, W>,
    files: &LabFiles,
    file: &str,
    v: &str,
) -> anyhow::Result<()> {
    let (v1, v2) = pods(g).await?;
    let pod = if v == "v1" { v1 } else { v2 };
    if g.apply_step(&files.istio_file(file)).await {
        let a = g.send(10, None).await;
        g.all_from(
            &a,
            v,
            &pod,
            &format!("only `recommendation {v} from '{pod}': N`"),
        );
    }
    Ok(())
}

async fn all_to_v1<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    all_to(g, files, "virtual-service-recommendation-v1.yml", "v1").await
}

async fn all_to_v2<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    all_to(g, files, "virtual-service-recommendation-v2.yml", "v2").await
}

/// Steps 5 to 7: the weighted split of `file`, v2's share judged on 300 requests against `lo..=hi`.
async fn weighted<W: Write>(
    g: &mut Guide<'_, W>,
    files: &LabFiles,
    file: &str,
    (lo, hi): (f64, f64),
    what: &str,
) {
    if g.apply_step(&files.istio_file(file)).await {
        let a = g.send(300, None).await;
        g.split(&a, (lo, hi), what);
    }
}

async fn canary_90_10<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    weighted(
        g,
        files,
        "virtual-service-recommendation-v1-v2-90-10.yml",
        (0.04, 0.16),
        "canary 90/10",
    )
    .await;
}

async fn canary_75_25<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    weighted(
        g,
        files,
        "virtual-service-recommendation-v1-v2-75-25.yml",
        (0.17, 0.33),
        "canary 75/25",
    )
    .await;
}

async fn split_50_50<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    weighted(
        g,
        files,
        "virtual-service-recommendation-v1-v2-50-50.yml",
        (0.40, 0.60),
        "50/50",
    )
    .await;
}

/// Steps 8 to 10: the VirtualService `file` sends the User-Agent `agent` to v2, everyone else to v1.
async fn agent_to_v2<W: Write>(
    g: &mut Guide<'_, W>,
    files: &LabFiles,
    file: &str,
    agent: &str,
) -> anyhow::Result<()> {
    let (v1, v2) = pods(g).await?;
    if g.apply_step(&files.istio_file(file)).await {
        let a = g.send(5, Some(agent)).await;
        g.all_from(&a, "v2", &v2, &format!("curl -A {agent}: v2"));
        let a = g.send(5, None).await;
        g.all_from(&a, "v1", &v1, "plain curl: v1");
    }
    Ok(())
}

async fn safari_to_v2<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    agent_to_v2(
        g,
        files,
        "virtual-service-recommendation-safari.yml",
        "Safari",
    )
    .await
}

async fn firefox_to_v2<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    agent_to_v2(
        g,
        files,
        "virtual-service-recommendation-firefox.yml",
        "Firefox",
    )
    .await
}

async fn mobile_to_v2<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    agent_to_v2(
        g,
        files,
        "virtual-service-recommendation-mobile.yml",
        "Mobile",
    )
    .await
}

/// Step 11: every request mirrored to v2 while v1 answers; v2's log and its sidecar's show the copies.
async fn mirror_to_v2<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    let (v1, v2) = pods(g).await?;
    let (v1, v2) = (v1.as_str(), v2.as_str());
    if !g
        .apply_step(&files.istio_file("virtual-service-recommendation-mirror-v2.yml"))
        .await
    {
        return Ok(());
    }
    let before = g.lab.logs("recommendation-v2").await?.len();
    let inbound_before = g
        .lab
        .proxy_log("recommendation-v2", "virtualInbound")
        .await
        .len();
    let a = g.send(10, None).await;
    g.all_from(&a, "v1", v1, "only v1 answers");
    g.oc("oc logs deploy/recommendation-v2 -c recommendation");
    let seen = mirrored_lines(g.lab, before, v2).await?;
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
    // istiod sets disable_shadow_host_suffix_append from Istio 1.28: v2's sidecar sees the Host unchanged;
    // before, Envoy appends -shadow to it.
    let (host, why) = if g.lab.istio.shadow_host_suffix_disabled() {
        (
            "recommendation:8080",
            "no -shadow suffix, as istiod sets it from 1.28",
        )
    } else {
        (
            "recommendation-shadow:8080",
            "Envoy's -shadow suffix, as istiod leaves it before 1.28",
        )
    };
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
    let plain = hosts.iter().filter(|h| *h == host).count();
    g.verdict(
        plain == 10 && hosts.len() == 10,
        &format!("the mirrored requests reach v2 with Host {host} ({why})"),
        format!("mirrored Hosts at v2: {hosts:?}"),
    );
    Ok(())
}

/// How many of v2's log lines after the first `before` are requests from `v2`'s pod (bounded wait for 10:
/// the app logs after answering).
async fn mirrored_lines(lab: &Lab, before: usize, v2: &str) -> anyhow::Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = 0;
    while Instant::now() < deadline {
        let logs = lab.logs("recommendation-v2").await?;
        seen = logs[before.min(logs.len())..]
            .iter()
            .filter(|l| l.contains(&format!("recommendation request from {v2}")))
            .count();
        if seen >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(seen)
}

/// Step 12: the VirtualService deleted, the DestinationRule's RANDOM load balancer.
async fn random_balancing<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.oc("oc delete virtualservice recommendation -n tutorial");
    g.delete("virtualservice", "recommendation").await;
    if g.apply_step(&files.istio_file("destination-rule-recommendation-random.yml"))
        .await
    {
        let a = g.send(40, None).await;
        g.verdict(
            both(&a),
            "v1 and v2 in no fixed order",
            "expected both versions".into(),
        );
    }
}

/// `oc scale` of recommendation-v2 as the guide writes it, and the lab's answer (a failure is a ✘).
async fn scale_v2<W: Write>(g: &mut Guide<'_, W>, replicas: u32) -> bool {
    g.oc(&format!(
        "oc scale --replicas={replicas} deployment/recommendation-v2 -n tutorial"
    ));
    g.say(&format!(
        "  $ mesh-lab scale --replicas={replicas} deployment/recommendation-v2"
    ));
    match g
        .lab
        .scale("deployment", "recommendation-v2", replicas)
        .await
    {
        Ok(l) => {
            g.say(&format!("  {l}"));
            true
        }
        Err(e) => {
            g.verdict(false, "", format!("scale failed: {e:#}"));
            false
        }
    }
}

/// Step 13: two v2 replicas, three pods behind the load balancer: each answers (a pod is missed by 60
/// RANDOM picks over three only with probability (2/3)^60, about 3e-11); back to one v2 pod.
async fn three_replicas<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    if !scale_v2(g, 2).await {
        return;
    }
    let v2_pods: Vec<String> = g
        .lab
        .pods_of("recommendation-v2")
        .await
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let a = g.send(60, None).await;
    let answered = |pod: &str| a.iter().any(|x| x.body.contains(&format!("from '{pod}'")));
    let v1 = a.iter().any(|x| x.version() == Some("v1"));
    let ok = v2_pods.len() == 2 && v1 && v2_pods.iter().all(|p| answered(p));
    g.verdict(
        ok,
        &format!("v1 and both v2 pods answered ({})", v2_pods.join(", ")),
        format!("expected v1 and two v2 pods to answer; v2 pods {v2_pods:?}, v1 answered: {v1}"),
    );
    if scale_v2(g, 1).await {
        let left = g.lab.pods_of("recommendation-v2").await;
        g.verdict(
            left.len() == 1 && v2_pods.first() == left.first().map(|(p, _)| p),
            "back to one v2 pod, the oldest",
            format!("after scaling down: {left:?}"),
        );
    }
}
