//! The routing chapter through the gateway with the shipped istio/ files: exact bodies (pod and counter), weighted
//! splits within exact binomial bounds, the user-agent rules, the mirror and the gateway's `/customer` rewrite.

use std::collections::BTreeMap;
use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::dataplane::envoy::AccessLogEntry;
use mesh_lab::guided::send::{Answer, chain_prefix, requests};

use crate::{http, istio, lab};

/// preference's sidecar: its outbound listener logs every call to recommendation.
pub(crate) const PREFERENCE_OUT: (&str, &str) = ("preference-v1", "outbound_0.0.0.0_8080");

/// The chain's answer from `pod` (version `v`) on its `n`th `GET /`.
pub(crate) fn line(v: &str, pod: &str, n: u64) -> String {
    format!("{}{n}\n", chain_prefix(v, pod))
}

/// Checks every answer is a 200 chain line from one of `pods` (version, pod), each pod's counter going up by one
/// per answer from 1 (so no other request reached it): the answers per version. Answers that are `other` (a
/// body) are counted under that body instead. Panics naming the first answer that is neither.
pub(crate) fn tally(
    answers: &[Answer],
    pods: &[(&str, &str)],
    other: &[(u16, &str)],
) -> BTreeMap<String, u64> {
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (i, a) in answers.iter().enumerate() {
        if let Some((_, body)) = other.iter().find(|(s, b)| a.status == *s && a.body == *b) {
            *seen.entry((*body).to_owned()).or_default() += 1;
            continue;
        }
        let v = a.version().unwrap_or("none");
        let Some((v, pod)) = pods.iter().find(|(pv, _)| *pv == v) else {
            panic!("answer {i}: unexpected {} {:?}", a.status, a.body);
        };
        let n = seen.entry((*v).to_owned()).or_default();
        *n += 1;
        assert_eq!(
            (a.status, a.body.as_str()),
            (200, line(v, pod, *n).as_str()),
            "answer {i}"
        );
    }
    seen
}

/// The narrowest `[lo, hi]` that holds the count of successes in `n` draws with probability `p` except with
/// probability at most `eps` (half of it on each side), from the exact binomial distribution.
pub(crate) fn binomial_bounds(n: u64, p: f64, eps: f64) -> (u64, u64) {
    let mut pmf = vec![(1.0 - p).powi(n as i32)];
    for k in 0..n {
        let next = pmf[k as usize] * (n - k) as f64 / (k + 1) as f64 * p / (1.0 - p);
        pmf.push(next);
    }
    let (mut lo, mut below) = (0, 0.0);
    while below + pmf[lo as usize] <= eps / 2.0 {
        below += pmf[lo as usize];
        lo += 1;
    }
    let (mut hi, mut above) = (n, 0.0);
    while above + pmf[hi as usize] <= eps / 2.0 {
        above += pmf[hi as usize];
        hi -= 1;
    }
    (lo, hi)
}

/// Waits (bounded) for `n` entries of preference's outbound log and returns them all.
pub(crate) async fn preference_calls(lab: &Lab, n: usize) -> Vec<AccessLogEntry> {
    let (proxy, listener) = PREFERENCE_OUT;
    lab.wait_proxy_log(proxy, listener, n, |_| true).await
}

async fn pods(lab: &Lab) -> (String, String) {
    (
        lab.pod_name("recommendation-v1").await.unwrap(),
        lab.pod_name("recommendation-v2").await.unwrap(),
    )
}

#[test]
fn the_binomial_bounds_are_the_exact_tails() {
    // Checked against Python's math.comb: P(X < lo) + P(X > hi) <= 1e-6 and no narrower interval is.
    assert_eq!(binomial_bounds(200, 0.1, 1e-6), (3, 43));
    assert_eq!(binomial_bounds(200, 0.25, 1e-6), (22, 82));
    assert_eq!(binomial_bounds(200, 0.5, 1e-6), (66, 134));
}

#[tokio::test]
async fn all_to_v2_then_all_to_v1_answers_from_that_pod_only_with_its_counter() {
    let lab = lab().await;
    let (v1, v2) = pods(&lab).await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let client = http();
    lab.apply_file(&istio("virtual-service-recommendation-v2.yml"))
        .await
        .unwrap();
    let to_v2 = requests(&client, &lab.gateway_url, 5, None).await;
    lab.apply_file(&istio("virtual-service-recommendation-v1.yml"))
        .await
        .unwrap();
    let to_v1 = requests(&client, &lab.gateway_url, 5, None).await;
    lab.stop().await;
    let bodies = |a: &[Answer]| {
        a.iter()
            .map(|a| (a.status, a.body.clone()))
            .collect::<Vec<_>>()
    };
    let want = |v: &str, pod: &str| (1..=5).map(|n| (200, line(v, pod, n))).collect::<Vec<_>>();
    assert_eq!(bodies(&to_v2), want("v2", &v2));
    assert_eq!(bodies(&to_v1), want("v1", &v1));
}

#[tokio::test]
async fn all_to_v3_answers_v3_with_the_time_from_the_v3_pod_only() {
    let (lab, v3) = crate::egress::egress_lab().await;
    let a = requests(&http(), &lab.gateway_url, 3, None).await;
    lab.stop().await;
    let got: Vec<(u16, &str)> = a.iter().map(|a| (a.status, a.body.as_str())).collect();
    let want: Vec<String> = (1..=3)
        .map(|n| {
            format!(
                "customer => preference => recommendation v3 {} from '{v3}': {n}\n",
                crate::egress::NOW
            )
        })
        .collect();
    assert_eq!(
        got,
        want.iter().map(|w| (200, w.as_str())).collect::<Vec<_>>()
    );
}

/// 200 requests per split; v2's count must lie in the exact binomial interval whose two tails together have
/// probability at most 1e-6 (90/10: 3-43, 75/25: 22-82, 50/50: 66-134), so a correct lab fails about once in a
/// million runs, while a neighbouring split (or none) lands outside. preference's sidecar logs one call per
/// answer to the subset's cluster.
#[tokio::test]
async fn weighted_splits_send_v2_its_share_within_binomial_bounds_of_200_requests() {
    const N: u64 = 200;
    let lab = lab().await;
    let (v1, v2) = pods(&lab).await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let client = http();
    let mut runs = Vec::new();
    for (file, p) in [
        ("virtual-service-recommendation-v1-v2-90-10.yml", 0.10),
        ("virtual-service-recommendation-v1-v2-75-25.yml", 0.25),
        ("virtual-service-recommendation-v1-v2-50-50.yml", 0.50),
    ] {
        lab.apply_file(&istio(file)).await.unwrap();
        let a = requests(&client, &lab.gateway_url, N as usize, None).await;
        runs.push((file, p, a));
    }
    let log = preference_calls(&lab, 3 * N as usize).await;
    lab.stop().await;
    let (mut v1_total, mut v2_total) = (0, 0);
    for (file, p, answers) in &runs {
        // Each pod's counter continues from the previous split.
        let v1_from = v1_total;
        let v2_from = v2_total;
        let mut counts = (0u64, 0u64);
        for (i, a) in answers.iter().enumerate() {
            let (v, pod, n) = match a.version() {
                Some("v1") => {
                    counts.0 += 1;
                    ("v1", &v1, v1_from + counts.0)
                }
                Some("v2") => {
                    counts.1 += 1;
                    ("v2", &v2, v2_from + counts.1)
                }
                _ => panic!("{file}: answer {i}: {} {:?}", a.status, a.body),
            };
            assert_eq!(a.body, line(v, pod, n), "{file}: answer {i}");
        }
        v1_total += counts.0;
        v2_total += counts.1;
        let (lo, hi) = binomial_bounds(N, *p, 1e-6);
        assert!(
            (lo..=hi).contains(&counts.1),
            "{file}: v2 answered {} of {N}, expected {lo}-{hi}",
            counts.1
        );
    }
    let to = |subset: &str| {
        log.iter()
            .filter(|e| {
                e.upstream_cluster.as_deref()
                    == Some(&*format!(
                        "outbound|8080|{subset}|recommendation.tutorial.svc.cluster.local"
                    ))
                    && e.response_code == Some(200)
            })
            .count() as u64
    };
    assert_eq!(log.len() as u64, 3 * N);
    assert_eq!((to("version-v1"), to("version-v2")), (v1_total, v2_total));
}

/// customer copies `user-agent` into `baggage-user-agent` (overwriting one the caller sent) and preference
/// forwards it; preference's sidecar routes on it: a user-agent the file's regex matches goes to v2, anything
/// else to v1, with each pod's counter going up by one.
#[tokio::test]
async fn user_agent_rules_route_by_the_baggage_header_customer_derives() {
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const CURL: &str = "curl/8.5.0";
    let lab = lab().await;
    let (v1, v2) = pods(&lab).await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let client = http();
    // (file, user-agent, a baggage-user-agent the caller sends itself, the version that answers)
    let table = [
        ("safari", "Safari", None, "v2"),
        ("safari", IPHONE, None, "v2"),
        ("safari", FIREFOX, None, "v1"),
        ("safari", CURL, Some("Safari"), "v1"),
        ("firefox", "Firefox", None, "v2"),
        ("firefox", FIREFOX, None, "v2"),
        ("firefox", IPHONE, None, "v1"),
        ("firefox", CURL, Some("Firefox"), "v1"),
        ("mobile", "Mobile", None, "v2"),
        ("mobile", IPHONE, None, "v2"),
        ("mobile", FIREFOX, None, "v1"),
        ("mobile", CURL, Some("Mobile"), "v1"),
    ];
    let mut got = Vec::new();
    let mut applied = "";
    for (file, agent, baggage, _) in table {
        if file != applied {
            lab.apply_file(&istio(&format!(
                "virtual-service-recommendation-{file}.yml"
            )))
            .await
            .unwrap();
            applied = file;
        }
        let mut req = client.get(&lab.gateway_url).header("user-agent", agent);
        if let Some(b) = baggage {
            req = req.header("baggage-user-agent", b);
        }
        let a = mesh_lab::guided::send::send(req).await;
        got.push((file, agent, a.status, a.body));
    }
    lab.stop().await;
    let (mut n1, mut n2) = (0, 0);
    let want: Vec<(&str, &str, u16, String)> = table
        .iter()
        .map(|(file, agent, _, v)| {
            let body = if *v == "v2" {
                n2 += 1;
                line("v2", &v2, n2)
            } else {
                n1 += 1;
                line("v1", &v1, n1)
            };
            (*file, *agent, 200, body)
        })
        .collect();
    assert_eq!(got, want);
}

/// v1 answers every request; v2's app receives a copy of each (its log line, its counter), with the Host
/// preference's sidecar sent (`recommendation:8080`, no `-shadow`) and the same `x-request-id` as v1's.
#[tokio::test]
async fn mirroring_answers_from_v1_while_v2_receives_a_copy_of_every_request() {
    const N: u64 = 8;
    let lab = lab().await;
    let (v1, v2) = pods(&lab).await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    lab.apply_file(&istio("virtual-service-recommendation-mirror-v2.yml"))
        .await
        .unwrap();
    let a = requests(&http(), &lab.gateway_url, N as usize, None).await;
    let at_v1 = lab
        .wait_proxy_log("recommendation-v1", "virtualInbound", N as usize, |_| true)
        .await;
    let at_v2 = lab
        .wait_proxy_log("recommendation-v2", "virtualInbound", N as usize, |_| true)
        .await;
    // The app logs after answering; bounded wait for the copies' lines.
    let mut v2_lines = Vec::new();
    for _ in 0..150 {
        v2_lines = lab
            .logs("recommendation-v2")
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.contains("recommendation request from"))
            .collect();
        if v2_lines.len() >= N as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    lab.stop().await;
    let got: Vec<(u16, &str)> = a.iter().map(|a| (a.status, a.body.as_str())).collect();
    let want: Vec<String> = (1..=N).map(|n| line("v1", &v1, n)).collect();
    assert_eq!(
        got,
        want.iter().map(|w| (200, w.as_str())).collect::<Vec<_>>()
    );
    let ends: Vec<String> = (1..=N)
        .map(|n| format!("recommendation request from {v2}: {n}"))
        .collect();
    assert_eq!(v2_lines.len(), N as usize, "{v2_lines:?}");
    for (l, end) in v2_lines.iter().zip(&ends) {
        assert!(l.ends_with(end.as_str()), "{l:?} should end with {end:?}");
    }
    let ids = |log: &[AccessLogEntry]| {
        let mut v: Vec<String> = log.iter().filter_map(|e| e.request_id.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(at_v2.len(), N as usize);
    assert_eq!(ids(&at_v2), ids(&at_v1));
    assert!(
        at_v2
            .iter()
            .all(|e| e.authority.as_deref() == Some("recommendation:8080")
                && e.response_code == Some(200)),
        "{at_v2:?}"
    );
}

/// The gateway's VirtualService (kubernetes/app/customer-gateway.yml): `/customer` is rewritten to `/` (customer
/// serves only `/`), every other path goes to customer unchanged.
#[tokio::test]
async fn the_gateway_rewrites_the_customer_prefix_and_passes_other_paths_unchanged() {
    let lab = lab().await;
    let v1 = crate::only_v1(&lab).await;
    let client = http();
    let mut got = Vec::new();
    for path in ["customer", "customer?x=1", "", "other", "customerx"] {
        let url = format!("{}{path}", lab.gateway_url);
        let a = requests(&client, &url, 1, None).await;
        got.push((path, a[0].status, a[0].body.clone()));
    }
    lab.stop().await;
    assert_eq!(
        got,
        [
            ("customer", 200, line("v1", &v1, 1)),
            ("customer?x=1", 200, line("v1", &v1, 2)),
            ("", 200, line("v1", &v1, 3)),
            ("other", 404, String::new()),
            ("customerx", 404, String::new()),
        ]
    );
}

/// A lab with recommendation's v1/v2 subsets and a VirtualService on recommendation whose `http:` list is
/// `rules` (YAML indented by two spaces); the v1 and v2 pod names.
async fn recommendation_rules(rules: &str) -> (Lab, String, String) {
    let lab = lab().await;
    let (v1, v2) = pods(&lab).await;
    lab.apply_file(&istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: recommendation}}\n\
         spec:\n  hosts: [recommendation]\n  http:\n{rules}"
    );
    lab.apply_text(Path::new("istio/virtual-service-recommendation.yml"), &vs)
        .await
        .unwrap();
    (lab, v1, v2)
}

/// `withoutHeaders` (inverted header matchers, a missing header counting as empty): on preference's sidecar every
/// request whose `baggage-user-agent` (customer's copy of `user-agent`) is not exactly `jason` goes to v2, and
/// `jason` falls through to v1, each pod's counter going up by one.
#[tokio::test]
async fn without_headers_routes_everyone_but_the_exact_value_to_v2() {
    let (lab, v1, v2) = recommendation_rules(
        "  - match: [{withoutHeaders: {baggage-user-agent: {exact: jason}}}]
    route: [{destination: {host: recommendation, subset: version-v2}}]
  - route: [{destination: {host: recommendation, subset: version-v1}}]
",
    )
    .await;
    let client = http();
    let mut got = Vec::new();
    for agent in ["jason", "curl/8.5.0", "jason2", "Jason", "jason"] {
        let req = client.get(&lab.gateway_url).header("user-agent", agent);
        let a = mesh_lab::guided::send::send(req).await;
        got.push((agent, a.status, a.body));
    }
    lab.stop().await;
    assert_eq!(
        got,
        [
            ("jason", 200, line("v1", &v1, 1)),
            ("curl/8.5.0", 200, line("v2", &v2, 1)),
            ("jason2", 200, line("v2", &v2, 2)),
            ("Jason", 200, line("v2", &v2, 3)),
            ("jason", 200, line("v1", &v1, 2)),
        ]
    );
}

/// `retries.retryRemoteLocalities: true` (the `previous_priorities` retry priority): Envoy takes the route, all
/// to v2, and the chain answers 200 from v2's pod only (without the rule it would also answer from v1).
#[tokio::test]
async fn retry_remote_localities_is_taken_and_the_chain_answers_through_it() {
    let (lab, _, v2) = recommendation_rules(
        "  - retries: {attempts: 3, retryOn: 5xx, retryRemoteLocalities: true}
    route: [{destination: {host: recommendation, subset: version-v2}}]
",
    )
    .await;
    let a = requests(&http(), &lab.gateway_url, 4, None).await;
    lab.stop().await;
    let got: Vec<(u16, &str)> = a.iter().map(|a| (a.status, a.body.as_str())).collect();
    let want: Vec<String> = (1..=4).map(|n| line("v2", &v2, n)).collect();
    assert_eq!(
        got,
        want.iter().map(|w| (200, w.as_str())).collect::<Vec<_>>()
    );
}
