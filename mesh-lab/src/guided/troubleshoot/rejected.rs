//! Steps 13 to 15 of the troubleshooting chapter: a configuration Istio accepts and every sidecar's Envoy
//! rejects, found with `istioctl proxy-status` (STALE, and Envoy's reason) and fixed.

use std::io::Write;
use std::path::Path;

use crate::guided::Step;
use crate::guided::egress::{all_v3, first_reply};
use crate::guided::guide::{Guide, LabFiles};
use crate::observe::proxy_status;
use crate::xds::{ProxyStatus, ROUTE, TypeStatus, short_name};

const FILE: &str = "virtual-service-recommendation-paths.yml";
const APPLY_OC: &str = "oc apply -f virtual-service-recommendation-paths.yml -n tutorial";
const APPLY_LAB: &str = "mesh-lab apply -f virtual-service-recommendation-paths.yml";
const STATUS_OC: &str = "istioctl proxy-status";
const STATUS_LAB: &str = "mesh-lab proxy-status";
/// Envoy's words for a regex whose RE2 program is over istio-agent's limit.
const TOO_BIG: &str = "RE2 program size of 40004 > max program size of 32768";

/// The learner's VirtualService: v3 as before, with a rule for one long path pattern — 442 characters,
/// so Istio's validation (at most 1024) takes it, but 40004 RE2 instructions, which Envoy refuses.
fn learners_file() -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - match:
    - uri:
        regex: \"^/{}$\"
    route:
    - destination:
        host: recommendation
        subset: version-v3
  - route:
    - destination:
        host: recommendation
        subset: version-v3
",
        "[a-z]{1000}".repeat(40)
    )
}

pub(super) fn steps<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            13,
            "mistake: a uri regex Istio accepts and Envoy refuses (over 32768 RE2 instructions)",
            &[APPLY_OC],
            &[APPLY_LAB],
            rejected
        ),
        step!(
            14,
            "find it: proxy-status shows every sidecar STALE on RDS, with Envoy's reason",
            &[STATUS_OC],
            &[STATUS_LAB],
            find_rejected
        ),
        step!(
            15,
            "fix: the tutorial's VirtualService again; every proxy SYNCED",
            apply "virtual-service-recommendation-v3.yml",
            fix_rejected
        ),
    ]
}

impl<W: Write> Guide<'_, W> {
    /// `istioctl proxy-status` and the lab's: the table printed; what the xDS server recorded of each proxy
    /// of the mesh, by proxy ID, that the table shows.
    fn proxy_status(&mut self) -> Vec<(String, ProxyStatus)> {
        self.oc(STATUS_OC);
        self.say(&format!("  $ {STATUS_LAB}"));
        let statuses = self.lab.xds.status();
        let text = proxy_status::table(&statuses, &self.lab.istio.version());
        for l in text.lines() {
            self.say(&format!("  {l}"));
        }
        statuses
            .into_iter()
            .filter_map(|p| Some((proxy_status::proxy_id(&p.node)?.to_owned(), p)))
            .collect()
    }
}

/// A proxy's record of `type_url` (nothing sent: the default).
fn of(p: &ProxyStatus, type_url: &str) -> TypeStatus {
    p.status.get(type_url).cloned().unwrap_or_default()
}

/// Each proxy's sync status per type, for a failing verdict's explanation.
fn summary(proxies: &[(String, ProxyStatus)]) -> Vec<String> {
    proxies
        .iter()
        .flat_map(|(id, p)| {
            p.status
                .iter()
                .map(move |(t, s)| format!("{id} {}: {}", short_name(t), s.sync_status()))
        })
        .collect()
}

/// Step 13: applied as a cluster applies it, with the lab's warning per sidecar; the chain answers as before.
async fn rejected<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    g.oc(APPLY_OC);
    g.say(&format!(
        "  the learner's {FILE}: v3's VirtualService with a rule for a long path pattern"
    ));
    g.say(&format!("  $ {APPLY_LAB}"));
    let lines = match g.lab.apply_text(Path::new(FILE), &learners_file()).await {
        Ok(lines) => lines,
        Err(e) => return g.verdict(false, "", format!("apply failed: {e:#}")),
    };
    for l in &lines {
        g.say(&format!(
            "  {}",
            l.replace(&"[a-z]{1000}".repeat(40), "[a-z]{1000}…")
        ));
    }
    let warned = lines.iter().filter(|l| l.contains(TOO_BIG)).count();
    g.verdict(
        warned >= 4,
        &format!("accepted, as a cluster accepts it; {warned} sidecars rejected it (the lab warns, a cluster does not)"),
        format!("expected a rejection by every sidecar, apply said {lines:?}"),
    );
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "the chain still answers (v3): each sidecar keeps the routes it had",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
}

/// Step 14: every sidecar STALE on RDS, the gateway SYNCED, Envoy's reason under the table.
async fn find_rejected<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let proxies = g.proxy_status();
    let (gateway, sidecars): (Vec<_>, Vec<_>) = proxies
        .iter()
        .partition(|(id, _)| id.starts_with("istio-ingressgateway"));
    let stale = |p: &ProxyStatus| of(p, ROUTE).sync_status() == "STALE";
    g.verdict(
        !sidecars.is_empty()
            && sidecars.iter().all(|(_, p)| stale(p))
            && !gateway.iter().any(|(_, p)| stale(p)),
        "proxy-status: every sidecar STALE on RDS (its route configuration NACKed), the gateway SYNCED",
        format!("expected every sidecar STALE on RDS, got {:?}", summary(&proxies)),
    );
    let reasons: Vec<String> = sidecars
        .iter()
        .filter_map(|(_, p)| of(p, ROUTE).nack.map(|n| n.message))
        .collect();
    g.verdict(
        reasons.len() == sidecars.len() && reasons.iter().all(|r| r.contains(TOO_BIG)),
        "Envoy's reason: the regex's RE2 program is over 32768 instructions",
        format!("expected Envoy's reason per sidecar, got {reasons:?}"),
    );
}

/// Step 15: the tutorial's v3 VirtualService; every proxy SYNCED, v3 answers.
async fn fix_rejected<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if !g.apply_step(&files.virtual_service_v3).await {
        return;
    }
    let proxies = g.proxy_status();
    let synced = |p: &ProxyStatus| {
        p.status
            .values()
            .all(|s| !s.sync_status().starts_with("STALE") && s.nack.is_none())
    };
    g.verdict(
        !proxies.is_empty() && proxies.iter().all(|(_, p)| synced(p)),
        "proxy-status: every proxy SYNCED",
        format!("expected no STALE proxy, got {:?}", summary(&proxies)),
    );
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "v3 answers",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
}
