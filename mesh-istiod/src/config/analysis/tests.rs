//! Each analyzer on YAML as learners write it (v1alpha3, v1beta1 and v1), every message compared whole.

use std::path::Path;

use mesh_manifests::Resource;

use super::{analyze, fails};

const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata:
  name: recommendation
spec:
  selector:
    app: recommendation
  ports:
  - name: http
    port: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: customer
spec:
  selector:
    app: customer
  ports:
  - name: http
    port: 8080
";

const GATEWAY: &str = "
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: customer-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - \"*\"
";

const DR_V1_V2: &str = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: recommendation
spec:
  host: recommendation
  subsets:
  - labels:
      version: v1
    name: version-v1
  - labels:
      version: v2
    name: version-v2
";

/// The objects of every YAML text, in order.
fn objects(texts: &[&str]) -> Vec<Resource> {
    texts
        .iter()
        .flat_map(|t| mesh_manifests::parse_str(Path::new("test.yml"), t).expect("parses"))
        .map(|d| d.resource)
        .collect()
}

fn lines(texts: &[&str]) -> Vec<String> {
    analyze(&objects(texts))
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn vs_to(api: &str, host: &str, subset: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/{api}
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - route:
    - destination:
        host: {host}
        subset: {subset}
      weight: 100
"
    )
}

#[test]
fn the_tutorial_routes_find_nothing() {
    let vs = vs_to("v1alpha3", "recommendation", "version-v2");
    assert_eq!(
        lines(&[SERVICES, GATEWAY, DR_V1_V2, &vs]),
        Vec::<String>::new()
    );
}

#[test]
fn a_subset_no_destination_rule_defines_is_ist0101_at_every_api_version() {
    for api in ["v1alpha3", "v1beta1", "v1"] {
        let vs = vs_to(api, "recommendation", "version-v3");
        let found = analyze(&objects(&[SERVICES, DR_V1_V2, &vs]));
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "Error [IST0101] (VirtualService tutorial/recommendation) Referenced host+subset in destinationrule not found: \"recommendation+version-v3\""
            ],
            "{api}"
        );
        assert!(fails(&found));
    }
}

#[test]
fn a_subset_of_the_fqdn_is_found_in_a_rule_on_the_short_name() {
    let vs = vs_to(
        "v1",
        "recommendation.tutorial.svc.cluster.local",
        "version-v1",
    );
    assert_eq!(lines(&[SERVICES, DR_V1_V2, &vs]), Vec::<String>::new());
}

#[test]
fn a_mirror_to_a_missing_subset_is_mirror_subset() {
    let mirror = "
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - route:
    - destination:
        host: recommendation
        subset: version-v1
    mirror:
      host: recommendation
      subset: version-v3
";
    assert_eq!(
        lines(&[SERVICES, DR_V1_V2, mirror]),
        [
            "Error [IST0101] (VirtualService tutorial/recommendation) Referenced mirror+subset in destinationrule not found: \"recommendation+version-v3\""
        ]
    );
}

#[test]
fn a_host_no_service_declares_is_ist0101_host() {
    let vs = vs_to("v1", "recomendation", "version-v1");
    assert_eq!(
        lines(&[SERVICES, DR_V1_V2, &vs]),
        [
            "Error [IST0101] (VirtualService tutorial/recommendation) Referenced host not found: \"recomendation\"",
            "Error [IST0101] (VirtualService tutorial/recommendation) Referenced host+subset in destinationrule not found: \"recomendation+version-v1\"",
        ]
    );
}

const EGRESS_VS: &str = "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: worldclockapi-timeout
spec:
  hosts:
  - worldclockapi.com
  http:
  - timeout: 3s
    route:
    - destination:
        host: worldclockapi.com
";

#[test]
fn an_external_host_needs_its_service_entry() {
    let entry = "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: worldclockapi-egress-rule
spec:
  hosts:
  - worldclockapi.com
  ports:
  - name: http-80
    number: 80
    protocol: http
";
    assert_eq!(
        lines(&[SERVICES, EGRESS_VS]),
        [
            "Error [IST0101] (VirtualService tutorial/worldclockapi-timeout) Referenced host not found: \"worldclockapi.com\""
        ]
    );
    assert_eq!(lines(&[SERVICES, entry, EGRESS_VS]), Vec::<String>::new());
}

fn gateway_vs(hosts: &str, gateway: &str) -> String {
    format!(
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: customer-gateway
spec:
  hosts: {hosts}
  gateways:
  - {gateway}
  http:
  - route:
    - destination:
        host: customer
        port:
          number: 8080
"
    )
}

#[test]
fn a_missing_gateway_is_ist0101_and_its_hosts_ist0132() {
    let vs = gateway_vs("[\"*\"]", "customer-gw");
    assert_eq!(
        lines(&[SERVICES, GATEWAY, &vs]),
        [
            "Error [IST0101] (VirtualService tutorial/customer-gateway) Referenced gateway not found: \"customer-gw\"",
            "Warning [IST0132] (VirtualService tutorial/customer-gateway) one or more host [*] defined in VirtualService tutorial/customer-gateway not found in Gateway tutorial/customer-gw.",
        ]
    );
}

#[test]
fn a_host_the_gateway_does_not_serve_is_ist0132() {
    let gateway = GATEWAY.replace("- \"*\"", "- customer.example.com");
    let vs = gateway_vs(
        "[customer.example.org, shop.example.org]",
        "customer-gateway",
    );
    let found = analyze(&objects(&[SERVICES, &gateway, &vs]));
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [
            "Warning [IST0132] (VirtualService tutorial/customer-gateway) one or more host [customer.example.org shop.example.org] defined in VirtualService tutorial/customer-gateway not found in Gateway tutorial/customer-gateway."
        ]
    );
    assert!(!fails(&found), "a warning alone does not fail");
    let served = gateway_vs("[customer.example.com]", "tutorial/customer-gateway");
    assert_eq!(lines(&[SERVICES, &gateway, &served]), Vec::<String>::new());
}

#[test]
fn a_rule_after_a_catch_all_is_ist0130_and_a_repeated_match_ist0131() {
    let vs = "
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - match:
    - headers:
        baggage-user-agent:
          regex: .*Safari.*
    route:
    - destination:
        host: recommendation
        subset: version-v2
  - name: firefox
    match:
    - headers:
        baggage-user-agent:
          regex: .*Safari.*
    route:
    - destination:
        host: recommendation
        subset: version-v2
  - route:
    - destination:
        host: recommendation
        subset: version-v1
  - match:
    - uri:
        prefix: /mobile
    route:
    - destination:
        host: recommendation
        subset: version-v1
";
    assert_eq!(
        lines(&[SERVICES, DR_V1_V2, vs]),
        [
            "Warning [IST0130] (VirtualService tutorial/recommendation) VirtualService rule \"firefox\" not used (all matches used by prior rules).",
            "Warning [IST0130] (VirtualService tutorial/recommendation) VirtualService rule #3 not used (route without matches defined before).",
            "Info [IST0131] (VirtualService tutorial/recommendation) VirtualService rule \"firefox\" match #0 is not used (duplicate/overlapping match in rule #0).",
        ]
    );
}

#[test]
fn a_file_replaces_the_object_of_the_same_name() {
    let broken = vs_to("v1", "recommendation", "version-v3");
    let fixed = vs_to("v1alpha3", "recommendation", "version-v1");
    assert_eq!(
        lines(&[SERVICES, DR_V1_V2, &broken, &fixed]),
        Vec::<String>::new()
    );
}

/// `analyze` on `texts` (the lab's) and `files` (given with `-f`), located as istioctl prints them.
fn located(texts: &[&str], files: &[(&str, &str)]) -> Vec<String> {
    let sources: Vec<super::Source> = files
        .iter()
        .map(|(file, text)| super::Source {
            file: (*file).into(),
            text: (*text).into(),
        })
        .collect();
    super::analyze_files(objects(texts), &sources)
        .expect("parses")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_files_object_is_named_with_the_line_of_the_field() {
    let v3 = "# All traffic to recommendation v3.
# oc apply -f istio/virtual-service-recommendation-v3.yml -n tutorial
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - route:
    - destination:
        host: recommendation
        subset: version-v3
      weight: 100
";
    assert_eq!(
        located(&[SERVICES, DR_V1_V2], &[("istio/v3.yml", v3)]),
        [
            "Error [IST0101] (VirtualService tutorial/recommendation istio/v3.yml:13) Referenced host+subset in destinationrule not found: \"recommendation+version-v3\""
        ]
    );
    // The lab's own objects have no file: the same message without it.
    assert_eq!(
        located(&[SERVICES, DR_V1_V2, v3], &[]),
        [
            "Error [IST0101] (VirtualService tutorial/recommendation) Referenced host+subset in destinationrule not found: \"recommendation+version-v3\""
        ]
    );
}

#[test]
fn the_second_document_and_the_second_rule_are_found_by_their_lines() {
    let file = "apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: customer-gateway
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - \"*\"
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: customer-gateway
spec:
  hosts:
  - \"*\"
  gateways:
  - mesh
  - customer-gw
  http:
  - route:
    - destination:
        host: customer
  - route:
    - destination:
        host: customers
";
    assert_eq!(
        located(&[SERVICES], &[("gw.yml", file)]),
        [
            "Error [IST0101] (VirtualService tutorial/customer-gateway gw.yml:25) Referenced gateway not found: \"customer-gw\"",
            "Error [IST0101] (VirtualService tutorial/customer-gateway gw.yml:32) Referenced host not found: \"customers\"",
            "Warning [IST0130] (VirtualService tutorial/customer-gateway gw.yml:16) VirtualService rule #1 not used (only the last rule can have no matches).",
            "Warning [IST0132] (VirtualService tutorial/customer-gateway gw.yml:25) one or more host [*] defined in VirtualService tutorial/customer-gateway not found in Gateway tutorial/customer-gw.",
        ]
    );
}

#[test]
fn a_message_on_no_field_names_the_documents_first_line() {
    let file = "---
# two catch-alls
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts: [recommendation]
  http:
  - route:
    - destination: {host: recommendation}
  - route:
    - destination: {host: recommendation}
";
    assert_eq!(
        located(&[SERVICES], &[("two.yml", file)]),
        [
            "Warning [IST0130] (VirtualService tutorial/recommendation two.yml:3) VirtualService rule #1 not used (only the last rule can have no matches)."
        ]
    );
}
