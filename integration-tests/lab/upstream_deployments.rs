//! The upstream tutorial's Deployments (github.com/redhat-scholars/istio-tutorial) run as a cluster runs
//! them: the image tag decides the version, `serviceAccount:` the identity, the app's default URL the next
//! hop; an image the lab cannot run is refused by name. The Deployments are written here in upstream's
//! shape: a published image, a JVM option, probes, the deprecated `serviceAccount`, no next-hop variable.

use std::path::Path;
use std::time::Duration;

use mesh_lab::Lab;
use mesh_lab::guided::send::{chain_prefix, requests};

use crate::{http, istio, lab};

const QUAY: &str = "quay.io/rhdevelopers/istio-tutorial-";

/// A Deployment in upstream's shape: `<app>` at `version`, running `<QUAY><app>:<tag>`.
fn upstream(name: &str, app: &str, version: &str, tag: &str) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app: {app}
    version: {version}
  name: {name}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {app}
      version: {version}
  template:
    metadata:
      labels:
        app: {app}
        version: {version}
      annotations:
        sidecar.istio.io/inject: "true"
    spec:
      containers:
      - name: {app}
        image: {QUAY}{app}:{tag}
        imagePullPolicy: IfNotPresent
        env:
        - name: JAVA_OPTIONS
          value: -Xms16m -Xmx16m
        ports:
        - containerPort: 8080
          name: http
          protocol: TCP
        readinessProbe:
          exec:
            command: ["curl", "localhost:8080/health/ready"]
          periodSeconds: 5
        securityContext:
          privileged: false
      serviceAccount: "{app}"
"#
    )
}

/// Applies `text` as the file `name`.
async fn apply(lab: &Lab, name: &str, text: &str) {
    lab.apply_text(Path::new(name), text)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}"));
}

/// Every request to recommendation v2 (the tutorial's subsets and its all-to-v2 VirtualService).
async fn only_v2(lab: &Lab) {
    for f in [
        "destination-rule-recommendation-v1-v2.yml",
        "virtual-service-recommendation-v2.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
    }
}

#[tokio::test]
async fn upstream_deployments_run_the_chain_by_image_tag_with_their_service_accounts_and_default_hops()
 {
    let lab = lab().await;
    let chain = [
        upstream("customer", "customer", "v1", "v1.1"),
        upstream("preference-v1", "preference", "v1", "v1.1"),
        upstream("recommendation-v2", "recommendation", "v2", "v2.2"),
    ]
    .concat();
    apply(&lab, "upstream-chain.yml", &chain).await;
    only_v2(&lab).await;
    // Only preference's service account may call recommendation: the chain answers only when
    // `serviceAccount: "preference"` is preference's identity.
    lab.apply_file(&istio("authorization-policy-recommendation.yml"))
        .await
        .unwrap();
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let show = lab.show().await.unwrap();
    let answers = requests(&http(), &lab.gateway_url, 2, None).await;
    lab.stop().await;
    assert_eq!(answers[0].body, format!("{}1\n", chain_prefix("v2", &v2)));
    assert_eq!(answers[1].body, format!("{}2\n", chain_prefix("v2", &v2)));
    let identities: Vec<(&str, Option<&str>)> = show
        .workloads
        .iter()
        .map(|w| (w.name.as_str(), w.identity.as_deref()))
        .collect();
    for (name, sa) in [
        ("customer", "customer"),
        ("preference-v1", "preference"),
        ("recommendation-v2", "recommendation"),
    ] {
        let want = format!("spiffe://cluster.local/ns/tutorial/sa/{sa}");
        assert!(
            identities.contains(&(name, Some(want.as_str()))),
            "{name}: {identities:?}"
        );
    }
}

#[tokio::test]
async fn upstreams_v2_timeout_image_answers_after_three_seconds() {
    let lab = lab().await;
    apply(
        &lab,
        "upstream-v2-timeout.yml",
        &upstream("recommendation-v2", "recommendation", "v2", "v2.2-timeout"),
    )
    .await;
    only_v2(&lab).await;
    let v2 = lab.pod_name("recommendation-v2").await.unwrap();
    let answers = requests(&http(), &lab.gateway_url, 1, None).await;
    lab.stop().await;
    assert_eq!(answers[0].body, format!("{}1\n", chain_prefix("v2", &v2)));
    assert!(
        answers[0].elapsed >= Duration::from_secs(3),
        "{:?}",
        answers[0].elapsed
    );
}

/// Upstream's v3 asks worldtimeapi.org: under REGISTRY_ONLY the tutorial's worldclockapi.com ServiceEntry
/// does not let it out, upstream's own (for worldtimeapi.org) does.
#[tokio::test]
async fn upstreams_v3_image_calls_worldtimeapi_org_which_its_own_service_entry_lets_out() {
    let lab = lab().await;
    apply(
        &lab,
        "upstream-v3.yml",
        &upstream("recommendation-v3", "recommendation", "v3", "3.3"),
    )
    .await;
    for f in [
        "destination-rule-recommendation-v1-v2-v3.yml",
        "virtual-service-recommendation-v3.yml",
        "service-entry-egress-worldclockapi.yml",
    ] {
        lab.apply_file(&istio(f)).await.unwrap();
    }
    lab.set_mode(mesh_istiod::model::sidecar::Mode::RegistryOnly)
        .await
        .unwrap();
    let client = http();
    let blocked = requests(&client, &lab.gateway_url, 1, None).await;
    apply(
        &lab,
        "upstream-service-entry.yml",
        "apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata:
  name: worldtimeapi
spec:
  hosts:
  - worldtimeapi.org
  ports:
  - name: http-80
    number: 80
    protocol: http
  resolution: DNS
",
    )
    .await;
    let v3 = lab.pod_name("recommendation-v3").await.unwrap();
    let allowed = requests(&client, &lab.gateway_url, 1, None).await;
    lab.stop().await;
    assert!(
        blocked[0].body.starts_with(
            "customer => Error: 503 - preference => Error: 500 - time lookup \
             http://worldtimeapi.org/api/timezone/Europe/Madrid failed: the mesh proxy answered 502"
        ),
        "{}",
        blocked[0].body
    );
    assert_eq!(
        allowed[0].body,
        format!(
            "customer => preference => recommendation v3 {} from '{v3}': 2\n",
            crate::egress::NOW
        )
    );
}

#[tokio::test]
async fn an_image_the_lab_cannot_run_is_refused_naming_file_deployment_image_and_what_runs() {
    let lab = lab().await;
    let before = lab.show().await.unwrap();
    let err = lab
        .apply_text(
            Path::new("upstream-v4.yml"),
            &upstream("recommendation-v4", "recommendation", "v4", "v4"),
        )
        .await
        .unwrap_err();
    let after = lab.show().await.unwrap();
    lab.stop().await;
    let err = format!("{err:#}");
    assert!(
        err.starts_with(&format!(
            "upstream-v4.yml: Deployment recommendation-v4: spec.template.spec.containers.0.image: \
             image \"{QUAY}recommendation:v4\" is not one the local mesh can run; it runs this \
             repository's images (customer, preference or recommendation at any registry and tag, \
             e.g. recommendation:0.1.0) and the upstream tutorial's: {QUAY}customer:v1|v1.1 (customer), "
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{QUAY}recommendation:v2-timeout|v2.1-timeout|v2.2-timeout (recommendation v2, answering after 3 s)"
        )),
        "{err}"
    );
    let names = |s: &mesh_lab::observe::show::Show| -> Vec<String> {
        s.workloads.iter().map(|w| w.name.clone()).collect()
    };
    assert_eq!(names(&after), names(&before), "nothing of the file applies");
    assert!(
        !after.objects.iter().any(|o| o.name == "recommendation-v4"),
        "{:?}",
        after.objects
    );
}
