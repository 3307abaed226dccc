//! `mesh-lab guided egress`: the egress chapter ("Limit Egress/External Traffic") end to end, each step with the `oc` command it
//! stands for, the `# i:` lines `sh run.sh N $GATEWAY_URL` would print, and a ✔/✘ verdict that
//! explains what happened the way the lab does (wrong port, timeout, blocked).
//!
//! The files come from `istio/`, found by what they contain (the ServiceEntry
//! `worldclockapi-egress-rule` on port 81 and on port 80, the VirtualService `worldclockapi-timeout`,
//! the namespace Sidecar with REGISTRY_ONLY, recommendation's DestinationRule and v3 VirtualService).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use mesh_manifests::{Document, Resource};

use crate::dataplane::envoy::AccessLogEntry;
use crate::lab::Lab;

use mesh_istiod::model::sidecar::{Mode, sidecar_mode};

/// The access log that shows where recommendation v3's calls to the time API go: its sidecar's outbound
/// port 80 (empty without v3).
const EGRESS_LOG: (&str, &str) = ("recommendation-v3", "outbound_0.0.0.0_80");

/// A chapter of the tutorial `guided` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chapter {
    Routing,
    Resilience,
    Chaos,
    Egress,
    Security,
}

/// The istio/ files the lab's steps use.
#[derive(Clone, Debug)]
pub struct LabFiles {
    /// The istio/ directory and the repository root.
    pub istio: PathBuf,
    pub repo: PathBuf,
    pub deployment_v3: PathBuf,
    pub destination_rule: PathBuf,
    pub virtual_service_v3: PathBuf,
    pub service_entry_wrong_port: PathBuf,
    pub service_entry: PathBuf,
    pub virtual_service_timeout: PathBuf,
    pub sidecar_registry_only: PathBuf,
}

fn find(
    docs: &[Document],
    what: &str,
    pred: impl Fn(&Resource) -> bool,
) -> anyhow::Result<PathBuf> {
    docs.iter()
        .find(|d| pred(&d.resource))
        .map(|d| d.file.clone())
        .ok_or_else(|| anyhow!("no file in istio/ holds {what}"))
}

impl LabFiles {
    /// Finds the lab's files under `istio_dir` by content.
    pub fn find(istio_dir: &Path) -> anyhow::Result<Self> {
        let (docs, _errors) = mesh_manifests::load_paths_collecting([istio_dir]);
        let se_port = |r: &Resource, port: i64| match r {
            Resource::ServiceEntry(se) => {
                se.metadata.name.as_deref() == Some("worldclockapi-egress-rule")
                    && se.spec.ports.iter().flatten().any(|p| p.number == port)
            }
            _ => false,
        };
        let deployment_v3 = istio_dir.join("../recommendation/kubernetes/Deployment-v3.yml");
        if !deployment_v3.is_file() {
            return Err(anyhow!("{} is missing", deployment_v3.display()));
        }
        Ok(Self {
            istio: istio_dir.to_owned(),
            repo: istio_dir.join(".."),
            deployment_v3,
            destination_rule: find(
                &docs,
                "a DestinationRule for recommendation with subset version-v3",
                |r| {
                    matches!(r, Resource::DestinationRule(dr) if dr.spec.host == "recommendation"
                    && dr.spec.traffic_policy.is_none()
                    && dr.spec.subsets.iter().flatten().any(|s| s.name == "version-v3"))
                },
            )?,
            virtual_service_v3: find(
                &docs,
                "a VirtualService sending recommendation to version-v3",
                |r| {
                    matches!(r, Resource::VirtualService(vs)
                    if vs.spec.hosts.as_deref() == Some(&["recommendation".to_owned()][..])
                    && vs.spec.http.iter().flatten().all(|h| h.route.iter().flatten()
                        .all(|d| d.destination.subset.as_deref() == Some("version-v3"))))
                },
            )?,
            service_entry_wrong_port: find(
                &docs,
                "the ServiceEntry worldclockapi-egress-rule on port 81",
                |r| se_port(r, 81),
            )?,
            service_entry: find(
                &docs,
                "the ServiceEntry worldclockapi-egress-rule on port 80",
                |r| se_port(r, 80),
            )?,
            virtual_service_timeout: find(
                &docs,
                "the VirtualService worldclockapi-timeout",
                |r| matches!(r, Resource::VirtualService(vs) if vs.metadata.name.as_deref() == Some("worldclockapi-timeout")),
            )?,
            sidecar_registry_only: find(
                &docs,
                "a namespace Sidecar with outboundTrafficPolicy REGISTRY_ONLY",
                |r| {
                    matches!(r, Resource::Sidecar(sc) if sc.spec.workload_selector.is_none()
                    && sidecar_mode(sc) == Some(Mode::RegistryOnly))
                },
            )?,
        })
    }
}

/// One request through the chain.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

/// The result of a guided run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub passed: usize,
    pub failed: Vec<String>,
}

pub(crate) struct Guide<'a, W: Write> {
    pub(crate) lab: &'a Lab,
    pub(crate) out: W,
    pub(crate) http: reqwest::Client,
    pub(crate) outcome: Outcome,
    pub(crate) log_seen: usize,
}

pub(crate) fn shown(p: &Path) -> String {
    // Print paths the way the tutorial writes them: istio/<file>.
    let s = p.display().to_string();
    match s.rfind("istio/") {
        Some(i) => s[i..].to_owned(),
        None => s,
    }
}

impl<'a, W: Write> Guide<'a, W> {
    /// A guide through `lab` writing to `out`; `log_seen` access-log entries are already accounted for.
    pub(crate) fn new(lab: &'a Lab, out: W, log_seen: usize) -> anyhow::Result<Self> {
        Ok(Self {
            lab,
            out,
            http: tutorial_common::client::client(Duration::from_secs(30), None)?,
            outcome: Outcome::default(),
            log_seen,
        })
    }

    pub(crate) fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    pub(crate) fn step(&mut self, n: &str, title: &str) {
        self.say(&format!("\n━━ Step {n}: {title}"));
    }

    pub(crate) fn oc(&mut self, cmd: &str) {
        self.say(&format!("  on a cluster: {cmd}"));
    }

    pub(crate) fn verdict(&mut self, ok: bool, good: &str, bad: String) {
        if ok {
            self.outcome.passed += 1;
            self.say(&format!("  ✔ {good}"));
        } else {
            self.say(&format!("  ✘ {bad}"));
            self.outcome.failed.push(bad);
        }
    }

    pub(crate) async fn apply(&mut self, file: &Path) -> bool {
        self.say(&format!("  $ mesh-lab apply -f {}", shown(file)));
        match self.lab.apply_file(file).await {
            Ok(lines) => {
                for l in lines {
                    self.say(&format!("  {l}"));
                }
                true
            }
            Err(e) => {
                self.verdict(false, "", format!("apply {} failed: {e:#}", shown(file)));
                false
            }
        }
    }

    pub(crate) async fn delete(&mut self, kind: &str, name: &str) {
        self.say(&format!("  $ mesh-lab delete {kind} {name}"));
        match self.lab.delete(kind, name).await {
            Ok(l) => self.say(&format!("  {l}")),
            Err(e) => self.verdict(false, "", format!("delete {kind} {name} failed: {e:#}")),
        }
    }

    /// `sh run.sh n $GATEWAY_URL`: prints `# i: body` lines.
    async fn run(&mut self, n: usize) -> Vec<Reply> {
        self.say(&format!(
            "  $ sh scripts/run.sh {n} {}",
            self.lab.gateway_url
        ));
        let mut replies = Vec::new();
        for i in 0..n {
            let start = Instant::now();
            let (status, body) = match self.http.get(&self.lab.gateway_url).send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    (status, r.text().await.unwrap_or_default())
                }
                Err(e) => (0, format!("curl failed: {e}")),
            };
            let elapsed = start.elapsed();
            self.say(&format!("  # {i}: {}", body.trim_end()));
            replies.push(Reply {
                status,
                body,
                elapsed,
            });
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

    fn all_v3(replies: &[Reply]) -> bool {
        !replies.is_empty()
            && replies.iter().all(|r| {
                r.status == 200
                    && r.body
                        .starts_with("customer => preference => recommendation v3 ")
                    && r.body.contains(" from 'recommendation-v3-")
            })
    }

    fn counters(replies: &[Reply]) -> Vec<u64> {
        replies
            .iter()
            .filter_map(|r| r.body.trim_end().rsplit(": ").next()?.parse().ok())
            .collect()
    }

    fn mesh_error(replies: &[Reply], status: u16, marker: &str) -> bool {
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
}

/// The first reply's status and body, for a failing verdict's explanation.
fn first_reply(replies: &[Reply]) -> Option<(u16, &str)> {
    replies.first().map(|r| (r.status, r.body.trim_end()))
}

/// Whether every call Envoy logged went to `cluster`.
fn all_through(log: &[AccessLogEntry], cluster: &str) -> bool {
    log.iter()
        .all(|e| e.upstream_cluster.as_deref() == Some(cluster))
}

/// Runs the egress chapter on `lab` (fresh or reset: the tutorial's setup, ALLOW_ANY), writing to `out`.
pub async fn run<W: Write>(lab: &Lab, files: &LabFiles, out: W) -> anyhow::Result<Outcome> {
    let (proxy, listener) = EGRESS_LOG;
    let mut g = Guide::new(lab, out, lab.proxy_log(proxy, listener).await.len())?;
    g.say("Egress chapter on the local mesh: customer -> preference -> recommendation v3, whose calls to");
    g.say("worldclockapi.com go through its sidecar, configured from istio/ like istiod configures one.");

    g.step("1-2", "baseline and recommendation v3 with its sidecar");
    g.oc("curl $GATEWAY_URL");
    // A subshell, so a pasted line leaves the trainer's shell where it was (as scripts/egress-lab.sh prints it).
    g.oc("(cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial)   # the blog's file: no injection");
    let ours = std::fs::read_to_string(&files.deployment_v3)
        .with_context(|| format!("reading {}", files.deployment_v3.display()))?;
    let blogs = ours.replace(
        "sidecar.istio.io/inject: \"true\"",
        "sidecar.istio.io/inject: \"false\"",
    );
    g.say("  $ mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml   (with sidecar.istio.io/inject: \"false\", as the blog's)");
    let one = match lab
        .apply_text(
            Path::new("recommendation/kubernetes/Deployment-v3.yml"),
            &blogs,
        )
        .await
    {
        Ok(_) => lab.show().await.ok().and_then(|s| {
            s.workloads
                .into_iter()
                .find(|w| w.name == "recommendation-v3")
        }),
        Err(e) => {
            g.verdict(false, "", format!("apply Deployment-v3 failed: {e:#}"));
            None
        }
    };
    if let Some(w) = one {
        g.verdict(
            w.ready == "1/1",
            &format!("{} runs 1/1: no sidecar, its calls bypass the mesh", w.pod),
            format!("expected 1/1, got {}", w.ready),
        );
        let patch =
            r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}"#;
        g.oc(&format!(
            "oc patch deployment recommendation-v3 -n tutorial --type merge -p '{patch}'"
        ));
        g.say(&format!(
            "  $ mesh-lab patch deployment recommendation-v3 -p '{patch}'"
        ));
        match lab.patch("deployment", "recommendation-v3", patch).await {
            Ok(l) => {
                g.say(&format!("  {l}"));
                let pod = lab.pod_name("recommendation-v3").await.unwrap_or_default();
                let two = lab.show().await.ok().and_then(|s| {
                    s.workloads
                        .into_iter()
                        .find(|w| w.name == "recommendation-v3")
                });
                let ok = two
                    .as_ref()
                    .is_some_and(|t| t.ready == "2/2" && t.pod != w.pod);
                g.verdict(
                    ok,
                    &format!("the pod restarted as {pod}, 2/2 (app and sidecar)"),
                    format!("expected a new 2/2 pod, got {two:?}"),
                );
            }
            Err(e) => g.verdict(false, "", format!("patch failed: {e:#}")),
        }
    }

    g.step("3", "route all traffic to recommendation v3");
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

    g.step("4", "egress is open (mode ALLOW_ANY)");
    let r = g.run(3).await;
    let log = g.envoy_saw(3).await;
    let via_passthrough = all_through(&log, "PassthroughCluster");
    let ok = Guide::<W>::all_v3(&r) && via_passthrough;
    g.verdict(
        ok,
        "v3 shows the time: the call to worldclockapi.com left through PassthroughCluster (ALLOW_ANY lets any host out)",
        format!("expected three v3 lines through PassthroughCluster, got {:?}", r.iter().map(|r| (r.status, r.body.trim_end())).collect::<Vec<_>>()),
    );

    g.step(
        "5",
        "ServiceEntry worldclockapi-egress-rule, port 81 (wrong on purpose)",
    );
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.service_entry_wrong_port)
    ));
    g.apply(&files.service_entry_wrong_port).await;
    g.say("  lab extra: without a VirtualService the wrong port goes unnoticed —");
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    let passthrough = all_through(&log, "PassthroughCluster");
    g.verdict(
        Guide::<W>::all_v3(&r) && passthrough,
        "still 200, still through PassthroughCluster: the ServiceEntry declares port 81, the app calls 80, so \
         nothing governs this call (`mesh-lab show` points it out)",
        format!("expected a v3 line through PassthroughCluster, got {:?}", first_reply(&r)),
    );

    g.step("6", "VirtualService worldclockapi-timeout (timeout 3s)");
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.virtual_service_timeout)
    ));
    g.apply(&files.virtual_service_timeout).await;

    g.step("7", "the wrong port shows");
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    let nc = log.iter().any(|e| {
        e.response_code == Some(503)
            && e.response_flags
                .as_deref()
                .is_some_and(|f| f.contains("NC"))
    });
    g.verdict(
        Guide::<W>::mesh_error(&r, 503, "") && nc,
        "customer => Error: 503 - preference => Error: 500 - …: the VirtualService routes worldclockapi.com to \
         outbound|80||worldclockapi.com, but the ServiceEntry only declares port 81, so that cluster does not \
         exist: Envoy answers 503 with an empty body (response flag NC)",
        format!("expected the 503/500 chain with Envoy's 503 NC, got {:?}", first_reply(&r)),
    );

    g.step("8", "fix the ServiceEntry: port 80");
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.service_entry)
    ));
    g.apply(&files.service_entry).await;
    let before = g.lab.proxy_log(proxy, listener).await.len();
    let r = g.run(10).await;
    let log = g.envoy_saw(10).await;
    let counters = Guide::<W>::counters(&r);
    let increasing = counters.windows(2).all(|w| w[1] == w[0] + 1);
    let se = all_through(&log, "outbound|80||worldclockapi.com");
    g.verdict(
        Guide::<W>::all_v3(&r) && increasing && se && before + 10 <= g.log_seen,
        "v3 lines again, the counter going on (the failed calls counted too), through outbound|80||worldclockapi.com",
        format!("expected ten v3 lines through outbound|80||worldclockapi.com, counters {counters:?}"),
    );
    g.say("  lab extra: the 3s timeout now governs the call; make the time API hang for 10s —");
    g.say("  $ mesh-lab fault slow --delay 10s");
    match g.lab.fault("slow", Some("10s")).await {
        Ok(l) => g.say(&format!("  {l}")),
        Err(e) => g.verdict(false, "", format!("fault slow failed: {e:#}")),
    }
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    let elapsed = r.first().map(|r| r.elapsed).unwrap_or_default();
    let ut = log
        .iter()
        .any(|e| e.response_code == Some(504) && e.response_flags.as_deref() == Some("UT"));
    g.verdict(
        Guide::<W>::mesh_error(&r, 504, "upstream request timeout")
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

    g.step("9", "clean up: egress allowed again (ALLOW_ANY)");
    g.oc("oc delete serviceentry worldclockapi-egress-rule -n tutorial");
    g.oc("oc delete virtualservice worldclockapi-timeout -n tutorial");
    g.delete("serviceentry", "worldclockapi-egress-rule").await;
    g.delete("virtualservice", "worldclockapi-timeout").await;
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    g.verdict(
        Guide::<W>::all_v3(&r) && all_through(&log, "PassthroughCluster"),
        "200 through PassthroughCluster again",
        format!("expected a v3 line, got {:?}", first_reply(&r)),
    );

    g.step("10", "switch the mesh to REGISTRY_ONLY");
    g.oc("oc get configmap istio -n istio-system -o yaml | sed 's/mode: ALLOW_ANY/mode: REGISTRY_ONLY/g' | oc replace -n istio-system -f -");
    g.oc("OSSM 2: oc patch smcp basic -n istio-system --type merge --patch-file istio/registry-only-ossm2-smcp-patch.yml");
    g.oc("OSSM 3: oc patch istio default --type merge --patch-file istio/registry-only-ossm3-istio-patch.yml");
    g.oc(&format!(
        "any version: oc apply -f {} -n tutorial",
        shown(&files.sidecar_registry_only)
    ));
    g.apply(&files.sidecar_registry_only).await;
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    let blocked = log
        .iter()
        .any(|e| e.response_code == Some(502) && e.route_name.as_deref() == Some("block_all"));
    g.verdict(
        Guide::<W>::mesh_error(&r, 502, "") && blocked,
        "blocked: worldclockapi.com is not in the registry, the catch-all block_all answers 502 with an empty body",
        format!("expected the 502 chain from block_all, got {:?}", first_reply(&r)),
    );

    g.step("11", "re-create the ServiceEntry (port 80)");
    g.oc(&format!(
        "oc apply -f {} -n tutorial",
        shown(&files.service_entry)
    ));
    g.apply(&files.service_entry).await;
    let r = g.run(1).await;
    let log = g.envoy_saw(1).await;
    g.verdict(
        Guide::<W>::all_v3(&r) && all_through(&log, "outbound|80||worldclockapi.com"),
        "allowed again: the registry now has worldclockapi.com:80 (outbound|80||worldclockapi.com)",
        format!("expected a v3 line, got {:?}", first_reply(&r)),
    );

    g.step("12", "the graph (Kiali on a cluster; here `mesh-lab show`)");
    match g.lab.show().await {
        Ok(s) => {
            let text = crate::observe::show::render(&s);
            for l in text.lines() {
                g.say(&format!("  {l}"));
            }
        }
        Err(e) => g.verdict(false, "", format!("show failed: {e:#}")),
    }
    let n = g.outcome.passed;
    let failed = g.outcome.failed.len();
    g.say(&format!(
        "\n{} {n} checks passed, {failed} failed",
        if failed == 0 { "✔" } else { "✘" }
    ));
    Ok(g.outcome)
}
