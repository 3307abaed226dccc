//! Replicas through the gateway: `kubectl scale` and `spec.replicas` run one pod per replica, each with its
//! own app, sidecar and endpoint, named as a ReplicaSet names them; each pod answers its share (Envoy's
//! LEAST_REQUEST, istiod's default); scaling keeps the running pods (down removes the newest); no pod is
//! Envoy's `no healthy upstream`; the circuit breaker ejects the one misbehaving pod of two.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mesh_lab::Lab;
use mesh_lab::guided::send::{Answer, requests};

use crate::routing::{binomial_bounds, line};
use crate::served::Served;
use crate::{http, istio, lab, repo};

const V2: &str = "recommendation-v2";
const NO_HEALTHY_UPSTREAM: &str =
    "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n";

/// Every request to subset version-v2 (its DestinationRule `dr` and the all-to-v2 VirtualService).
async fn all_to_v2(lab: &Lab, dr: &str) {
    lab.apply_file(&istio(dr)).await.unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-v2.yml"))
        .await
        .unwrap();
}

/// v2's running pod names, oldest first.
async fn v2_pods(lab: &Lab) -> Vec<String> {
    lab.pods_of(V2).await.into_iter().map(|(p, _)| p).collect()
}

/// `recommendation-v2-<template hash>-<suffix>`: the part before the suffix.
fn replica_set(pod: &str) -> &str {
    pod.rsplit_once('-').unwrap().0
}

/// Checks every answer is a v2 chain line from one of `pods`, each pod's counter going up by one per answer
/// from `from[pod]` + 1, answers equal to `other` aside: the answers per pod (and per `other` body).
fn per_pod(answers: &[Answer], pods: &[&str], other: &[&str]) -> BTreeMap<String, u64> {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (i, a) in answers.iter().enumerate() {
        if let Some(o) = other.iter().find(|o| a.body == **o) {
            *seen.entry((*o).to_owned()).or_default() += 1;
            continue;
        }
        let Some(pod) = pods
            .iter()
            .find(|p| a.body.contains(&format!("from '{p}'")))
        else {
            panic!("answer {i}: unexpected {} {:?}", a.status, a.body);
        };
        let n = seen.entry((*pod).to_owned()).or_default();
        *n += 1;
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, line("v2", pod, *n).as_str()),
            "answer {i}"
        );
    }
    seen
}

/// `scale --replicas=2`: the running pod stays and a second one of the same ReplicaSet joins; over 200
/// requests each answers within the exact binomial bounds of one half (two endpoints, LEAST_REQUEST); back
/// to 1 the newest goes and the first answers on with its counter; 0 is `no healthy upstream`; 1 again is a
/// new pod.
#[tokio::test]
async fn scaling_v2_runs_one_pod_per_replica_each_answering_its_share() {
    const N: usize = 200;
    let lab = lab().await;
    all_to_v2(&lab, "destination-rule-recommendation-v1-v2.yml").await;
    let first = v2_pods(&lab).await;
    let scaled = lab.scale("deploy", V2, 2).await.unwrap();
    let two = v2_pods(&lab).await;
    let client = http();
    let spread = requests(&client, &lab.gateway_url, N, None).await;
    lab.scale("deployment", V2, 1).await.unwrap();
    let one = v2_pods(&lab).await;
    let after = requests(&client, &lab.gateway_url, 3, None).await;
    lab.scale("deployment", V2, 0).await.unwrap();
    let none = v2_pods(&lab).await;
    let empty = requests(&client, &lab.gateway_url, 2, None).await;
    lab.scale("deployment", V2, 1).await.unwrap();
    let again = v2_pods(&lab).await;
    let back = requests(&client, &lab.gateway_url, 1, None).await;
    lab.stop().await;

    assert_eq!(scaled, "deployment.apps/recommendation-v2 scaled");
    assert_eq!(first.len(), 1);
    assert_eq!(two.len(), 2, "{two:?}");
    assert_eq!(two[0], first[0], "the running pod stays");
    assert_ne!(two[0], two[1]);
    assert_eq!(replica_set(&two[0]), replica_set(&two[1]), "one ReplicaSet");
    assert_eq!(two[1].len(), two[0].len(), "a 5-character suffix each");
    let seen = per_pod(&spread, &[&two[0], &two[1]], &[]);
    let (lo, hi) = binomial_bounds(N as u64, 0.5, 1e-6);
    for pod in &two {
        let n = seen.get(pod).copied().unwrap_or(0);
        assert!(
            (lo..=hi).contains(&n),
            "{pod} answered {n} of {N}: {seen:?}"
        );
    }
    assert_eq!(
        one,
        vec![first[0].clone()],
        "scaling down removes the newest"
    );
    let n = seen[&first[0]];
    let bodies: Vec<_> = after.iter().map(|a| (a.status, a.body.clone())).collect();
    let want: Vec<_> = (1..=3)
        .map(|i| (200, line("v2", &first[0], n + i)))
        .collect();
    assert_eq!(bodies, want);
    assert!(none.is_empty(), "{none:?}");
    for a in &empty {
        assert_eq!((a.status, a.body.as_str()), (503, NO_HEALTHY_UPSTREAM));
    }
    assert_eq!(again.len(), 1);
    assert_ne!(again[0], first[0], "a new pod");
    assert_eq!(replica_set(&again[0]), replica_set(&first[0]));
    assert_eq!(back[0].body, line("v2", &again[0], 1));
}

/// `spec.replicas` in a Deployment file runs that many pods; a file without it is 1 (the API server's
/// default); more than the lab's 10 is refused, by the file and by `scale`, and nothing changes.
#[tokio::test]
async fn replicas_in_a_deployment_file_run_that_many_pods_up_to_ten() {
    let lab = lab().await;
    let file = repo().join("recommendation/kubernetes/Deployment-v2.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("  replicas: 1\n"), "{text}");
    let with = |n: &str| text.replace("  replicas: 1\n", &format!("  replicas: {n}\n"));
    let three = lab.apply_text(&file, &with("3")).await.unwrap();
    let pods = v2_pods(&lab).await;
    let too_many = lab.apply_text(&file, &with("11")).await.unwrap_err();
    let scale_too_many = lab.scale("deployment", V2, 11).await.unwrap_err();
    let still = v2_pods(&lab).await;
    let without = text.replace("  replicas: 1\n", "");
    lab.apply_text(&file, &without).await.unwrap();
    let one = v2_pods(&lab).await;
    let not_found = lab.scale("deployment", "nope", 2).await.unwrap_err();
    let service = lab.scale("service", V2, 2).await.unwrap_err();
    lab.stop().await;

    assert_eq!(three, vec!["deployment.apps/recommendation-v2 configured"]);
    assert_eq!(pods.len(), 3, "{pods:?}");
    assert_eq!(
        too_many.to_string(),
        format!(
            "{}#0: Deployment recommendation-v2: spec.replicas 11: the local mesh runs at most 10 pods \
             per Deployment (each is an app and an Envoy of its own); scale to 10 or fewer",
            file.display()
        )
    );
    assert_eq!(
        scale_too_many.to_string(),
        "error: --replicas=11: the local mesh runs at most 10 pods per Deployment (each is an app and an \
         Envoy of its own); scale to 10 or fewer"
    );
    assert_eq!(still, pods, "a refusal changes nothing");
    assert_eq!(one, vec![pods[0].clone()], "the oldest stays");
    assert_eq!(
        not_found.to_string(),
        "Error from server (NotFound): deployments.apps \"nope\" not found"
    );
    assert_eq!(
        service.to_string(),
        "error: the local mesh scales deployments only (deployment/NAME), not \"service\""
    );
}

/// The circuit breaker's chapter with two v2 pods, one misbehaving (`curl localhost:8080/misbehave` in
/// it): its first 503 ejects it (`consecutive5xxErrors: 1`), and from then on only the good pod answers.
///
/// The second pod came by EDS just before, so, as on a cluster, Envoy delivers the ejection to its load
/// balancer when the cluster's update merge window ends (`common_lb_config.update_merge_window`: 1 s when
/// unset, and istiod leaves it unset): the bad pod may still answer within that second, never after. The
/// bad pod is picked at least once in the first 40 requests except with probability 2^-40.
#[tokio::test]
async fn the_circuit_breaker_ejects_the_one_misbehaving_pod_of_two() {
    const FIRST: usize = 40;
    const MERGE_WINDOW: Duration = Duration::from_secs(1);
    // Envoy's timer and this machine's scheduling.
    const SLACK: Duration = Duration::from_millis(500);
    const MAX: usize = 5000;
    let lab = lab().await;
    all_to_v2(&lab, "destination-rule-recommendation-circuit-breaker.yml").await;
    lab.scale("deployment", V2, 2).await.unwrap();
    let pods = lab.pods_of(V2).await;
    let (good, (bad, bad_addr)) = (pods[0].0.clone(), pods[1].clone());
    let misbehavior = format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{bad}'\n"
    );
    crate::misbehave_at(&bad_addr).await;
    let client = http();
    let (mut answers, mut failures) = (Vec::new(), Vec::new());
    // Until the window after the first failure is over (bounded by MAX requests).
    while answers.len() < MAX {
        let a = requests(&client, &lab.gateway_url, 1, None).await.remove(0);
        if a.body == misbehavior {
            failures.push(Instant::now());
        }
        answers.push(a);
        let over = failures
            .first()
            .is_some_and(|f| f.elapsed() > MERGE_WINDOW + SLACK);
        if over || (failures.is_empty() && answers.len() == FIRST) {
            break;
        }
    }
    let after = requests(&client, &lab.gateway_url, FIRST, None).await;
    lab.stop().await;

    let (first, last) = (failures.first().unwrap(), failures.last().unwrap());
    assert!(
        last.duration_since(*first) <= MERGE_WINDOW + SLACK,
        "{bad} answered {:?} after its first 503 ({} times)",
        last.duration_since(*first),
        failures.len()
    );
    answers.extend(after.iter().cloned());
    let seen = per_pod(&answers, &[&good], &[&misbehavior]);
    assert_eq!(seen[&misbehavior], failures.len() as u64, "{seen:?}");
    assert!(
        after.iter().all(|a| a.body.contains(&good)),
        "after the ejection only {good} answers"
    );
}

/// The command line as pasted from the tutorial: `mesh-lab scale --replicas=2 deployment/NAME -n tutorial`
/// and kubectl's other spellings; `logs deploy/NAME` reads the oldest pod and says so on stderr as kubectl
/// does, `logs POD` the pod named; `show --json` lists both pods; a count over the lab's maximum is refused.
#[tokio::test]
async fn scale_and_logs_on_the_command_line_answer_as_kubectl() {
    let served = Served::start().await;
    let scaled = served
        .run(&[
            "scale",
            "--replicas=2",
            "deployment/recommendation-v2",
            "-n",
            "tutorial",
        ])
        .await;
    let pods = v2_pods(&served.lab).await;
    let by_deployment = served.run(&["logs", "deploy/recommendation-v2"]).await;
    let first = served.run(&["logs", &format!("pod/{}", pods[0])]).await;
    let second = served.run(&["logs", &pods[1]]).await;
    let show = served.run(&["show", "--json"]).await;
    let too_many = served
        .run(&["scale", "deploy", "recommendation-v2", "--replicas", "11"])
        .await;
    let again = served
        .run(&["scale", "deploy/recommendation-v2", "--replicas", "2"])
        .await;
    served.stop().await;

    let ok = |out: &str| (0, format!("{out}\n"), String::new());
    assert_eq!(scaled, ok("deployment.apps/recommendation-v2 scaled"));
    assert_eq!(again, ok("deployment.apps/recommendation-v2 scaled"));
    assert_eq!(pods.len(), 2, "{pods:?}");
    assert_eq!(
        by_deployment,
        (
            0,
            first.1.clone(),
            format!("Found 2 pods, using pod/{}\n", pods[0])
        )
    );
    assert_eq!((first.0, first.2.as_str()), (0, ""));
    assert_eq!((second.0, second.2.as_str()), (0, ""));
    assert!(!first.1.is_empty() && !second.1.is_empty());
    assert!(!second.1.contains(&pods[0]), "{}", second.1);
    let json: serde_json::Value = serde_json::from_str(&show.1).unwrap();
    let listed: Vec<&str> = json["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["name"] == V2)
        .map(|w| w["pod"].as_str().unwrap())
        .collect();
    assert_eq!(listed, pods.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        too_many,
        (
            1,
            String::new(),
            "error: --replicas=11: the local mesh runs at most 10 pods per Deployment (each is an app and \
             an Envoy of its own); scale to 10 or fewer\n"
                .into()
        )
    );
}
