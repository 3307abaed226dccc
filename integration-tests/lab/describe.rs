//! `mesh-lab describe pod` (the built binary against a lab's control endpoint), as
//! `istioctl x describe pod` prints it (istioctl/pkg/describe/describe.go): the DestinationRule and
//! VirtualService the pod's own Envoy names, the pod's subset and weight in the 90/10 split, the warning for
//! a route to a subset the DestinationRule does not define, the gateway's section, and the unknown pod's
//! error. The text itself is unit-tested in mesh-lab/src/observe/describe/tests.rs.

use crate::istio;
use crate::served::Served;

async fn apply(served: &Served, file: &str) {
    let path = istio(file);
    let (code, _, err) = served.run(&["apply", "-f", path.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{file}: {err}");
}

/// `mesh-lab describe pod POD`, which must succeed: its standard output.
async fn describe(served: &Served, pod: &str) -> String {
    let (code, out, err) = served.run(&["describe", "pod", pod]).await;
    assert_eq!((code, err.as_str()), (0, ""), "describe pod {pod}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pod_reads_the_split_and_its_subsets_from_the_sidecar() {
    let served = Served::start().await;
    apply(&served, "destination-rule-recommendation-v1-v2.yml").await;
    apply(&served, "virtual-service-recommendation-v1-v2-90-10.yml").await;
    let v1 = served.lab.pod_name("recommendation-v1").await.unwrap();

    let text = describe(&served, &v1).await;

    let want = format!(
        "Pod: {v1}\n   Pod Revision: default\n   Pod Ports: 8080 (recommendation), 15090 (istio-proxy)\n\
         --------------------\n\
         Service: recommendation\n   Port: http 8080/HTTP targets pod port 8080\n\
         DestinationRule: recommendation for \"recommendation\"\n\
         \x20  Matching subsets: version-v1\n      (Non-matching subsets version-v2)\n\
         \x20  No Traffic Policy\n\
         VirtualService: recommendation\n\
         \x20  Route to host \"recommendation\" subset \"version-v1\" with weight 90%\n\
         --------------------\n\
         Effective PeerAuthentication:\n   Workload mTLS mode: PERMISSIVE\n"
    );
    assert_eq!(text, want);
    // deploy/NAME and `po` name the same pod.
    assert_eq!(describe_po(&served, "deploy/recommendation-v1").await, want);

    // The split's other side: v2 is the subset, at 10 %.
    let v2 = describe(&served, "deploy/recommendation-v2").await;
    assert!(
        v2.contains("   Matching subsets: version-v2\n      (Non-matching subsets version-v1)\n")
            && v2.contains(
                "   Route to host \"recommendation\" subset \"version-v2\" with weight 10%\n"
            ),
        "{v2}"
    );

    // All to v3, a subset the DestinationRule does not define: istioctl's warning for the v1 pod.
    apply(&served, "virtual-service-recommendation-v3.yml").await;
    let v3 = describe(&served, &v1).await;
    assert!(
        v3.contains(
            "VirtualService: recommendation\n\
             \x20  WARNING: No destinations match pod subsets (checked 1 HTTP routes)\n\
             \x20     Warning: Route to UNKNOWN subset version-v3; check DestinationRule recommendation\n"
        ),
        "{v3}"
    );
    served.stop().await;
}

async fn describe_po(served: &Served, pod: &str) -> String {
    let (code, out, err) = served.run(&["describe", "po", pod]).await;
    assert_eq!((code, err.as_str()), (0, ""), "describe po {pod}: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pod_shows_the_gateway_route_and_refuses_an_unknown_pod() {
    let served = Served::start().await;
    let gateway = served.lab.gateway_url.trim_end_matches('/').to_owned();

    let customer = describe(&served, "deploy/customer").await;

    assert!(
        customer.ends_with(&format!(
            "--------------------\n\
             Exposed on Ingress Gateway {gateway}\n\
             VirtualService: customer-gateway\n   Match: /customer*\n"
        )),
        "{customer}"
    );

    let (code, out, err) = served.run(&["describe", "pod", "recommendation-v9"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    let mut lines = err.lines();
    assert_eq!(
        lines.next(),
        Some("Error from server (NotFound): pods \"recommendation-v9\" not found")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("the lab's pods: customer-"),
        "{err}"
    );
    served.stop().await;
}
