//! The HTTP connection managers' filter chains, after istiod's pilot/pkg/networking/core/listener_builder.go
//! (`xdsfilters.Fault, xdsfilters.Cors` before the router, for the routes' per-filter configs).

use std::path::Path;

use super::*;

fn filter_names(l: &Listener) -> Vec<String> {
    http_connection_manager(l, Path::new("/tmp/p"), Vec::new())["http_filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
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
    let hcm = http_connection_manager(&gateway.listeners[0], Path::new("/tmp/p"), Vec::new());
    assert_eq!(
        hcm["http_filters"][1]["typed_config"],
        json!({"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"})
    );
    let mut capture = gateway.listeners[0].clone();
    capture.fault = false;
    assert_eq!(filter_names(&capture), ["envoy.filters.http.router"]);
}
