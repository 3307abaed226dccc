//! The route configurations of httproute.rs: a sidecar's outbound `"8080"` and the gateway's `http.80`.

use crate::model::release::IstioRelease;
use serde_json::{Value, json};

use super::*;
use crate::fixtures::parse;
use crate::util::protomarshal::to_json;

/// The sidecar's outbound route configuration, as JSON.
fn outbound_routes(
    resources: &[Resource],
    services: &[ServiceDef],
    mode: Mode,
    labels: &Labels,
    istio: IstioRelease,
) -> Result<Value, String> {
    super::outbound_routes(resources, services, mode, labels, istio).map(|rc| to_json(&rc))
}

/// The ingress gateway's route configuration, as JSON.
fn gateway_routes(
    resources: &[Resource],
    services: &[ServiceDef],
    istio: IstioRelease,
) -> Result<Value, String> {
    super::gateway_routes(resources, services, istio).map(|rc| to_json(&rc))
}

fn services() -> Vec<ServiceDef> {
    ["customer", "preference", "recommendation"]
        .iter()
        .map(|n| ServiceDef {
            name: (*n).into(),
            port: 8080,
            selector: [("app".to_owned(), (*n).to_owned())].into(),
            ..ServiceDef::default()
        })
        .collect()
}

fn vhost<'a>(rc: &'a Value, name: &str) -> &'a Value {
    rc["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no virtual host {name} in {rc}"))
}

const R: &str = "recommendation.tutorial.svc.cluster.local";

#[test]
fn without_a_virtual_service_each_service_gets_istiods_domains_and_default_route() {
    let rc = outbound_routes(
        &[],
        &services(),
        Mode::AllowAny,
        &Labels::new(),
        IstioRelease::CURRENT,
    )
    .unwrap();
    assert_eq!(rc["name"], "8080");
    assert_eq!(rc["ignore_port_in_host_matching"], true);
    assert_eq!(rc["validate_clusters"], false);
    let vh = vhost(&rc, &format!("{R}:8080"));
    assert_eq!(
        vh["domains"],
        json!([
            R,
            format!("{R}."),
            "recommendation",
            "recommendation.tutorial.svc",
            "recommendation.tutorial"
        ])
    );
    assert_eq!(
        vh["routes"],
        json!([to_json(&route::default_route(
            &format!("outbound|8080||{R}"),
            IstioRelease::CURRENT
        ))])
    );
    assert_eq!(vh["routes"][0]["route"]["timeout"], "0s");
    let names: Vec<&str> = rc["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"allow_any"), "the catch-all comes last");
}

#[test]
fn header_match_weights_mirror_and_subsets_translate_like_istiod() {
    // Inline on purpose: the Safari match, a 90/10 split with a weight-0 v3 and the mirror in one
    // VirtualService, which no shipped file combines (each shipped file: route/tests.rs).
    let vs = parse(
        "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - match: [{headers: {baggage-user-agent: {regex: '.*Safari.*'}}}]
    route:
    - destination: {host: recommendation, subset: version-v2}
  - route:
    - destination: {host: recommendation, subset: version-v1}
      weight: 90
    - destination: {host: recommendation, subset: version-v2}
      weight: 10
    - destination: {host: recommendation, subset: version-v3}
      weight: 0
    mirror: {host: recommendation, subset: version-v2}
    mirrorPercentage: {value: 100.0}
",
    );
    let rc = outbound_routes(
        &vs,
        &services(),
        Mode::AllowAny,
        &Labels::new(),
        IstioRelease::CURRENT,
    )
    .unwrap();
    let routes = &vhost(&rc, &format!("{R}:8080"))["routes"];
    assert_eq!(
        routes[0]["match"],
        json!({"prefix": "/", "case_sensitive": true, "headers": [
            {"name": "baggage-user-agent", "string_match": {"safe_regex": {"regex": ".*Safari.*"}}}
        ]})
    );
    assert_eq!(
        routes[0]["route"]["cluster"],
        format!("outbound|8080|version-v2|{R}")
    );
    assert_eq!(
        routes[1]["route"]["weighted_clusters"]["clusters"],
        json!([{"name": format!("outbound|8080|version-v1|{R}"), "weight": 90},
                   {"name": format!("outbound|8080|version-v2|{R}"), "weight": 10}]),
        "weight 0 is left out"
    );
    assert_eq!(
        routes[1]["route"]["request_mirror_policies"],
        json!([{"cluster": format!("outbound|8080|version-v2|{R}"),
                    "runtime_fraction": {"default_value": {"numerator": 1_000_000, "denominator": "MILLION"}},
                    "trace_sampled": false, "disable_shadow_host_suffix_append": true}])
    );
    assert_eq!(
        routes[1]["route"]["retry_policy"],
        to_json(&route::retry::default_retry_policy(IstioRelease::CURRENT))
    );
}

#[test]
fn retries_timeout_and_fault_translate_like_istiod() {
    // Inline on purpose: the retry, timeout and both fault files' rules merged into one rule.
    let vs = parse(
        "
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: recommendation}
spec:
  hosts: [recommendation]
  http:
  - route:
    - destination: {host: recommendation}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: '5xx,connect-failure,refused-stream'}
    timeout: 1s
    fault:
      abort: {httpStatus: 503, percentage: {value: 50.0}}
      delay: {fixedDelay: 7s, percentage: {value: 50.0}}
",
    );
    let rc = outbound_routes(
        &vs,
        &services(),
        Mode::AllowAny,
        &Labels::new(),
        IstioRelease::CURRENT,
    )
    .unwrap();
    let route = &vhost(&rc, &format!("{R}:8080"))["routes"][0];
    assert_eq!(
        route["route"]["cluster"],
        format!("outbound|8080||{R}"),
        "no subset: the Service's cluster"
    );
    assert_eq!(route["route"]["timeout"], "1s");
    let rp = &route["route"]["retry_policy"];
    assert_eq!(rp["num_retries"], 3);
    assert_eq!(rp["retry_on"], "5xx,connect-failure,refused-stream");
    assert_eq!(rp["per_try_timeout"], "2s");
    assert!(rp.get("retriable_status_codes").is_none());
    assert_eq!(rp["host_selection_retry_max_attempts"], 5);
    let fault = &route["typed_per_filter_config"]["envoy.filters.http.fault"];
    assert_eq!(
        fault["abort"],
        json!({"http_status": 503, "percentage": {"numerator": 500_000, "denominator": "MILLION"}})
    );
    assert_eq!(fault["delay"]["fixed_delay"], "7s");
}

#[test]
fn the_gateway_routes_its_virtual_service_with_the_prefix_rewrite() {
    let gw = parse(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../kubernetes/app/customer-gateway.yml"
        ))
        .unwrap(),
    );
    let rc = gateway_routes(&gw, &services(), IstioRelease::CURRENT).unwrap();
    assert_eq!(rc["name"], "http.80");
    let vh = vhost(&rc, "*:80");
    assert_eq!(vh["domains"], json!(["*"]));
    let routes = vh["routes"].as_array().unwrap();
    assert_eq!(
        routes[0]["match"],
        json!({"prefix": "/customer", "case_sensitive": true})
    );
    assert_eq!(routes[0]["route"]["prefix_rewrite"], "/");
    assert_eq!(routes[1]["match"], json!({"prefix": "/"}));
    for r in routes {
        assert_eq!(
            r["route"]["cluster"],
            "outbound|8080||customer.tutorial.svc.cluster.local"
        );
    }
    let none = gateway_routes(&[], &services(), IstioRelease::CURRENT).unwrap();
    assert_eq!(
        none["virtual_hosts"],
        json!([{"name": "blackhole:80", "domains": ["*"]}])
    );
}

/// A Gateway `customer-gateway` selecting `selector`, one HTTP server on port 80 for `server_hosts`, and the
/// VirtualService `customer` bound to it for `vs_hosts`, every request to customer.
fn ingress(selector: &str, server_hosts: &str, vs_hosts: &str) -> Vec<Resource> {
    parse(&format!(
        "
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: customer-gateway}}
spec:
  selector: {selector}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: {server_hosts}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: customer}}
spec:
  hosts: {vs_hosts}
  gateways: [customer-gateway]
  http:
  - route:
    - destination: {{host: customer}}
"
    ))
}

/// The route istiod writes for `route: [{destination: {host: customer}}]` of the VirtualService `customer`,
/// written out.
fn customer_route() -> Value {
    json!({"match": {"prefix": "/"}, "route": {
        "cluster": "outbound|8080||customer.tutorial.svc.cluster.local",
        "timeout": "0s",
        "retry_policy": {
            "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
            "num_retries": 2,
            "retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}],
            "host_selection_retry_max_attempts": 5,
        },
    }, "metadata": {"filter_metadata": {"istio": {
        "config": "/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/customer"}}}})
}

/// The route configuration `http.80` with these virtual hosts (name, domains), each routing to customer.
fn gateway_rc(vhosts: &[(&str, &[&str])]) -> Value {
    let vhosts: Vec<Value> = vhosts
        .iter()
        .map(|(name, domains)| {
            json!({"name": name, "domains": domains, "routes": [customer_route()],
                   "include_request_attempt_count": true})
        })
        .collect();
    json!({"name": "http.80", "virtual_hosts": vhosts, "validate_clusters": false,
           "ignore_port_in_host_matching": true})
}

const ISTIO_INGRESS: &str = "{istio: ingressgateway}";

fn blackhole() -> Value {
    json!({"name": "http.80", "virtual_hosts": [{"name": "blackhole:80", "domains": ["*"]}],
           "validate_clusters": false, "ignore_port_in_host_matching": true})
}

#[test]
fn a_star_virtual_service_on_a_specific_server_host_answers_that_host_only() {
    let rc = gateway_routes(
        &ingress(ISTIO_INGRESS, "[customer.example.com]", "['*']"),
        &services(),
        IstioRelease::CURRENT,
    );
    assert_eq!(
        rc.unwrap(),
        gateway_rc(&[("customer.example.com:80", &["customer.example.com"])])
    );
}

#[test]
fn specific_virtual_service_hosts_on_a_star_server_keep_theirs_and_share_one_virtual_host() {
    let rc = gateway_routes(
        &ingress(ISTIO_INGRESS, "['*']", "[b.example.com, Long.Example.com]"),
        &services(),
        IstioRelease::CURRENT,
    );
    assert_eq!(
        rc.unwrap(),
        gateway_rc(&[(
            "long.example.com:80",
            &["long.example.com", "b.example.com"]
        )]),
        "lower-cased, equal routes collapsed under the longest host"
    );
}

#[test]
fn wildcard_hosts_intersect_to_the_more_specific_and_others_are_dropped() {
    let rc = gateway_routes(
        &ingress(
            ISTIO_INGRESS,
            "['*.example.com', 'istio-system/other.org']",
            "[customer.example.com, other.org, '*', '*.a.example.com', example.com]",
        ),
        &services(),
        IstioRelease::CURRENT,
    );
    assert_eq!(
        rc.unwrap(),
        gateway_rc(&[(
            "customer.example.com:80",
            &["customer.example.com", "*.a.example.com", "*.example.com"]
        )]),
        "other.org is another namespace's server host, example.com is not under *.example.com"
    );
    let none = ingress(
        ISTIO_INGRESS,
        "[customer.example.com]",
        "[other.example.com]",
    );
    assert_eq!(
        gateway_routes(&none, &services(), IstioRelease::CURRENT).unwrap(),
        blackhole()
    );
}

#[test]
fn a_gateway_whose_selector_misses_the_ingress_gateway_configures_nothing() {
    for selector in [
        "{istio: myingressgateway}",
        "{istio: ingressgateway, version: v2}",
    ] {
        let rc = gateway_routes(
            &ingress(selector, "['*']", "['*']"),
            &services(),
            IstioRelease::CURRENT,
        );
        assert_eq!(rc.unwrap(), blackhole(), "{selector}");
    }
    for selector in [
        "{}",
        "{app: istio-ingressgateway}",
        "{istio: ingressgateway, app: istio-ingressgateway}",
    ] {
        let rc = gateway_routes(
            &ingress(selector, "['*']", "['*']"),
            &services(),
            IstioRelease::CURRENT,
        );
        assert_eq!(rc.unwrap(), gateway_rc(&[("*:80", &["*"])]), "{selector}");
    }
}

#[test]
fn two_virtual_services_on_one_host_share_its_virtual_host_with_the_catch_all_last() {
    let mut resources = ingress(ISTIO_INGRESS, "[customer.example.com]", "['*']");
    resources.extend(parse(
        "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: preference}
spec:
  hosts: [customer.example.com]
  gateways: [tutorial/customer-gateway]
  http:
  - match: [{uri: {prefix: /preference}}]
    route:
    - destination: {host: preference}
",
    ));
    let rc = gateway_routes(&resources, &services(), IstioRelease::CURRENT).unwrap();
    let vh = vhost(&rc, "customer.example.com:80");
    assert_eq!(vh["domains"], json!(["customer.example.com"]));
    let routes = vh["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(
        routes[0]["match"],
        json!({"prefix": "/preference", "case_sensitive": true})
    );
    assert_eq!(
        routes[0]["route"]["cluster"],
        "outbound|8080||preference.tutorial.svc.cluster.local"
    );
    assert_eq!(routes[1], customer_route(), "the catch-all comes last");
}

/// A VirtualService on recommendation whose first rule sends `sourceLabels` proxies to v2, the rest to v1
/// (`fallback: false`: the first rule only).
fn from_preference_v2(fallback: bool) -> Vec<Resource> {
    let rest = if fallback {
        "  - route: [{destination: {host: recommendation, subset: version-v1}}]\n"
    } else {
        ""
    };
    parse(&format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: recommendation}}
spec:
  hosts: [recommendation]
  http:
  - match: [{{sourceLabels: {{app: preference, version: v2}}}}]
    route: [{{destination: {{host: recommendation, subset: version-v2}}}}]
{rest}"
    ))
}

fn recommendation_routes(resources: &[Resource], labels: &[(&str, &str)]) -> Value {
    let rc = outbound_routes(
        resources,
        &services(),
        Mode::AllowAny,
        &crate::fixtures::labels(labels),
        IstioRelease::CURRENT,
    )
    .unwrap();
    vhost(&rc, &format!("{R}:8080"))["routes"].clone()
}

/// route.go `sourceMatchHTTP`: a match with `sourceLabels` is built only in the proxies whose labels hold
/// them; there it is a catch-all (no uri or headers), so `BuildHTTPRoutesForVirtualService` stops after it;
/// in other proxies the next rule routes, and with none left istiod's default route does.
#[test]
fn source_labels_keep_a_match_in_the_proxies_they_select_only() {
    let to = |subset: &str| format!("outbound|8080|{subset}|{R}");
    let vs = from_preference_v2(true);
    let v2 = recommendation_routes(&vs, &[("app", "preference"), ("version", "v2")]);
    let v1 = recommendation_routes(&vs, &[("app", "preference"), ("version", "v1")]);
    assert_eq!(v2.as_array().unwrap().len(), 1, "{v2}");
    assert_eq!(
        v2[0]["match"],
        json!({"prefix": "/", "case_sensitive": true})
    );
    assert_eq!(v2[0]["route"]["cluster"], to("version-v2"));
    assert_eq!(v1.as_array().unwrap().len(), 1, "{v1}");
    assert_eq!(v1[0]["match"], json!({"prefix": "/"}));
    assert_eq!(v1[0]["route"]["cluster"], to("version-v1"));
    let only = recommendation_routes(&from_preference_v2(false), &[("app", "customer")]);
    assert_eq!(
        only,
        json!([to_json(&route::default_route(
            &to(""),
            IstioRelease::CURRENT
        ))])
    );
}

/// `match.gateways`: a match naming the Gateway is built in the ingress gateway only, one naming `mesh` in
/// the sidecars only (short names read in the VirtualService's namespace).
#[test]
fn match_gateways_keep_a_match_in_the_named_gateways_proxies() {
    let mut resources = ingress("{istio: ingressgateway}", "['*']", "['*']");
    resources.retain(|r| !matches!(r, Resource::VirtualService(_)));
    resources.extend(parse(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: customer}
spec:
  hosts: [customer]
  gateways: [customer-gateway, mesh]
  http:
  - match: [{gateways: [tutorial/customer-gateway], uri: {prefix: /gw}}]
    redirect: {uri: /, derivePort: FROM_REQUEST_PORT}
  - match: [{gateways: [mesh], uri: {prefix: /mesh}}]
    redirect: {uri: /, derivePort: FROM_REQUEST_PORT}
  - route: [{destination: {host: customer}}]
",
    ));
    let gw = gateway_routes(&resources, &services(), IstioRelease::CURRENT).unwrap();
    let gw_routes = &vhost(&gw, "customer:80")["routes"];
    assert_eq!(gw_routes[0]["match"]["prefix"], "/gw");
    // The gateway's port 80 is plain HTTP's own: no port in the Location.
    assert_eq!(gw_routes[0]["redirect"], json!({"path_redirect": "/"}));
    assert_eq!(gw_routes[1]["match"], json!({"prefix": "/"}));
    assert_eq!(gw_routes.as_array().unwrap().len(), 2, "{gw_routes}");
    let mesh = outbound_routes(
        &resources,
        &services(),
        Mode::AllowAny,
        &Labels::new(),
        IstioRelease::CURRENT,
    )
    .unwrap();
    let mesh_routes = &vhost(&mesh, "customer.tutorial.svc.cluster.local:8080")["routes"];
    assert_eq!(mesh_routes[0]["match"]["prefix"], "/mesh");
    assert_eq!(
        mesh_routes[0]["redirect"],
        json!({"path_redirect": "/", "port_redirect": 8080})
    );
    assert_eq!(mesh_routes.as_array().unwrap().len(), 2, "{mesh_routes}");
}
