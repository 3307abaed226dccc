//! Every chapter through the gateway (the guided run's verdicts, the troubleshooting chapter's findings),
//! every istio/ file, applies under load.

use std::path::PathBuf;
use std::time::Duration;

use mesh_lab::guided::guide::LabFiles;
use mesh_lab::guided::send::{chain_prefix, requests};

use crate::{http, istio, lab, repo};

#[tokio::test]
async fn guided_all_runs_every_chapter_to_the_end_with_every_step_passing() {
    let lab = lab().await;
    let files = LabFiles::find(&repo().join("istio")).unwrap();
    let mut out = Vec::new();
    let chapters = mesh_lab::guided::chapters("all").unwrap();
    let outcome = mesh_lab::guided::run_chapters(&lab, &files, &chapters, &mut out).await;
    lab.stop().await;
    let text = String::from_utf8_lossy(&out);
    let outcome = outcome.unwrap();
    assert!(outcome.failed.is_empty(), "{text}");
    assert!(outcome.passed >= 64, "{text}");
    for promise in [
        "canary 90/10: v2 answered",
        "curl -A Safari: v2",
        "v2's log shows the 10 mirrored requests",
        "only v1 answers, no errors",
        "`customer => Error: 503 - preference => Error: 504 - upstream request timeout`",
        "`no healthy upstream`",
        "flag UO",
        "`customer => Error: 503 - preference => Error: 503 - fault filter abort`",
        "took 7s, all answers correct",
        "block_all answers 502",
        "STRICT: the sidecar refuses plain text at the connection",
        "503 `customer => Error: 503 - preference => Error: 403 - RBAC: access denied`",
        "401 `Jwt verification fails`",
        "the chain answers for the token's subject",
    ] {
        assert!(text.contains(promise), "missing {promise:?} in\n{text}");
    }
    // Pasted, a cluster command leaves the shell where it was: a cd runs in a subshell.
    assert!(
        text.contains(
            "  on a cluster: (cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial)"
        ),
        "{text}"
    );
    for line in text.lines().filter(|l| l.contains("on a cluster:")) {
        assert!(
            !line.contains(": cd ") && !line.contains("&& cd "),
            "{line}"
        );
    }
    // The blog's moment: v3 without injection (1/1), then the blog's annotation patch, as printed, to 2/2.
    for promise in [
        "  on a cluster: oc patch deployment recommendation-v3 -n tutorial -p \
         '{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"sidecar.istio.io/inject\":\"true\"}}}}}'",
        "runs 1/1: nothing asks for injection",
        "2/2 (app and sidecar): the annotation asks for injection",
    ] {
        assert!(text.contains(promise), "missing {promise:?} in\n{text}");
    }
    every_step_shows_what_its_preview_says(&text);
    troubleshooting_finds_each_mistake(&text);
}

/// The troubleshooting chapter (last): each mistake's symptom, what analyze, proxy-config and proxy-status
/// show, and every one of its verdicts passed (istioctl analyze's own `✔ No validation issues` lines aside).
fn troubleshooting_finds_each_mistake(text: &str) {
    let start = text
        .find("Troubleshooting chapter:")
        .expect("the chapter ran");
    let end = text.rfind(" step(s) passed, ").unwrap();
    let chapter = &text[start..end];
    for promise in [
        "  customer => Error: 503 - preference => Error: 503 -\n",
        "  Error [IST0101] (VirtualService tutorial/recommendation) Referenced host+subset in destinationrule not found: \"recommendation+version-v3\"\n",
        "  recommendation.tutorial.svc.cluster.local     8080     version-v3     outbound      EDS      recommendation.tutorial\n",
        "  ✔ No validation issues found when analyzing namespace: tutorial.\n",
        "  Error [IST0101] (VirtualService tutorial/customer-gateway) Referenced gateway not found: \"customer-gw\"\n",
        "  http.80     blackhole:80     *           /*        404\n",
        "failed: the mesh proxy answered 503 (no cluster for the route",
        "  worldclockapi.com     81       -          outbound      STATIC     \n",
        "  worldclockapi.com     80       -          outbound      STATIC     \n",
        "  customer => Error: 503 - preference => connection reset: http://127.0.0.1:",
        "  preference-v1        1/1  (no sidecar: no identity)                            none\n",
        "has no istio-proxy container (its Deployment is not injected)",
        "     Warning: Route to UNKNOWN subset version-v3; check DestinationRule recommendation\n",
        "Envoy rejected configuration version",
        "RDS (version ",
        "RE2 program size of 40004 > max program size of 32768",
        "✔ proxy-status: every sidecar STALE on RDS",
        "✔ proxy-status: every proxy SYNCED",
    ] {
        assert!(
            chapter.contains(promise),
            "missing {promise:?} in\n{chapter}"
        );
    }
    let verdicts = |mark: &str| {
        chapter
            .lines()
            .filter(|l| l.starts_with(mark) && !l.contains("No validation issues found"))
            .count()
    };
    assert_eq!((verdicts("  ✔ "), verdicts("  ✘ ")), (26, 0), "{chapter}");
}

/// Each chapter's table says what `-i` shows before a step: every step's title, `oc` commands and lab
/// commands are what the full run printed; the steps are numbered 1 to N (the egress chapter as
/// scripts/egress-lab.sh, whose step 13 is the end of the run).
fn every_step_shows_what_its_preview_says(text: &str) {
    for chapter in mesh_lab::guided::chapters("all").unwrap() {
        let steps = chapter.steps::<Vec<u8>>();
        let numbers: Vec<u32> = steps.iter().map(|s| s.number).collect();
        assert_eq!(numbers, (1..=steps.len() as u32).collect::<Vec<_>>());
        for s in &steps {
            let title = format!("━━ Step {}: {}", s.number, s.title);
            assert!(text.contains(&title), "{chapter:?}: missing {title:?}");
            for oc in s.oc {
                let line = format!("  on a cluster: {oc}");
                assert!(
                    text.contains(&line),
                    "{chapter:?} step {}: missing {line:?}",
                    s.number
                );
            }
            for cmd in s.lab {
                let line = format!("  $ {cmd}");
                assert!(
                    text.contains(&line),
                    "{chapter:?} step {}: missing {line:?}",
                    s.number
                );
            }
        }
    }
    assert_eq!(mesh_lab::guided::Chapter::Egress.numbers().len(), 12);
}

/// Every file of istio/ applies on the local mesh, the security chapter's too.
#[tokio::test]
async fn every_istio_file_applies() {
    let lab = lab().await;
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("istio"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 33, "istio/ holds the tutorial's 33 files");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let r = lab.apply_file(f).await;
        assert!(r.is_ok(), "{name}: {:#}", r.unwrap_err());
    }
    // The JWT file's AuthorizationPolicy `customer` came last: without a token customer's sidecar denies.
    let denied = requests(&http(), &lab.gateway_url, 1, None).await;
    assert_eq!(
        (denied[0].status, denied[0].body.as_str()),
        (403, "RBAC: access denied")
    );
    for (kind, name) in [
        ("authorizationpolicy", "customer"),
        ("authorizationpolicy", "deny-all"),
        ("authorizationpolicy", "preference"),
        ("authorizationpolicy", "recommendation"),
        ("requestauthentication", "customer-jwt"),
        ("peerauthentication", "default"),
    ] {
        lab.delete(kind, name).await.unwrap();
    }
    // In the directory's order the last VirtualService sends everything to subset version-v3, which the
    // last DestinationRule (v1-v2) does not declare: no such cluster, Envoy's empty 503 (flag NC), as on a
    // cluster. Without the VirtualService the chain answers.
    let to_v3 = requests(&http(), &lab.gateway_url, 1, None).await;
    lab.delete("virtualservice", "recommendation")
        .await
        .unwrap();
    let a = requests(&http(), &lab.gateway_url, 1, None).await;
    lab.stop().await;
    assert_eq!(
        to_v3[0].body,
        "customer => Error: 503 - preference => Error: 503 -\n"
    );
    assert_eq!(a[0].status, 200, "{}", a[0].body);
}

#[tokio::test]
async fn applies_and_rolling_updates_take_effect_at_once_with_no_failed_request() {
    let lab = lab().await;
    let v1 = lab.pod_name("recommendation-v1").await.unwrap();
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = lab.gateway_url.clone();
    let flag = stop.clone();
    // A request loop through the gateway, bounded in count and time.
    let lo = tokio::spawn(async move {
        let client = http();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut failed = Vec::new();
        let mut n = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed)
            && n < 5000
            && std::time::Instant::now() < deadline
        {
            let a = requests(&client, &url, 1, None).await;
            if a[0].status != 200 {
                failed.push(a[0].body.clone());
            }
            n += 1;
        }
        (n, failed)
    });
    let mut effective = Vec::new();
    for f in ["v1", "v2", "v1-v2-50-50", "v1"] {
        lab.apply_file(&istio(&format!("virtual-service-recommendation-{f}.yml")))
            .await
            .unwrap();
        effective.push((f, requests(&http(), &lab.gateway_url, 3, None).await));
    }
    for f in ["Deployment-v2-timeout.yml", "Deployment-v2.yml"] {
        lab.apply_file(&repo().join("recommendation/kubernetes").join(f))
            .await
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, failed) = lo.await.unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    lab.stop().await;
    assert!(n > 20, "the loop ran ({n} requests)");
    assert!(
        failed.is_empty(),
        "{} of {n} failed: {failed:?}",
        failed.len()
    );
    let only = |answers: &[mesh_lab::guided::send::Answer], prefix: &str| {
        answers.iter().all(|a| a.body.starts_with(prefix))
    };
    assert!(
        only(&effective[0].1, &chain_prefix("v1", &v1)),
        "{:?}",
        effective[0]
    );
    assert!(
        only(
            &effective[1].1,
            "customer => preference => recommendation v2 from 'recommendation-v2-"
        ),
        "{:?}",
        effective[1]
    );
    assert!(
        only(&effective[3].1, &chain_prefix("v1", &v1)),
        "{:?}",
        effective[3]
    );
    assert!(v2.starts_with("recommendation-v2-"), "{v2}");
}

/// `guided --graph` draws the traffic since the last step began: the access-log entries that started before
/// are left out, the others drawn as they are.
#[tokio::test]
async fn the_graph_since_a_time_draws_only_the_requests_that_began_then_or_later() {
    use integration_tests::wait::until_async;
    use mesh_lab::observe::graph::model::{GATEWAY, Graph};
    let from_gateway = |g: &Graph| -> usize {
        g.edges
            .iter()
            .filter(|e| e.source == GATEWAY)
            .map(|e| e.requests)
            .sum()
    };
    let lab = lab().await;
    requests(&http(), &lab.gateway_url, 2, None).await;
    let within = Duration::from_secs(10);
    until_async("2 requests logged", within, || async {
        (from_gateway(&lab.graph().await) == 2).then_some(())
    })
    .await;
    let since = chrono::Utc::now();
    requests(&http(), &lab.gateway_url, 1, None).await;
    until_async("3 requests logged", within, || async {
        (from_gateway(&lab.graph().await) == 3).then_some(())
    })
    .await;
    let recent = mesh_lab::guided::graph_since(&lab, since).await;
    lab.stop().await;
    assert_eq!(from_gateway(&recent), 1, "{recent:#?}");
}
