//! `mesh-lab guided troubleshoot`: the classic mistakes of the tutorial, each made with the tutorial's own
//! kind of file, its symptom through the gateway, found the way istioctl finds it (`istioctl analyze`,
//! `istioctl x describe pod`, `istioctl proxy-config`, `istioctl proxy-status`, the pods' READY column)
//! and fixed, every verdict read from the lab's real
//! answers: a VirtualService naming a subset no DestinationRule defines, a VirtualService bound to a
//! Gateway that does not exist, the egress ServiceEntry on the wrong port, STRICT mutual TLS with a
//! client outside the mesh, and a configuration Envoy rejects ([`rejected`], found with `proxy-status`).

mod rejected;

use std::io::Write;
use std::path::Path;

use crate::guided::Step;
use crate::guided::egress::{all_v3, first_reply, mesh_error};
use crate::guided::guide::{Guide, LabFiles};
use crate::guided::send::Answer;
use crate::observe::proxy_config::{GATEWAY, ProxyConfigQuery, proxy_config};

/// The chapter's first line.
pub(crate) const INTRO: &str = "Troubleshooting chapter: the classic mistakes, each made with the tutorial's files, \
its symptom, found with istioctl analyze, x describe, proxy-config and proxy-status, and fixed.";

const ANALYZE_OC: &str = "istioctl analyze -n tutorial";
const ANALYZE_LAB: &str = "mesh-lab analyze";
const DEPLOY_V3_OC: &str = "oc apply -f recommendation/kubernetes/Deployment-v3.yml -n tutorial";
const DEPLOY_V3_LAB: &str = "mesh-lab apply -f recommendation/kubernetes/Deployment-v3.yml";
const RECOMMENDATION: &str = "recommendation.tutorial.svc.cluster.local";
const DESCRIBE_V3_OC: &str = "istioctl x describe pod \"$(oc get pod -n tutorial -l app=recommendation,version=v3 -o jsonpath='{.items[0].metadata.name}')\" -n tutorial";
const DESCRIBE_V3_LAB: &str = "mesh-lab describe pod deploy/recommendation-v3";
const CLUSTERS_PREFERENCE_OC: &str = "istioctl proxy-config clusters deploy/preference-v1 -n tutorial --fqdn recommendation.tutorial.svc.cluster.local";
const CLUSTERS_PREFERENCE_LAB: &str = "mesh-lab proxy-config clusters deploy/preference-v1 --fqdn recommendation.tutorial.svc.cluster.local";
/// The learner's VirtualService for the gateway, and the tutorial's file that binds it right.
const WRONG_GATEWAY_FILE: &str = "virtual-service-customer-gateway.yml";
const WRONG_GATEWAY_OC: &str = "oc apply -f virtual-service-customer-gateway.yml -n tutorial";
const WRONG_GATEWAY_LAB: &str = "mesh-lab apply -f virtual-service-customer-gateway.yml";
const GATEWAY_FILE: &str = "kubernetes/app/customer-gateway.yml";
const GATEWAY_OC: &str = "oc apply -f kubernetes/app/customer-gateway.yml -n tutorial";
const GATEWAY_LAB: &str = "mesh-lab apply -f kubernetes/app/customer-gateway.yml";
const ROUTES_GATEWAY_OC: &str =
    "istioctl proxy-config routes deploy/istio-ingressgateway -n istio-system";
const ROUTES_GATEWAY_LAB: &str = "mesh-lab proxy-config routes istio-ingressgateway";
const CLUSTERS_V3_OC: &str =
    "istioctl proxy-config clusters deploy/recommendation-v3 -n tutorial --fqdn worldclockapi.com";
const CLUSTERS_V3_LAB: &str =
    "mesh-lab proxy-config clusters deploy/recommendation-v3 --fqdn worldclockapi.com";
const NO_SIDECAR_OC: &str = patch!(oc "preference-v1", r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"false"}}}}}"#);
const NO_SIDECAR_LAB: &str = patch!(lab "preference-v1", r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"false"}}}}}"#);
const INJECT_OC: &str = patch!(oc "preference-v1", r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}"#);
const INJECT_LAB: &str = patch!(lab "preference-v1", r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"true"}}}}}"#);
const PODS_OC: &str = "oc get pods -n tutorial";
const SHOW_LAB: &str = "mesh-lab show";
const SECRET_OC: &str = "istioctl proxy-config secret deploy/preference-v1 -n tutorial";
const SECRET_LAB: &str = "mesh-lab proxy-config secret deploy/preference-v1";

/// The learner's VirtualService for the ingress: the tutorial's, bound to a Gateway named `customer-gw`,
/// which does not exist (the Gateway is `customer-gateway`).
const WRONG_GATEWAY_YAML: &str = r#"apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: customer-gateway
spec:
  hosts:
  - "*"
  gateways:
  - customer-gw
  http:
  - route:
    - destination:
        host: customer
        port:
          number: 8080
"#;

/// The chapter's steps: three per mistake (make it and see the symptom, find it, fix it).
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    let mut steps = missing_subset_and_wrong_gateway();
    steps.extend(wrong_port_and_strict());
    steps.extend(rejected::steps());
    steps
}

/// Steps 1 to 6: the subset no DestinationRule defines, the VirtualService bound to a missing Gateway.
fn missing_subset_and_wrong_gateway<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "mistake: v3 routed to before a DestinationRule defines subset version-v3",
            &[
                DEPLOY_V3_OC,
                "oc apply -f istio/destination-rule-recommendation-v1-v2.yml -n tutorial",
                "oc apply -f istio/virtual-service-recommendation-v3.yml -n tutorial"
            ],
            &[
                DEPLOY_V3_LAB,
                "mesh-lab apply -f istio/destination-rule-recommendation-v1-v2.yml",
                "mesh-lab apply -f istio/virtual-service-recommendation-v3.yml"
            ],
            missing_subset
        ),
        step!(
            2,
            "find it: analyze names the subset (IST0101), describe warns of it, preference's sidecar has no version-v3 cluster",
            &[ANALYZE_OC, DESCRIBE_V3_OC, CLUSTERS_PREFERENCE_OC],
            &[ANALYZE_LAB, DESCRIBE_V3_LAB, CLUSTERS_PREFERENCE_LAB],
            find_missing_subset
        ),
        step!(
            3,
            "fix: the DestinationRule with subset version-v3",
            &["oc apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial"],
            &["mesh-lab apply -f istio/destination-rule-recommendation-v1-v2-v3.yml"],
            fix_missing_subset
        ),
        step!(
            4,
            "mistake: the gateway's VirtualService bound to a Gateway that does not exist",
            &[WRONG_GATEWAY_OC],
            &[WRONG_GATEWAY_LAB],
            wrong_gateway
        ),
        step!(
            5,
            "find it: analyze names the gateway (IST0101), the ingress gateway has no route to customer",
            &[ANALYZE_OC, ROUTES_GATEWAY_OC],
            &[ANALYZE_LAB, ROUTES_GATEWAY_LAB],
            find_wrong_gateway
        ),
        step!(
            6,
            "fix: the tutorial's VirtualService, bound to customer-gateway",
            &[GATEWAY_OC],
            &[GATEWAY_LAB],
            fix_wrong_gateway
        ),
    ]
}

/// Steps 7 to 12: the ServiceEntry on the wrong port, STRICT mutual TLS with a pod outside the mesh.
fn wrong_port_and_strict<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            7,
            "mistake: the time API's ServiceEntry on port 81, with the timeout VirtualService",
            &[
                "oc apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml -n tutorial",
                "oc apply -f istio/virtual-service-worldclockapi-timeout.yml -n tutorial"
            ],
            &[
                "mesh-lab apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml",
                "mesh-lab apply -f istio/virtual-service-worldclockapi-timeout.yml"
            ],
            wrong_port
        ),
        step!(
            8,
            "find it: v3's sidecar has a cluster for worldclockapi.com on port 81, none on 80",
            &[CLUSTERS_V3_OC],
            &[CLUSTERS_V3_LAB],
            find_wrong_port
        ),
        step!(
            9,
            "fix: the ServiceEntry on port 80",
            apply "service-entry-egress-worldclockapi.yml",
            fix_wrong_port
        ),
        step!(
            10,
            "mistake: STRICT mutual TLS, then preference deployed without its sidecar",
            &[
                "oc apply -f istio/peer-authentication-tutorial-strict.yml -n tutorial",
                NO_SIDECAR_OC
            ],
            &[
                "mesh-lab apply -f istio/peer-authentication-tutorial-strict.yml",
                NO_SIDECAR_LAB
            ],
            strict_without_sidecar
        ),
        step!(
            11,
            "find it: preference runs 1/1, no identity, no Envoy; recommendation only takes mutual TLS",
            &[PODS_OC, SECRET_OC],
            &[SHOW_LAB, SECRET_LAB],
            find_no_sidecar
        ),
        step!(
            12,
            "fix: inject preference's sidecar (or PeerAuthentication PERMISSIVE)",
            &[INJECT_OC],
            &[INJECT_LAB],
            fix_no_sidecar
        ),
    ]
}

/// `customer => Error: 503 - preference => Error: 503 -`: the chain's answer when preference's sidecar has
/// no cluster for the route (Envoy's 503 with an empty body, flag NC).
const NO_CLUSTER: &str = "customer => Error: 503 - preference => Error: 503 -";

impl<W: Write> Guide<'_, W> {
    /// `istioctl analyze -n tutorial` and the lab's: its lines as printed (istioctl's no-issues line when none);
    /// `None` when it failed (a ✘ already).
    async fn analyze(&mut self) -> Option<Vec<String>> {
        self.oc(ANALYZE_OC);
        self.say(&format!("  $ {ANALYZE_LAB}"));
        match self.lab.analyze(&[]).await {
            Ok(messages) => {
                let lines: Vec<String> = messages.iter().map(ToString::to_string).collect();
                for l in &lines {
                    self.say(&format!("  {l}"));
                }
                if lines.is_empty() {
                    self.say(&format!(
                        "  {}",
                        mesh_istiod::config::analysis::no_issues(&[])
                    ));
                }
                Some(lines)
            }
            Err(e) => {
                self.verdict(false, "", format!("analyze failed: {e:#}"));
                None
            }
        }
    }

    /// The verdict that analyze finds no issue.
    async fn analyze_clean(&mut self, what: &str) {
        let Some(lines) = self.analyze().await else {
            return;
        };
        self.verdict(
            lines.is_empty(),
            &format!("analyze: no issues ({what})"),
            format!("expected no issues, analyze says {lines:?}"),
        );
    }

    /// `istioctl proxy-config …` (`oc`) and the lab's (`lab`) for `q`: the table's lines, printed, or the
    /// error it answers (printed as istioctl prints it).
    async fn proxy_config(
        &mut self,
        oc: &str,
        lab: &str,
        q: ProxyConfigQuery,
    ) -> Result<Vec<String>, String> {
        self.oc(oc);
        self.say(&format!("  $ {lab}"));
        let r = proxy_config(self.lab, &q)
            .await
            .map_err(|e| format!("{e:#}"));
        let (Ok(text) | Err(text)) = &r;
        for l in text.lines() {
            self.say(&format!("  {l}"));
        }
        r.map(|t| t.lines().map(str::to_owned).collect())
    }

    /// Preference's clusters for recommendation (`CLUSTERS_PREFERENCE_*`): the subsets they name.
    async fn recommendation_subsets(&mut self) -> Vec<String> {
        let q = ProxyConfigQuery {
            section: "clusters".into(),
            pod: "deploy/preference-v1".into(),
            fqdn: Some(RECOMMENDATION.into()),
            ..ProxyConfigQuery::default()
        };
        let rows = self
            .proxy_config(CLUSTERS_PREFERENCE_OC, CLUSTERS_PREFERENCE_LAB, q)
            .await
            .unwrap_or_default();
        rows.iter()
            .filter_map(|r| match r.split_whitespace().collect::<Vec<_>>()[..] {
                [fqdn, _, subset, "outbound", ..] if fqdn == RECOMMENDATION => {
                    Some(subset.to_owned())
                }
                _ => None,
            })
            .collect()
    }
}

/// Whether every answer is the chain's 503 for a missing cluster at preference.
fn all_no_cluster(answers: &[Answer]) -> bool {
    !answers.is_empty()
        && answers
            .iter()
            .all(|a| a.status == 503 && a.body.trim_end() == NO_CLUSTER)
}

/// Step 1: v3 deployed, the routing chapter's DestinationRule (v1 and v2), the VirtualService to version-v3.
async fn missing_subset<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    let applied = g.apply_step(&files.deployment_v3).await
        && g.apply_step(&files.istio_file("destination-rule-recommendation-v1-v2.yml"))
            .await
        && g.apply_step(&files.virtual_service_v3).await;
    if !applied {
        return;
    }
    let a = g.send(3, None).await;
    g.verdict(
        all_no_cluster(&a),
        &format!(
            "`{NO_CLUSTER} `: the route names subset version-v3, and no DestinationRule defines it"
        ),
        format!(
            "expected `{NO_CLUSTER} ` three times, got {:?}",
            first_reply(&a)
        ),
    );
}

/// Step 2: analyze's IST0101 on the subset; preference's sidecar has version-v1 and -v2 clusters, no -v3.
async fn find_missing_subset<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let lines = g.analyze().await.unwrap_or_default();
    let found = lines
        .iter()
        .any(|l| l.contains("[IST0101]") && l.contains("\"recommendation+version-v3\""));
    g.verdict(
        found,
        "analyze: IST0101, the VirtualService's host+subset recommendation+version-v3 has no DestinationRule",
        format!("expected IST0101 for recommendation+version-v3, analyze says {lines:?}"),
    );
    g.oc(DESCRIBE_V3_OC);
    g.say(&format!("  $ {DESCRIBE_V3_LAB}"));
    let text = crate::observe::describe::describe(g.lab, "deploy/recommendation-v3")
        .await
        .unwrap_or_else(|e| format!("{e:#}"));
    for l in text.lines() {
        g.say(&format!("  {l}"));
    }
    g.verdict(
        text.contains("Route to UNKNOWN subset version-v3"),
        "describe: the route to v3's pod names a subset no DestinationRule defines (UNKNOWN subset version-v3)",
        format!("expected describe's UNKNOWN subset warning, got {text:?}"),
    );
    let subsets = g.recommendation_subsets().await;
    let has = |s: &str| subsets.iter().any(|x| x == s);
    g.verdict(
        has("version-v1") && has("version-v2") && !has("version-v3"),
        "proxy-config: clusters for subsets version-v1 and version-v2, none for version-v3 (the route's \
         outbound|8080|version-v3|recommendation… does not exist: 503 NC)",
        format!("expected subsets version-v1 and version-v2 only, got {subsets:?}"),
    );
}

/// Step 3: the DestinationRule with version-v3: v3 answers, its cluster is there, analyze is clean.
async fn fix_missing_subset<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if !g.apply_step(&files.destination_rule).await {
        return;
    }
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "v3 answers with the time",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
    let subsets = g.recommendation_subsets().await;
    g.verdict(
        subsets.iter().any(|s| s == "version-v3"),
        "proxy-config: the version-v3 cluster is there",
        format!("expected a version-v3 cluster, got {subsets:?}"),
    );
    g.analyze_clean("the subset is defined").await;
}

/// Step 4: the learner's VirtualService bound to `customer-gw`: the gateway has no route, 404.
async fn wrong_gateway<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    g.oc(WRONG_GATEWAY_OC);
    g.say(&format!("  the learner's {WRONG_GATEWAY_FILE}:"));
    for l in WRONG_GATEWAY_YAML.lines() {
        g.say(&format!("    {l}"));
    }
    g.say(&format!("  $ {WRONG_GATEWAY_LAB}"));
    match g
        .lab
        .apply_text(Path::new(WRONG_GATEWAY_FILE), WRONG_GATEWAY_YAML)
        .await
    {
        Ok(lines) => lines.iter().for_each(|l| g.say(&format!("  {l}"))),
        Err(e) => return g.verdict(false, "", format!("apply failed: {e:#}")),
    }
    let a = g.send(3, None).await;
    g.verdict(
        a.iter().all(|a| a.status == 404 && a.body.is_empty()),
        "404 with an empty body: no VirtualService is bound to the Gateway customer-gateway",
        format!("expected 404 with no body, got {:?}", first_reply(&a)),
    );
}

/// Step 5: analyze's IST0101 on the gateway; the ingress gateway's routes lead nowhere near customer.
async fn find_wrong_gateway<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let lines = g.analyze().await.unwrap_or_default();
    let on_it = |code: &str| {
        lines.iter().any(|l| {
            l.contains(&format!(
                "[{code}] (VirtualService tutorial/customer-gateway)"
            )) && l.contains("customer-gw")
        })
    };
    g.verdict(
        on_it("IST0101") && on_it("IST0132"),
        "analyze: IST0101, the gateway customer-gw the VirtualService names does not exist (and IST0132: so \
         no Gateway serves its hosts)",
        format!("expected IST0101 and IST0132 for gateway customer-gw, analyze says {lines:?}"),
    );
    let q = ProxyConfigQuery {
        section: "routes".into(),
        pod: GATEWAY.into(),
        ..ProxyConfigQuery::default()
    };
    let rows = g
        .proxy_config(ROUTES_GATEWAY_OC, ROUTES_GATEWAY_LAB, q)
        .await;
    let to_customer = rows.as_ref().map(|r| {
        r.iter()
            .any(|l| l.contains("customer.tutorial.svc.cluster.local"))
    });
    g.verdict(
        to_customer == Ok(false),
        "proxy-config: the ingress gateway's routes lead nowhere near customer",
        format!("expected no route to customer, got {rows:?}"),
    );
}

/// Step 6: the tutorial's gateway file again: the chain answers, analyze is clean.
async fn fix_wrong_gateway<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if !g.apply_step(&files.repo.join(GATEWAY_FILE)).await {
        return;
    }
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "the chain answers through the gateway again (v3, as routed)",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
    g.analyze_clean("the VirtualService's gateway exists").await;
}

/// Step 7: the ServiceEntry on port 81 and the timeout VirtualService: v3's time lookup gets Envoy's 503.
async fn wrong_port<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    let applied = g.apply_step(&files.service_entry_wrong_port).await
        && g.apply_step(&files.virtual_service_timeout).await;
    if !applied {
        return;
    }
    let a = g.send(1, None).await;
    g.verdict(
        mesh_error(&a, 503, ""),
        "customer => Error: 503 - preference => Error: 500 - …: v3's sidecar answered its time lookup 503",
        format!(
            "expected the 503/500 chain from v3's sidecar, got {:?}",
            first_reply(&a)
        ),
    );
}

/// recommendation v3's clusters for worldclockapi.com (`CLUSTERS_V3_*`): their ports.
async fn time_api_ports<W: Write>(g: &mut Guide<'_, W>) -> Vec<String> {
    let q = ProxyConfigQuery {
        section: "clusters".into(),
        pod: "deploy/recommendation-v3".into(),
        fqdn: Some(crate::lab::EXTERNAL_HOST.into()),
        ..ProxyConfigQuery::default()
    };
    let rows = g
        .proxy_config(CLUSTERS_V3_OC, CLUSTERS_V3_LAB, q)
        .await
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| match r.split_whitespace().collect::<Vec<_>>()[..] {
            [crate::lab::EXTERNAL_HOST, port, _, "outbound", ..] => Some(port.to_owned()),
            _ => None,
        })
        .collect()
}

/// Step 8: v3's sidecar has worldclockapi.com on 81 only, while the app calls port 80.
async fn find_wrong_port<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    let ports = time_api_ports(g).await;
    g.verdict(
        ports == ["81"],
        "proxy-config: worldclockapi.com has a cluster on port 81 only; the app calls port 80, where the \
         VirtualService routes to outbound|80||worldclockapi.com, which does not exist (503 NC)",
        format!("expected one worldclockapi.com cluster, port 81, got ports {ports:?}"),
    );
}

/// Step 9: the ServiceEntry on port 80: v3 shows the time, its sidecar has the port-80 cluster.
async fn fix_wrong_port<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if !g.apply_step(&files.service_entry).await {
        return;
    }
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "v3 shows the time again",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
    let ports = time_api_ports(g).await;
    g.verdict(
        ports == ["80"],
        "proxy-config: worldclockapi.com's cluster is on port 80",
        format!("expected the port-80 cluster only, got ports {ports:?}"),
    );
}

/// `oc patch` of preference-v1's pod label `sidecar.istio.io/inject` (the label wins over the annotation,
/// mesh-istiod/src/model/registry.rs): whether the lab took it.
async fn patch_preference<W: Write>(
    g: &mut Guide<'_, W>,
    oc: &str,
    lab: &str,
    inject: bool,
) -> bool {
    g.oc(oc);
    g.say(&format!("  $ {lab}"));
    let patch = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"labels":{{"sidecar.istio.io/inject":"{inject}"}}}}}}}}}}"#
    );
    match g.lab.patch("deployment", "preference-v1", &patch).await {
        Ok(l) => {
            g.say(&format!("  {l}"));
            true
        }
        Err(e) => {
            g.verdict(false, "", format!("patch failed: {e:#}"));
            false
        }
    }
}

/// Step 10: STRICT, then preference without its sidecar: its plain-text calls are refused by
/// recommendation's sidecars at the connection.
async fn strict_without_sidecar<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if !g
        .apply_step(&files.istio_file("peer-authentication-tutorial-strict.yml"))
        .await
    {
        return;
    }
    if !patch_preference(g, NO_SIDECAR_OC, NO_SIDECAR_LAB, false).await {
        return;
    }
    let a = g.send(3, None).await;
    let refused = |a: &Answer| {
        a.status == 503
            && a.body
                .starts_with("customer => Error: 503 - preference => connection reset")
    };
    g.verdict(
        a.iter().all(refused),
        "`customer => Error: 503 - preference => connection reset: …`: recommendation's sidecar refuses \
         preference's plain text",
        format!("expected preference's connection reset, got {:?}", first_reply(&a)),
    );
}

/// Step 11: show's rows (the READY and identity a cluster's `oc get pods` and proxy-config show) and
/// proxy-config secret: preference has no sidecar, recommendation's are STRICT.
async fn find_no_sidecar<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) -> anyhow::Result<()> {
    g.oc(PODS_OC);
    g.say(&format!("  $ {SHOW_LAB}"));
    let show = g.lab.show().await?;
    for w in &show.workloads {
        g.say(&format!(
            "  {:<20} {:<4} {:<52} {}",
            w.name,
            w.ready,
            w.identity.as_deref().unwrap_or("(no sidecar: no identity)"),
            w.mtls
        ));
    }
    let row = |name: &str| show.workloads.iter().find(|w| w.name == name);
    let preference =
        row("preference-v1").map(|w| (w.ready.as_str(), w.identity.is_none(), w.mtls.as_str()));
    let strict = [
        "recommendation-v1",
        "recommendation-v2",
        "recommendation-v3",
    ]
    .iter()
    .all(|n| row(n).is_some_and(|w| w.mtls.starts_with("STRICT")));
    g.verdict(
        preference == Some(("1/1", true, "none")) && strict,
        "preference-v1 runs 1/1 with no identity (plain text only); every recommendation sidecar is STRICT",
        format!("expected preference-v1 1/1 without identity and recommendation STRICT, got {preference:?}, STRICT: {strict}"),
    );
    let q = ProxyConfigQuery {
        section: "secret".into(),
        pod: "deploy/preference-v1".into(),
        ..ProxyConfigQuery::default()
    };
    let r = g.proxy_config(SECRET_OC, SECRET_LAB, q).await;
    g.verdict(
        r.as_ref()
            .is_err_and(|e| e.contains("has no istio-proxy container")),
        "proxy-config secret: preference's pod has no istio-proxy, so no certificate to present",
        format!("expected no istio-proxy in preference's pod, got {r:?}"),
    );
    Ok(())
}

/// Step 12: preference's sidecar injected again: the chain answers over mutual TLS.
async fn fix_no_sidecar<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) {
    if !patch_preference(g, INJECT_OC, INJECT_LAB, true).await {
        return;
    }
    let a = g.send(3, None).await;
    g.verdict(
        all_v3(&a),
        "the chain answers (v3) over mutual TLS: preference has its sidecar and identity again",
        format!("expected v3's answers, got {:?}", first_reply(&a)),
    );
}
