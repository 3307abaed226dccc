//! `mesh-lab guided egress`: the egress chapter ("Limit Egress/External Traffic") end to end, each step with the `oc` command it
//! stands for, the `# i:` lines `sh run.sh N $GATEWAY_URL` would print, and a ✔/✘ verdict that
//! explains what happened the way the lab does (wrong port, timeout, blocked).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::dataplane::envoy::AccessLogEntry;
use crate::guided::guide::{Guide, LabFiles, Outcome, shown};
use crate::guided::send::{Answer, curl};
use crate::guided::{Chapter, Pick, Step, run_chapter};
use crate::lab::Lab;
use crate::observe::show::WorkloadRow;

/// The access log that shows where recommendation v3's calls to the time API go: its sidecar's outbound
/// port 80 (empty without v3).
const EGRESS_LOG: (&str, &str) = ("recommendation-v3", "outbound_0.0.0.0_80");

/// The chapter's first lines.
pub(crate) const INTRO: &str =
    "Egress chapter on the local mesh: customer -> preference -> recommendation v3, whose calls to
worldclockapi.com go through its sidecar, configured from istio/ like istiod configures one.";

/// The blog's fix for a pod without its sidecar: ask for injection in the pod template's annotations.
const INJECT_PATCH: &str =
    r#"{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#;

/// How many entries of v3's egress log are there before the chapter (after a reset, a gone v3's).
pub(crate) async fn log_seen(lab: &Lab) -> usize {
    let (proxy, listener) = EGRESS_LOG;
    lab.proxy_log(proxy, listener).await.len()
}

/// Runs the whole egress chapter on `lab` (fresh or reset: the tutorial's setup, ALLOW_ANY), writing to `out`.
pub async fn run<W: Write>(lab: &Lab, files: &LabFiles, out: W) -> anyhow::Result<Outcome> {
    run_chapter(lab, files, Chapter::Egress, &Pick::All, None, out).await
}

/// The chapter's steps, numbered as scripts/egress-lab.sh numbers them. Its step 13 (revert everything) has
/// no step here: the guided lab goes at the end of the run (`mesh-lab reset` reverts a running lab).
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    let mut steps = up_to_the_entry();
    steps.extend(with_the_entry());
    steps
}

/// Steps 1 to 6: the baseline, v3 (1/1, then 2/2), all traffic to it, egress open, the ServiceEntry on the
/// wrong port and the timeout VirtualService.
fn up_to_the_entry<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "baseline: the chain answers through the gateway",
            &["curl $GATEWAY_URL"],
            &["curl -s $GATEWAY_URL"],
            baseline
        ),
        step!(
            2,
            "recommendation v3 as the blog deploys it (1/1), then its sidecar (2/2)",
            &[V3_APPLY, V3_PATCH],
            &[
                "mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml   (without the sidecar.istio.io/inject label, as the blog's)",
                V3_LAB_PATCH
            ],
            deploy_v3_with_sidecar
        ),
        step!(
            3,
            "route all traffic to recommendation v3",
            &[
                "oc apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial",
                "oc apply -f istio/virtual-service-recommendation-v3.yml -n tutorial"
            ],
            &[
                "mesh-lab apply -f istio/destination-rule-recommendation-v1-v2-v3.yml",
                "mesh-lab apply -f istio/virtual-service-recommendation-v3.yml"
            ],
            route_all_to_v3
        ),
        step!(
            4,
            "egress is open (mode ALLOW_ANY)",
            &[],
            &["sh scripts/run.sh 3 $GATEWAY_URL"],
            egress_open
        ),
        step!(5, "ServiceEntry worldclockapi-egress-rule, port 81 (wrong on purpose)", apply "service-entry-egress-worldclockapi-wrong-port.yml", wrong_port_entry),
        step!(6, "VirtualService worldclockapi-timeout (timeout 3s)", apply "virtual-service-worldclockapi-timeout.yml", timeout_rule),
    ]
}

/// Steps 7 to 12: the ServiceEntry fixed, egress cleaned up, REGISTRY_ONLY, the graph.
fn with_the_entry<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            7,
            "the wrong port shows",
            &[],
            &["sh scripts/run.sh 1 $GATEWAY_URL"],
            wrong_port_shows
        ),
        step!(
            8,
            "fix the ServiceEntry: port 80 (and, in the lab, the 3s timeout against a slow time API)",
            &["oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial"],
            &[
                "mesh-lab apply -f istio/service-entry-egress-worldclockapi.yml",
                "mesh-lab fault slow --delay 10s",
                "mesh-lab fault none"
            ],
            fix_the_port
        ),
        step!(
            9,
            "clean up: egress allowed again (ALLOW_ANY)",
            &[
                "oc delete serviceentry worldclockapi-egress-rule -n tutorial",
                "oc delete virtualservice worldclockapi-timeout -n tutorial"
            ],
            &[
                "mesh-lab delete serviceentry worldclockapi-egress-rule",
                "mesh-lab delete virtualservice worldclockapi-timeout"
            ],
            clean_up
        ),
        step!(
            10,
            "switch the mesh to REGISTRY_ONLY",
            &[
                REGISTRY_ONLY_OSSM2,
                REGISTRY_ONLY_OSSM3,
                "any version: oc apply -f istio/sidecar-registry-only.yml -n tutorial"
            ],
            &["mesh-lab apply -f istio/sidecar-registry-only.yml"],
            registry_only
        ),
        step!(11, "re-create the ServiceEntry (port 80)", apply "service-entry-egress-worldclockapi.yml", recreate_entry),
        step!(
            12,
            "the graph (Kiali on a cluster; here `mesh-lab show` and the graph page)",
            &[],
            &["sh scripts/run.sh 3 $GATEWAY_URL", "mesh-lab show"],
            graph
        ),
    ]
}

/// Step 10's switch on OpenShift Service Mesh 2 and 3.
const REGISTRY_ONLY_OSSM2: &str = "OSSM 2: oc patch smcp basic -n istio-system --type merge --patch-file istio/registry-only-ossm2-smcp-patch.yml";
const REGISTRY_ONLY_OSSM3: &str = "OSSM 3: oc patch istio default --type merge --patch-file istio/registry-only-ossm3-istio-patch.yml";

/// Step 2's commands on a cluster and in the lab.
const V3_APPLY: &str = "(cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial)   # the blog's file: no injection";
const V3_PATCH: &str = patch!(oc "recommendation-v3", r#"{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#);
const V3_LAB_PATCH: &str = patch!(lab "recommendation-v3", r#"{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#);

impl<W: Write> Guide<'_, W> {
    /// `sh run.sh n $GATEWAY_URL`: prints `# i: body` lines.
    async fn run_sh(&mut self, n: usize) -> Vec<Answer> {
        self.say(&format!("  $ sh scripts/run.sh {n} $GATEWAY_URL"));
        let mut replies = Vec::new();
        for i in 0..n {
            let reply = curl(self.http.get(&self.lab.gateway_url)).await;
            self.say(&format!("  # {i}: {}", reply.body.trim_end()));
            replies.push(reply);
        }
        replies
    }

    /// Envoy's access-log entries for the requests since the last call (bounded wait for the flush).
    async fn envoy_saw(&mut self, n: usize) -> Vec<AccessLogEntry> {
        let (proxy, listener) = EGRESS_LOG;
        let log = self
            .lab
            .wait_proxy_log(proxy, listener, self.log_seen + n, |_| true)
            .await;
        let new = log[self.log_seen.min(log.len())..].to_vec();
        self.log_seen = log.len();
        for e in &new {
            self.say(&format!(
                "  envoy: {} {} -> {} {} (route {}, cluster {})",
                e.authority.as_deref().unwrap_or("-"),
                e.path.as_deref().unwrap_or("-"),
                e.response_code.unwrap_or(0),
                e.response_flags.as_deref().unwrap_or("-"),
                e.route_name.as_deref().unwrap_or("-"),
                e.upstream_cluster.as_deref().unwrap_or("-"),
            ));
        }
        new
    }
}

/// Whether every reply is v3's answer with the time.
pub(crate) fn all_v3(replies: &[Answer]) -> bool {
    !replies.is_empty()
        && replies.iter().all(|r| {
            r.status == 200
                && r.body
                    .starts_with("customer => preference => recommendation v3 ")
                && r.body.contains(" from 'recommendation-v3-")
        })
}

/// The counters at the end of the replies' bodies.
fn counters(replies: &[Answer]) -> Vec<u64> {
    replies
        .iter()
        .filter_map(|r| r.body.trim_end().rsplit(": ").next()?.parse().ok())
        .collect()
}

/// Whether the one reply is the chain's error for the mesh proxy answering v3 `status`, its body holding `marker`.
pub(crate) fn mesh_error(replies: &[Answer], status: u16, marker: &str) -> bool {
    replies.len() == 1
        && replies[0].status == 503
        && replies[0]
            .body
            .starts_with("customer => Error: 503 - preference => Error: 500 - ")
        && replies[0]
            .body
            .contains(&format!("the mesh proxy answered {status}"))
        && replies[0].body.contains(marker)
}

/// The first reply's status and body, for a failing verdict's explanation.
pub(crate) fn first_reply(replies: &[Answer]) -> Option<(u16, &str)> {
    replies.first().map(|r| (r.status, r.body.trim_end()))
}

/// Whether every call Envoy logged went to `cluster`.
fn all_through(log: &[AccessLogEntry], cluster: &str) -> bool {
    log.iter()
        .all(|e| e.upstream_cluster.as_deref() == Some(cluster))
}

/// Step 1: before anything, the chain answers through the gateway (v1 or v2).
async fn baseline<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    g.oc("curl $GATEWAY_URL");
    g.say("  $ curl -s $GATEWAY_URL");
    let a = curl(g.http.get(&g.lab.gateway_url)).await;
    g.say(&format!("  {}", a.body.trim_end()));
    g.verdict(
        a.status == 200 && a.version().is_some_and(|v| v == "v1" || v == "v2"),
        "the chain answers: customer => preference => recommendation v1 or v2",
        format!(
            "expected the chain's answer, got {} `{}`",
            a.status,
            a.body.trim_end()
        ),
    );
}

/// The text of `deployment_v3` as the blog's Deployment has it: no `sidecar.istio.io/inject` label (nor
/// annotation), so nothing asks for injection and the pod runs without a sidecar.
fn as_the_blogs(deployment_v3: &str) -> String {
    deployment_v3
        .lines()
        .filter(|l| !l.trim_start().starts_with("sidecar.istio.io/inject:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Step 2: recommendation v3 as the blog deploys it (no sidecar, 1/1), then the blog's annotation patch:
/// a new pod with its sidecar (2/2). The lab injects as istio's webhook does
/// (mesh-istiod/src/model/registry.rs): the label wins over the annotation, "true" injects.
async fn deploy_v3_with_sidecar<W: Write>(
    g: &mut Guide<'_, W>,
    files: &LabFiles,
) -> anyhow::Result<()> {
    let lab = g.lab;
    // A subshell, so a pasted line leaves the trainer's shell where it was (as scripts/egress-lab.sh prints it).
    g.oc(V3_APPLY);
    let ours = std::fs::read_to_string(&files.deployment_v3)
        .with_context(|| format!("reading {}", files.deployment_v3.display()))?;
    g.say("  $ mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml   (without the sidecar.istio.io/inject label, as the blog's)");
    let one = match lab
        .apply_text(
            Path::new("recommendation/kubernetes/Deployment-v3.yml"),
            &as_the_blogs(&ours),
        )
        .await
    {
        Ok(_) => v3_workload(lab).await,
        Err(e) => {
            g.verdict(false, "", format!("apply Deployment-v3 failed: {e:#}"));
            None
        }
    };
    if let Some(w) = one {
        g.verdict(
            w.ready == "1/1",
            &format!(
                "{} runs 1/1: nothing asks for injection, so no sidecar; its calls bypass the mesh",
                w.pod
            ),
            format!("expected 1/1, got {}", w.ready),
        );
        inject_sidecar(g, &w.pod).await;
    }
    Ok(())
}

/// recommendation v3's row in `mesh-lab show`.
async fn v3_workload(lab: &Lab) -> Option<WorkloadRow> {
    lab.show().await.ok().and_then(|s| {
        s.workloads
            .into_iter()
            .find(|w| w.name == "recommendation-v3")
    })
}

/// The blog's patch that turns injection on (the annotation): v3's pod `old` is replaced by one with a sidecar.
async fn inject_sidecar<W: Write>(g: &mut Guide<'_, W>, old: &str) {
    let lab = g.lab;
    g.oc(V3_PATCH);
    g.say(&format!("  $ {V3_LAB_PATCH}"));
    match lab
        .patch("deployment", "recommendation-v3", INJECT_PATCH)
        .await
    {
        Ok(l) => {
            g.say(&format!("  {l}"));
            let pod = lab.pod_name("recommendation-v3").await.unwrap_or_default();
            let two = v3_workload(lab).await;
            let ok = two
                .as_ref()
                .is_some_and(|t| t.ready == "2/2" && t.pod != old);
            g.verdict(
                ok,
                &format!("the pod rolled to {pod}, 2/2 (app and sidecar): the annotation asks for injection"),
                format!("expected a new 2/2 pod, got {two:?}"),
            );
        }
        Err(e) => g.verdict(false, "", format!("patch failed: {e:#}")),
    }
}

/// Step 3: recommendation's DestinationRule and the VirtualService sending everything to v3.
async fn route_all_to_v3<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.destination_rule)
    ));
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.virtual_service_v3)
    ));
    let a = g.apply(&files.destination_rule).await && g.apply(&files.virtual_service_v3).await;
    if a {
        g.verdict(true, "applied", String::new());
    }
}

/// Step 4: with ALLOW_ANY, v3's call to the time API leaves through PassthroughCluster.
async fn egress_open<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let r = g.run_sh(3).await;
    let log = g.envoy_saw(3).await;
    let via_passthrough = all_through(&log, "PassthroughCluster");
    let ok = all_v3(&r) && via_passthrough;
    g.verdict(
        ok,
        "v3 shows the time: the call to worldclockapi.com left through PassthroughCluster (ALLOW_ANY lets any host out)",
        format!("expected three v3 lines through PassthroughCluster, got {:?}", r.iter().map(|r| (r.status, r.body.trim_end())).collect::<Vec<_>>()),
    );
}

/// Step 5: the ServiceEntry on port 81, which alone changes nothing.
async fn wrong_port_entry<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.apply_step(&files.service_entry_wrong_port).await;
    g.say("  lab extra: without a VirtualService the wrong port goes unnoticed —");
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    let passthrough = all_through(&log, "PassthroughCluster");
    g.verdict(
        all_v3(&r) && passthrough,
        "still 200, still through PassthroughCluster: the ServiceEntry declares port 81, the app calls 80, so \
         nothing governs this call (`mesh-lab show` points it out)",
        format!("expected a v3 line through PassthroughCluster, got {:?}", first_reply(&r)),
    );
}

/// Step 6: the VirtualService with the 3s timeout.
async fn timeout_rule<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.apply_step(&files.virtual_service_timeout).await;
}

/// Step 7: the VirtualService routes to a port-80 cluster the ServiceEntry does not make: 503 NC.
async fn wrong_port_shows<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    let nc = log.iter().any(|e| {
        e.response_code == Some(503)
            && e.response_flags
                .as_deref()
                .is_some_and(|f| f.contains("NC"))
    });
    g.verdict(
        mesh_error(&r, 503, "") && nc,
        "customer => Error: 503 - preference => Error: 500 - …: the VirtualService routes worldclockapi.com to \
         outbound|80||worldclockapi.com, but the ServiceEntry only declares port 81, so that cluster does not \
         exist: Envoy answers 503 with an empty body (response flag NC)",
        format!("expected the 503/500 chain with Envoy's 503 NC, got {:?}", first_reply(&r)),
    );
}

/// Step 8: the ServiceEntry on port 80; the calls go through its cluster.
async fn fix_the_port<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.apply_step(&files.service_entry).await;
    let (proxy, listener) = EGRESS_LOG;
    let before = g.lab.proxy_log(proxy, listener).await.len();
    let r = g.run_sh(10).await;
    let log = g.envoy_saw(10).await;
    let counters = counters(&r);
    let increasing = counters.windows(2).all(|w| w[1] == w[0] + 1);
    let se = all_through(&log, "outbound|80||worldclockapi.com");
    g.verdict(
        all_v3(&r) && increasing && se && before + 10 <= g.log_seen,
        "v3 lines again, the counter going on (the failed calls counted too), through outbound|80||worldclockapi.com",
        format!("expected ten v3 lines through outbound|80||worldclockapi.com, counters {counters:?}"),
    );
    timeout_cuts_a_slow_api(g).await;
}

/// Step 8's lab extra: the time API hangs for 10s, the VirtualService's 3s timeout answers 504 UT.
async fn timeout_cuts_a_slow_api<W: Write>(g: &mut Guide<'_, W>) {
    g.say("  lab extra: the 3s timeout now governs the call; make the time API hang for 10s —");
    g.say("  $ mesh-lab fault slow --delay 10s");
    match g.lab.fault("slow", Some("10s")).await {
        Ok(l) => g.say(&format!("  {l}")),
        Err(e) => g.verdict(false, "", format!("fault slow failed: {e:#}")),
    }
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    let elapsed = r.first().map(|r| r.elapsed).unwrap_or_default();
    let ut = log
        .iter()
        .any(|e| e.response_code == Some(504) && e.response_flags.as_deref() == Some("UT"));
    g.verdict(
        mesh_error(&r, 504, "upstream request timeout")
            && ut
            && elapsed >= Duration::from_millis(2900)
            && elapsed < Duration::from_millis(4500),
        &format!(
            "after {:.1}s: Envoy's 504 `upstream request timeout` (flag UT) — the mesh's 3s, before the app's own 5s",
            elapsed.as_secs_f64()
        ),
        format!(
            "expected the 504 chain after ~3s, got {:?} after {:.1}s",
            first_reply(&r),
            elapsed.as_secs_f64()
        ),
    );
    g.say("  $ mesh-lab fault none");
    if let Err(e) = g.lab.fault("none", None).await {
        g.verdict(false, "", format!("fault none failed: {e:#}"));
    }
}

/// Step 9: the ServiceEntry and VirtualService deleted, the call leaves through PassthroughCluster again.
async fn clean_up<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    g.oc("oc delete serviceentry worldclockapi-egress-rule -n tutorial");
    g.oc("oc delete virtualservice worldclockapi-timeout -n tutorial");
    g.delete("serviceentry", "worldclockapi-egress-rule").await;
    g.delete("virtualservice", "worldclockapi-timeout").await;
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    g.verdict(
        all_v3(&r) && all_through(&log, "PassthroughCluster"),
        "200 through PassthroughCluster again",
        format!("expected a v3 line, got {:?}", first_reply(&r)),
    );
}

/// Step 10: REGISTRY_ONLY (here the namespace Sidecar): the catch-all block_all answers 502.
async fn registry_only<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    // The blog's ConfigMap edit is history, not a command to paste: scripts/egress-lab.sh refuses it alike.
    g.say(
        "  the blog's `oc get configmap istio … | sed … | oc replace …` does not work on OpenShift Service Mesh \
         (OSSM 2's ConfigMap is istio-<control plane>, OSSM 3's has no 'mode:' line, and both operators undo \
         hand edits: docs/EGRESS-LAB-OPENSHIFT.md, step 10); on a cluster use one of:",
    );
    g.oc(REGISTRY_ONLY_OSSM2);
    g.oc(REGISTRY_ONLY_OSSM3);
    g.oc(&format!(
        "any version: oc apply -f {} -n tutorial",
        shown(&files.sidecar_registry_only)
    ));
    g.apply(&files.sidecar_registry_only).await;
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    let blocked = log
        .iter()
        .any(|e| e.response_code == Some(502) && e.route_name.as_deref() == Some("block_all"));
    g.verdict(
        mesh_error(&r, 502, "") && blocked,
        "blocked: worldclockapi.com is not in the registry, the catch-all block_all answers 502 with an empty body",
        format!("expected the 502 chain from block_all, got {:?}", first_reply(&r)),
    );
}

/// Step 11: the ServiceEntry on port 80 puts the time API in the registry again.
async fn recreate_entry<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    g.apply_step(&files.service_entry).await;
    let r = g.run_sh(1).await;
    let log = g.envoy_saw(1).await;
    g.verdict(
        all_v3(&r) && all_through(&log, "outbound|80||worldclockapi.com"),
        "allowed again: the registry now has worldclockapi.com:80 (outbound|80||worldclockapi.com)",
        format!("expected a v3 line, got {:?}", first_reply(&r)),
    );
}

/// Step 12: a few requests to look at (Kiali's graph shows the last minutes' traffic; `--graph FILE` draws
/// this step's), then `mesh-lab show`, where a cluster has Kiali's graph.
async fn graph<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let r = g.run_sh(3).await;
    let log = g.envoy_saw(3).await;
    g.verdict(
        all_v3(&r) && all_through(&log, "outbound|80||worldclockapi.com"),
        "v3 reaches worldclockapi.com through the ServiceEntry: the graph's worldclockapi.com node (the page, or `mesh-lab show --graph FILE.svg`)",
        format!("expected three v3 lines, got {:?}", first_reply(&r)),
    );
    g.say("  $ mesh-lab show");
    match g.lab.show().await {
        Ok(s) => {
            let text = crate::observe::show::render(&s);
            for l in text.lines() {
                g.say(&format!("  {l}"));
            }
        }
        Err(e) => g.verdict(false, "", format!("show failed: {e:#}")),
    }
}
