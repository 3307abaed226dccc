//! Each egress object → the Envoy fragments istiod would generate for a sidecar's outbound port 80.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::fixtures::{internet, parse, v3};
use crate::model::sidecar::Mode;
use crate::networking::core::route::duration::parse_duration;
use crate::networking::core::route::retry;
use crate::util::protomarshal::to_json;

/// The socket address of a cluster's first endpoint, as JSON.
fn first_endpoint(c: &Cluster) -> serde_json::Value {
    crate::util::protomarshal::to_json(c)["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
        ["endpoint"]["address"]["socket_address"]
        .clone()
}

/// The translation with current istiod's defaults.
fn to_envoy(
    resources: &[Resource],
    mesh_mode: Mode,
    internet: &Internet,
    labels: &Labels,
) -> Result<EnvoyConfig, TranslateError> {
    super::to_envoy(
        resources,
        mesh_mode,
        internet,
        labels,
        IstioRelease::CURRENT,
    )
}

fn default_retry_policy() -> serde_json::Value {
    to_json(&retry::default_retry_policy(IstioRelease::CURRENT))
}

/// The virtual host `name` of the route configuration, as JSON.
fn vh(c: &EnvoyConfig, name: &str) -> serde_json::Value {
    to_json(c.virtual_host(name).unwrap())
}

// The shipped files themselves, so a change to one of them is seen here.
const SE_81: &str =
    include_str!("../../../../../istio/service-entry-egress-worldclockapi-wrong-port.yml");
const SE_80: &str = include_str!("../../../../../istio/service-entry-egress-worldclockapi.yml");
const VS_TIMEOUT: &str =
    include_str!("../../../../../istio/virtual-service-worldclockapi-timeout.yml");
const SIDECAR_REGISTRY_ONLY: &str = include_str!("../../../../../istio/sidecar-registry-only.yml");

/// A deliberate variation of a shipped file: `from` replaced by `to` (which must change the text, so a
/// reworded file cannot silently turn the variation into the original).
fn vary(shipped: &str, from: &str, to: &str) -> String {
    assert!(
        shipped.matches(from).count() == 1,
        "{from:?} is not in the shipped file exactly once:\n{shipped}"
    );
    shipped.replace(from, to)
}

fn vhost_names(c: &EnvoyConfig) -> Vec<String> {
    c.route_config
        .virtual_hosts
        .iter()
        .map(|v| v.name.clone())
        .collect()
}

#[test]
fn nothing_applied_allow_any_is_passthrough() {
    let c = to_envoy(&[], Mode::AllowAny, &internet(), &v3()).unwrap();
    let rc = to_json(&c.route_config);
    assert_eq!(rc["name"], "80");
    assert_eq!(rc["validate_clusters"], false);
    assert_eq!(rc["ignore_port_in_host_matching"], true);
    assert_eq!(vhost_names(&c), ["allow_any"]);
    let vh = vh(&c, "allow_any");
    assert_eq!(vh["domains"], json!(["*"]));
    assert_eq!(vh["routes"][0]["name"], "allow_any");
    assert_eq!(vh["routes"][0]["route"]["cluster"], "PassthroughCluster");
    assert_eq!(vh["routes"][0]["route"]["timeout"], "0s");
    assert_eq!(c.cluster_names(), ["PassthroughCluster"]);
    let ep = first_endpoint(&c.clusters[0]);
    assert_eq!(ep, json!({"address": "127.0.0.1", "port_value": 18090}));
}

#[test]
fn registry_only_is_block_all_502() {
    let c = to_envoy(&[], Mode::RegistryOnly, &internet(), &v3()).unwrap();
    assert_eq!(vhost_names(&c), ["block_all"]);
    let vh = vh(&c, "block_all");
    let route = &vh["routes"][0];
    assert_eq!(route["name"], "block_all");
    assert_eq!(route["direct_response"], json!({"status": 502}));
}

#[test]
fn service_entry_port_80_adds_vhost_and_cluster_with_default_route() {
    let c = to_envoy(&parse(SE_80), Mode::AllowAny, &internet(), &v3()).unwrap();
    assert_eq!(vhost_names(&c), ["worldclockapi.com:80", "allow_any"]);
    let vh = vh(&c, "worldclockapi.com:80");
    assert_eq!(vh["domains"], json!(["worldclockapi.com"]));
    let route = &vh["routes"][0]["route"];
    assert_eq!(route["cluster"], "outbound|80||worldclockapi.com");
    assert_eq!(route["timeout"], "0s");
    assert_eq!(route["retry_policy"], default_retry_policy());
    assert_eq!(
        c.cluster_names(),
        ["PassthroughCluster", "outbound|80||worldclockapi.com"]
    );
}

#[test]
fn service_entry_port_81_alone_adds_only_a_cluster_so_port_80_passes_through() {
    let c = to_envoy(&parse(SE_81), Mode::AllowAny, &internet(), &v3()).unwrap();
    assert_eq!(vhost_names(&c), ["allow_any"]);
    assert_eq!(
        c.cluster_names(),
        ["PassthroughCluster", "outbound|81||worldclockapi.com"]
    );
    let ep = first_endpoint(&c.clusters[1]);
    assert_eq!(ep["port_value"], 9, "port 81 of the lab's internet refuses");
}

#[test]
fn virtual_service_on_external_host_routes_to_outbound_80_even_without_a_port_80_entry() {
    let mut r = parse(SE_81);
    r.extend(parse(VS_TIMEOUT));
    let c = to_envoy(&r, Mode::AllowAny, &internet(), &v3()).unwrap();
    let vh = vh(&c, "worldclockapi.com:80");
    assert_eq!(
        vh["routes"][0]["route"]["cluster"],
        "outbound|80||worldclockapi.com"
    );
    assert_eq!(vh["routes"][0]["route"]["timeout"], "3s");
    assert!(
        !c.cluster_names()
            .contains(&"outbound|80||worldclockapi.com".to_owned())
    );
}

#[test]
fn virtual_service_alone_also_gets_its_vhost() {
    let c = to_envoy(&parse(VS_TIMEOUT), Mode::RegistryOnly, &internet(), &v3()).unwrap();
    assert_eq!(vhost_names(&c), ["worldclockapi.com:80", "block_all"]);
}

#[test]
fn sidecar_outbound_policy_wins_over_the_mesh_mode() {
    let c = to_envoy(
        &parse(SIDECAR_REGISTRY_ONLY),
        Mode::AllowAny,
        &internet(),
        &v3(),
    )
    .unwrap();
    assert_eq!(c.mode, Mode::RegistryOnly);
    assert_eq!(vhost_names(&c), ["block_all"]);
    let selected_elsewhere = vary(
        SIDECAR_REGISTRY_ONLY,
        "spec:\n",
        "spec:\n  workloadSelector: {labels: {app: customer}}\n",
    );
    let c = to_envoy(
        &parse(&selected_elsewhere),
        Mode::AllowAny,
        &internet(),
        &v3(),
    )
    .unwrap();
    assert_eq!(c.mode, Mode::AllowAny);
}

#[test]
fn retries_fault_and_weights_translate_like_istiod() {
    // Inline on purpose: no shipped file combines retries, a fault and a split on an external host.
    let vs = "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: worldclockapi}
spec:
  hosts: [worldclockapi.com]
  http:
  - retries: {attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,503'}
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 50}}
      abort: {httpStatus: 503, percentage: {value: 10}}
    route:
    - destination: {host: worldclockapi.com, port: {number: 80}}
      weight: 90
    - destination: {host: worldtimeapi.org}
      weight: 10
";
    let c = to_envoy(&parse(vs), Mode::AllowAny, &internet(), &v3()).unwrap();
    let vh = vh(&c, "worldclockapi.com:80");
    let route = &vh["routes"][0];
    let rp = &route["route"]["retry_policy"];
    assert_eq!(rp["num_retries"], 3);
    assert_eq!(rp["per_try_timeout"], "2s");
    assert_eq!(rp["retry_on"], "gateway-error,retriable-status-codes");
    assert_eq!(rp["retriable_status_codes"], json!([503]));
    assert_eq!(
        route["route"]["weighted_clusters"]["clusters"],
        json!([{"name": "outbound|80||worldclockapi.com", "weight": 90}, {"name": "outbound|80||worldtimeapi.org", "weight": 10}])
    );
    let fault = &route["typed_per_filter_config"]["envoy.filters.http.fault"];
    assert_eq!(fault["delay"]["fixed_delay"], "7s");
    assert_eq!(
        fault["delay"]["percentage"],
        json!({"numerator": 500000, "denominator": "MILLION"})
    );
    assert_eq!(fault["abort"]["http_status"], 503);
    assert_eq!(fault["abort"]["percentage"]["numerator"], 100000);
}

#[test]
fn retries_attempts_zero_removes_the_policy() {
    let vs = vary(
        VS_TIMEOUT,
        "  - timeout: 3s\n",
        "  - timeout: 3s\n    retries: {attempts: 0}\n",
    );
    let c = to_envoy(&parse(&vs), Mode::AllowAny, &internet(), &v3()).unwrap();
    let vh = vh(&c, "worldclockapi.com:80");
    let route = &vh["routes"][0]["route"];
    assert!(route.get("retry_policy").is_none());
}

#[test]
fn down_internet_points_every_cluster_at_a_refusing_port() {
    let mut net = internet();
    net.down = true;
    let c = to_envoy(&parse(SE_80), Mode::AllowAny, &net, &v3()).unwrap();
    for cluster in &c.clusters {
        assert_eq!(first_endpoint(cluster)["port_value"], 9);
    }
}

#[test]
fn mesh_virtual_services_do_not_touch_egress() {
    let vs = include_str!("../../../../../istio/virtual-service-recommendation-v3.yml");
    let c = to_envoy(&parse(vs), Mode::AllowAny, &internet(), &v3()).unwrap();
    assert_eq!(vhost_names(&c), ["allow_any"]);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert!(parse_duration("soon").is_err());
}

/// `gateways: []` is `gateways` absent, as in istiod (`getGatewayNames`): bound to the sidecars. The
/// admission check, the sidecars' routes and the egress translation give each form the same answer.
#[test]
fn an_empty_gateways_list_binds_to_the_mesh_like_an_absent_one() {
    let with = |gateways: &str| {
        let yaml = vary(VS_TIMEOUT, "  http:", &format!("  {gateways}\n  http:"));
        match parse(&yaml).remove(0) {
            Resource::VirtualService(vs) => *vs,
            other => panic!("{other:?}"),
        }
    };
    for (gateways, mesh) in [
        ("", true),
        ("gateways: []", true),
        ("gateways: [mesh]", true),
        ("gateways: [customer-gateway, mesh]", true),
        ("gateways: [customer-gateway]", false),
        ("gateways: [tutorial/customer-gateway]", false),
    ] {
        let vs = with(gateways);
        assert_eq!(bound_to_mesh(&vs), mesh, "{gateways}");
        assert_eq!(is_egress_vs(&vs), mesh, "{gateways}");
    }
    let absent = to_envoy(&parse(VS_TIMEOUT), Mode::AllowAny, &internet(), &v3()).unwrap();
    let empty = to_envoy(
        &[Resource::VirtualService(Box::new(with("gateways: []")))],
        Mode::AllowAny,
        &internet(),
        &v3(),
    )
    .unwrap();
    assert_eq!(vhost_names(&empty), vhost_names(&absent));
    assert_eq!(
        vh(&empty, "worldclockapi.com:80")["routes"][0]["route"]["timeout"],
        "3s"
    );
}
