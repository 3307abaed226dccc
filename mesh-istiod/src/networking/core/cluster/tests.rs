use serde_json::{Value, json};

use super::*;
use crate::fixtures::istio;
use crate::util::protomarshal::all_json;
use crate::util::protomarshal::to_json;

/// The outbound clusters as JSON (protomarshal), the form Envoy's config dump shows.
fn mesh_clusters(
    resources: &[Resource],
    services: &[ServiceDef],
    endpoints: &[Endpoint],
    mtls_client: bool,
) -> Result<Vec<Value>, String> {
    super::mesh_clusters(resources, services, endpoints, mtls_client).map(|cs| all_json(&cs))
}

/// The inbound cluster as JSON.
fn inbound_cluster(
    resources: &[Resource],
    services: &[ServiceDef],
    labels: &Labels,
    port: u16,
    app: SocketAddr,
) -> Result<Value, String> {
    super::inbound_cluster(resources, services, labels, port, app).map(|c| to_json(&c))
}

fn recommendation() -> Vec<ServiceDef> {
    vec![ServiceDef {
        name: "recommendation".into(),
        port: 8080,
        selector: [("app".to_owned(), "recommendation".to_owned())].into(),
        ..ServiceDef::default()
    }]
}

fn pod(version: &str, port: u16) -> Endpoint {
    Endpoint {
        labels: [("app", "recommendation"), ("version", version)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        addr: ([127, 0, 0, 1], port).into(),
        identity: None,
    }
}

/// The ports of a cluster's endpoints (none: protobuf's JSON leaves the empty list out).
fn ports(c: &Value) -> Vec<u64> {
    c["load_assignment"]["endpoints"][0]["lb_endpoints"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|e| {
            e["endpoint"]["address"]["socket_address"]["port_value"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

const R: &str = "recommendation.tutorial.svc.cluster.local";

#[test]
fn a_service_without_a_destination_rule_has_one_cluster_with_istiods_defaults() {
    let cs = mesh_clusters(&[], &recommendation(), &[pod("v1", 1), pod("v2", 2)], false).unwrap();
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    assert_eq!(c["name"], format!("outbound|8080||{R}"));
    assert_eq!(c["lb_policy"], "LEAST_REQUEST");
    assert_eq!(c["connect_timeout"], "10s");
    assert_eq!(
        c["circuit_breakers"]["thresholds"][0]["max_pending_requests"],
        u32::MAX
    );
    assert_eq!(ports(c), [1, 2]);
    assert!(c.get("outlier_detection").is_none());
    assert!(c.get("metadata").is_none(), "no DestinationRule to name");
}

/// cluster_builder.go: each cluster a DestinationRule shapes names it, a subset's its subset too, as
/// `istioctl proxy-config clusters` reads them back.
#[test]
fn the_clusters_of_a_destination_rule_name_it_and_their_subset() {
    let cs = mesh_clusters(
        &istio("destination-rule-recommendation-circuit-breaker.yml"),
        &recommendation(),
        &[pod("v1", 1), pod("v2", 2)],
        false,
    )
    .unwrap();
    let config = "/apis/networking.istio.io/v1/namespaces/tutorial/destination-rule/recommendation";
    assert_eq!(
        cs[0]["metadata"],
        serde_json::json!({"filter_metadata": {"istio": {"config": config}}})
    );
    assert_eq!(
        cs[2]["metadata"],
        serde_json::json!({"filter_metadata": {"istio": {"config": config, "subset": "version-v2"}}})
    );
}

#[test]
fn subsets_select_their_pods_and_the_circuit_breaker_policy_applies_to_each() {
    let cs = mesh_clusters(
        &istio("destination-rule-recommendation-circuit-breaker.yml"),
        &recommendation(),
        &[pod("v1", 1), pod("v2", 2)],
        false,
    )
    .unwrap();
    let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            format!("outbound|8080||{R}"),
            format!("outbound|8080|version-v1|{R}"),
            format!("outbound|8080|version-v2|{R}"),
            format!("outbound|8080|version-v3|{R}"),
        ]
    );
    assert_eq!(ports(&cs[1]), [1]);
    assert_eq!(ports(&cs[2]), [2]);
    assert!(ports(&cs[3]).is_empty(), "no v3 pod: no endpoint");
    for c in &cs {
        let t = &c["circuit_breakers"]["thresholds"][0];
        assert_eq!(
            (
                t["max_connections"].as_u64(),
                t["max_pending_requests"].as_u64()
            ),
            (Some(1), Some(1))
        );
        assert_eq!(
            c["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                ["common_http_protocol_options"]["max_requests_per_connection"],
            1
        );
        assert_eq!(
            c["outlier_detection"],
            json!({"enforcing_success_rate": 0, "consecutive_5xx": 1, "enforcing_consecutive_5xx": 100,
                   "interval": "1s", "base_ejection_time": "180s", "max_ejection_percent": 100})
        );
        // Panic mode off: 0%, the default value, which protobuf's JSON leaves out.
        assert_eq!(c["common_lb_config"]["healthy_panic_threshold"], json!({}));
    }
}

#[test]
fn random_load_balancing_is_envoys_random() {
    let cs = mesh_clusters(
        &istio("destination-rule-recommendation-random.yml"),
        &recommendation(),
        &[],
        false,
    )
    .unwrap();
    assert!(cs.iter().all(|c| c["lb_policy"] == "RANDOM"));
}

#[test]
fn endpoints_with_a_sidecar_take_mutual_tls_and_the_others_plain_text() {
    let mut v1 = pod("v1", 1);
    v1.identity = Some("spiffe://cluster.local/ns/tutorial/sa/recommendation".into());
    let v3 = pod("v3", 3);
    let cs = mesh_clusters(&[], &recommendation(), &[v1.clone(), v3.clone()], true).unwrap();
    let c = &cs[0];
    let eps = &c["load_assignment"]["endpoints"][0]["lb_endpoints"];
    assert_eq!(
        eps[0]["metadata"],
        json!({"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": "istio"}}})
    );
    assert!(eps[1].get("metadata").is_none(), "no sidecar: no tlsMode");
    let m = &c["transport_socket_matches"];
    assert_eq!(m[0]["name"], "tlsMode-istio");
    let ctx = &m[0]["transport_socket"]["typed_config"]["common_tls_context"];
    let default = &ctx["tls_certificate_sds_secret_configs"][0];
    assert_eq!(default["name"], "default");
    assert_eq!(
        default["sds_config"],
        json!({"ads": {}, "resource_api_version": "V3"})
    );
    let validation = &ctx["combined_validation_context"];
    assert_eq!(
        validation["validation_context_sds_secret_config"]["name"],
        "ROOTCA"
    );
    assert_eq!(
        validation["default_validation_context"]["match_typed_subject_alt_names"][0]["matcher"]["exact"],
        "spiffe://cluster.local/ns/tutorial/sa/recommendation"
    );
    // A namespace that disables mTLS: clients send plain text (BestEffortInferServiceMTLSMode).
    let disable = crate::fixtures::parse(
        "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata:\n  name: default\nspec:\n  mtls:\n    mode: DISABLE\n",
    );
    let cs = mesh_clusters(&disable, &recommendation(), &[v1, v3], true).unwrap();
    assert!(cs[0].get("transport_socket_matches").is_none());
}

fn services() -> Vec<ServiceDef> {
    ["customer", "preference", "recommendation"]
        .into_iter()
        .map(|name| ServiceDef {
            name: name.into(),
            port: 8080,
            selector: [("app".to_owned(), name.to_owned())].into(),
            ..ServiceDef::default()
        })
        .collect()
}

fn named<'a>(cs: &'a [Value], name: &str) -> &'a Value {
    cs.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

fn thresholds(c: &Value) -> (u64, u64) {
    let t = &c["circuit_breakers"]["thresholds"][0];
    (
        t["max_connections"].as_u64().unwrap(),
        t["max_pending_requests"].as_u64().unwrap(),
    )
}

const SUBSET_POLICY: &str = "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool:
      tcp: {maxConnections: 5}
      http: {http1MaxPendingRequests: 7}
    outlierDetection: {consecutive5xxErrors: 2, interval: 2s, baseEjectionTime: 30s}
  subsets:
  - name: version-v1
    labels: {version: v1}
  - name: version-v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
      connectionPool:
        tcp: {maxConnections: 1}
";

/// MergeTrafficPolicy: a block the subset sets replaces the top-level block whole (v2's pool has no
/// `http`, so its pending requests are istiod's default again), the blocks it leaves out are inherited.
#[test]
fn a_subsets_policy_replaces_the_top_level_blocks_it_sets_and_inherits_the_others() {
    let cs = mesh_clusters(
        &crate::fixtures::parse(SUBSET_POLICY),
        &recommendation(),
        &[pod("v1", 1), pod("v2", 2)],
        false,
    )
    .unwrap();
    let (all, v1, v2) = (&cs[0], &cs[1], &cs[2]);
    assert_eq!(v2["name"], format!("outbound|8080|version-v2|{R}"));
    assert_eq!(thresholds(all), (5, 7));
    assert_eq!(thresholds(v1), (5, 7));
    assert_eq!(thresholds(v2), (1, u64::from(u32::MAX)));
    // ROUND_ROBIN is the enum's default, which protobuf's JSON leaves out.
    assert_eq!(
        (&all["lb_policy"], &v1["lb_policy"], &v2["lb_policy"]),
        (&json!("RANDOM"), &json!("RANDOM"), &Value::Null)
    );
    let od = json!({"enforcing_success_rate": 0, "consecutive_5xx": 2, "enforcing_consecutive_5xx": 100,
                    "interval": "2s", "base_ejection_time": "30s"});
    for c in [all, v1, v2] {
        assert_eq!(c["outlier_detection"], od, "{}", c["name"]);
    }
}

/// A subset policy without a top-level one applies to its subset only.
#[test]
fn a_subset_policy_alone_leaves_the_service_cluster_and_the_other_subsets_at_istiods_defaults() {
    let yaml = SUBSET_POLICY.replace(
        "  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n    connectionPool:\n      tcp: {maxConnections: 5}\n      http: {http1MaxPendingRequests: 7}\n    outlierDetection: {consecutive5xxErrors: 2, interval: 2s, baseEjectionTime: 30s}\n",
        "",
    );
    assert_ne!(yaml, SUBSET_POLICY);
    let cs = mesh_clusters(
        &crate::fixtures::parse(&yaml),
        &recommendation(),
        &[],
        false,
    )
    .unwrap();
    let max = u64::from(u32::MAX);
    assert_eq!(thresholds(&cs[0]), (max, max));
    assert_eq!(thresholds(&cs[1]), (max, max));
    assert_eq!(thresholds(&cs[2]), (1, max));
    assert_eq!(cs[1]["lb_policy"], "LEAST_REQUEST");
    assert_eq!(cs[2]["lb_policy"], Value::Null, "ROUND_ROBIN, the default");
    assert!(cs.iter().all(|c| c.get("outlier_detection").is_none()));
}

const NAMESPACE_WIDE: &str = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: default}
spec:
  host: '*.tutorial.svc.cluster.local'
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
";

fn mesh_pods() -> Vec<Endpoint> {
    ["customer", "preference", "recommendation"]
        .into_iter()
        .enumerate()
        .map(|(i, app)| Endpoint {
            labels: [("app".to_owned(), app.to_owned())].into(),
            addr: ([127, 0, 0, 1], 10 + i as u16).into(),
            identity: Some(format!("spiffe://cluster.local/ns/tutorial/sa/{app}")),
        })
        .collect()
}

/// A wildcard host covers every Service of the namespace; ISTIO_MUTUAL is the mesh certificates as the
/// cluster's one transport socket (user-supplied, not auto-detected: no matches, every endpoint TLS), with
/// auto mTLS's SNI and SANs (buildUpstreamTLSSettings).
#[test]
fn a_namespace_wide_istio_mutual_rule_gives_every_service_the_mesh_certificates_on_every_endpoint()
{
    let rs = crate::fixtures::parse(NAMESPACE_WIDE);
    let cs = mesh_clusters(&rs, &services(), &mesh_pods(), true).unwrap();
    assert_eq!(cs.len(), 3);
    for (c, app) in cs.iter().zip(["customer", "preference", "recommendation"]) {
        assert!(c.get("transport_socket_matches").is_none(), "{c}");
        let fqdn = format!("{app}.tutorial.svc.cluster.local");
        assert_eq!(
            c["transport_socket"],
            to_json(&mtls::istio_mutual_socket(
                &[format!("spiffe://cluster.local/ns/tutorial/sa/{app}")],
                &format!("outbound_.8080_._.{fqdn}")
            ))
        );
        assert!(
            c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
                .get("metadata")
                .is_none()
        );
    }
    // DISABLE: plain text, no socket at all, even where auto mTLS would have used TLS.
    let disable = NAMESPACE_WIDE.replace("ISTIO_MUTUAL", "DISABLE");
    let cs = mesh_clusters(
        &crate::fixtures::parse(&disable),
        &services(),
        &mesh_pods(),
        true,
    )
    .unwrap();
    for c in &cs {
        assert!(c.get("transport_socket").is_none() && c.get("transport_socket_matches").is_none());
    }
}

/// The most specific host wins (MostSpecificHostMatch): recommendation's own rule, with its subsets and no
/// `tls`, beats the namespace-wide one, whose ISTIO_MUTUAL then does not apply to recommendation (auto mTLS);
/// a subset's `tls` replaces the top level's.
#[test]
fn the_rule_with_the_most_specific_host_wins_and_a_subsets_tls_replaces_the_top_levels() {
    let mut rs = crate::fixtures::parse(&NAMESPACE_WIDE.replace("'*.tutorial", "'*"));
    rs.extend(crate::fixtures::parse(NAMESPACE_WIDE));
    rs.extend(istio("destination-rule-recommendation-v1-v2.yml"));
    let mut wide = crate::fixtures::parse(&NAMESPACE_WIDE.replace("ISTIO_MUTUAL", "DISABLE"));
    wide.extend(rs.clone());
    let cs = mesh_clusters(&wide, &services(), &mesh_pods(), true).unwrap();
    let pref = named(&cs, "outbound|8080||preference.tutorial.svc.cluster.local");
    assert!(
        pref.get("transport_socket").is_some(),
        "the last applied of equal hosts"
    );
    let rec = named(&cs, &format!("outbound|8080|version-v1|{R}"));
    assert!(rec.get("transport_socket").is_none());
    assert_eq!(rec["transport_socket_matches"][0]["name"], "tlsMode-istio");
    let yaml = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation.tutorial.svc.cluster.local
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets:
  - {name: version-v1, labels: {version: v1}, trafficPolicy: {tls: {mode: DISABLE}}}
  - {name: version-v2, labels: {version: v2}}
";
    let cs = mesh_clusters(&crate::fixtures::parse(yaml), &services(), &[], true).unwrap();
    assert!(
        named(&cs, &format!("outbound|8080||{R}"))
            .get("transport_socket")
            .is_some()
    );
    assert!(
        named(&cs, &format!("outbound|8080|version-v1|{R}"))
            .get("transport_socket")
            .is_none()
    );
    let v2 = named(&cs, &format!("outbound|8080|version-v2|{R}"));
    assert_eq!(
        v2["transport_socket"]["typed_config"]["sni"],
        format!("outbound_.8080_.version-v2_.{R}")
    );
}

/// buildInboundCluster: STATIC to the app, istiod's default thresholds; the top-level connectionPool of the
/// rule of the Service the workload serves (not a subset's, not outlier detection or the load balancer).
#[test]
fn the_inbound_cluster_takes_the_top_level_connection_pool_of_the_served_services_rule() {
    let app: SocketAddr = ([127, 0, 0, 1], 9).into();
    let v2 = pod("v2", 2).labels;
    let max = u64::from(u32::MAX);
    let plain = inbound_cluster(&[], &services(), &v2, 8080, app).unwrap();
    assert_eq!(plain["name"], "inbound|8080||");
    assert_eq!(plain["type"], "STATIC");
    assert_eq!(ports(&plain), [9]);
    assert_eq!(thresholds(&plain), (max, max));
    let rs = crate::fixtures::parse(SUBSET_POLICY);
    let c = inbound_cluster(&rs, &services(), &v2, 8080, app).unwrap();
    assert_eq!(thresholds(&c), (5, 7), "the top level's, not subset v2's");
    assert!(c.get("outlier_detection").is_none() && c.get("lb_policy").is_none());
    let customer = [("app".to_owned(), "customer".to_owned())].into();
    let other = inbound_cluster(&rs, &services(), &customer, 8080, app).unwrap();
    assert_eq!(thresholds(&other), (max, max), "another Service's rule");
    let cb = inbound_cluster(
        &istio("destination-rule-recommendation-circuit-breaker.yml"),
        &services(),
        &v2,
        8080,
        app,
    )
    .unwrap();
    assert_eq!(thresholds(&cb), (1, 1));
    assert_eq!(
        cb["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
            ["common_http_protocol_options"]["max_requests_per_connection"],
        1
    );
}

/// The deprecated `consecutiveErrors` is read by no istiod translation: the outlier detection has no
/// `consecutive_5xx`, so Envoy's default (5, enforced) applies.
#[test]
fn consecutive_errors_sets_nothing_as_in_istiod() {
    let yaml = "
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy:
    connectionPool: {http: {}, tcp: {}}
    outlierDetection: {consecutiveErrors: 1, interval: 5.000s, baseEjectionTime: 15.000s}
";
    let cs = mesh_clusters(&crate::fixtures::parse(yaml), &recommendation(), &[], false).unwrap();
    assert_eq!(
        cs[0]["outlier_detection"],
        json!({"enforcing_success_rate": 0, "interval": "5s", "base_ejection_time": "15s"})
    );
    let max = u64::from(u32::MAX);
    assert_eq!(thresholds(&cs[0]), (max, max));
}

/// Envoy holds the consecutive-error counts as `uint32`: a count out of that range is refused naming the
/// field, not handed to Envoy.
#[test]
fn a_consecutive_errors_count_out_of_envoys_range_is_refused_by_field() {
    let yaml = "
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: recommendation}
spec:
  host: recommendation
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: -1}
";
    let err =
        mesh_clusters(&crate::fixtures::parse(yaml), &recommendation(), &[], false).unwrap_err();
    assert_eq!(
        err,
        "DestinationRule recommendation: spec.trafficPolicy.outlierDetection.consecutive5xxErrors -1 \
         is out of range"
    );
}
