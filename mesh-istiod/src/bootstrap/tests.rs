//! The HTTP connection managers' filter chains, after istiod's pilot/pkg/networking/core/listener_builder.go
//! (`xdsfilters.Fault, xdsfilters.Cors` before the router, for the routes' per-filter configs).

use std::path::Path;

use serde_json::json;

use super::*;
use crate::util::protomarshal::to_json;

fn filter_names(l: &Listener) -> Vec<String> {
    http_connection_manager(l, Path::new("/tmp/p"), Vec::new())
        .http_filters
        .into_iter()
        .map(|f| f.name)
        .collect()
}

/// The gateway's and the sidecars' outbound listeners have the fault then the CORS filter before the
/// router, the CORS one with its (empty) filter config; a capture listener has the router only.
#[test]
fn outbound_and_gateway_listeners_have_fault_then_cors_before_the_router() {
    let gateway = gateway_bootstrap("127.0.0.1:18080".parse().unwrap(), "http.80");
    assert_eq!(
        filter_names(&gateway.listeners[0]),
        [FAULT_FILTER, CORS_FILTER, "envoy.filters.http.router"]
    );
    let hcm = to_json(&http_connection_manager(
        &gateway.listeners[0],
        Path::new("/tmp/p"),
        Vec::new(),
    ));
    assert_eq!(
        hcm["http_filters"][1]["typed_config"],
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"})
    );
    let mut capture = gateway.listeners[0].clone();
    capture.fault = false;
    assert_eq!(filter_names(&capture), ["envoy.filters.http.router"]);
}

/// A sidecar's bootstrap: its static listeners (HTTP, the capture one with its fixed routes), the capture
/// cluster and the xDS server's (HTTP/2), CDS and LDS over ADS.
#[test]
fn a_sidecar_bootstrap_has_its_listeners_the_xds_cluster_and_ads() {
    let w = crate::model::registry::Workload {
        name: "customer".into(),
        labels: Default::default(),
        image: None,
        env: Vec::new(),
        inject: true,
        pod: "customer-1".into(),
        service_account: "default".into(),
        file: "customer.yml".into(),
    };
    let svc = ServiceDef {
        name: "preference".into(),
        port: 8080,
        ..ServiceDef::default()
    };
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let b = sidecar_bootstrap(&w, addr(15001), addr(15002), &[(svc, addr(15003))]);
    let json = to_json(&envoy_bootstrap(
        &b,
        addr(15000),
        Path::new("/tmp/p"),
        addr(15010),
    ));
    let names = |list: &serde_json::Value| -> Vec<String> {
        let names = list
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned());
        names.collect()
    };
    let statics = &json["static_resources"];
    assert_eq!(
        names(&statics["listeners"]),
        [
            "outbound_0.0.0.0_8080",
            "outbound_0.0.0.0_80",
            "capture_preference"
        ]
    );
    let capture = &statics["listeners"][2]["filter_chains"][0]["filters"][0]["typed_config"];
    assert_eq!(
        capture["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["host_rewrite_literal"],
        "preference:8080"
    );
    assert_eq!(
        names(&statics["clusters"]),
        ["capture|outbound", XDS_CLUSTER]
    );
    assert_eq!(
        statics["clusters"][1]["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
            ["explicit_http_config"],
        json!({"http2_protocol_options": {}})
    );
    let ads = &json["dynamic_resources"];
    assert_eq!(
        ads["ads_config"]["grpc_services"][0]["envoy_grpc"]["cluster_name"],
        XDS_CLUSTER
    );
    assert_eq!(ads["lds_config"], ads["cds_config"]);
    assert_eq!(ads["lds_config"]["initial_fetch_timeout"], "0s");
    assert_eq!(
        json["node"]["id"],
        "sidecar~127.0.0.1~customer-1.tutorial~tutorial.svc.cluster.local"
    );
}
