//! The tables from a config dump shaped as a sidecar's Envoy gives it (trimmed from the lab's customer
//! sidecar after the 90/10 split, plus the `filter_metadata.istio.config` istiod records on a
//! VirtualService's routes and a DestinationRule's clusters), each exact to the byte.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use super::*;

const REC: &str = "recommendation.tutorial.svc.cluster.local";

fn istio_config(kind: &str, name: &str) -> Value {
    let path = format!("/apis/networking.istio.io/v1/namespaces/tutorial/{kind}/{name}");
    json!({"filter_metadata": {"istio": {"config": path}}})
}

fn dump() -> Value {
    let rec_vhost = json!({
        "name": format!("{REC}:8080"),
        "domains": [REC, format!("{REC}."), "recommendation", "recommendation.tutorial.svc", "recommendation.tutorial"],
        "routes": [{"match": {"prefix": "/"}, "metadata": istio_config("virtual-service", "recommendation"),
                    "route": {"weighted_clusters": {"clusters": []}}}]
    });
    json!({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
         "static_clusters": [{"cluster": {"@type": "x", "name": "PassthroughCluster", "type": "ORIGINAL_DST"}}],
         "dynamic_active_clusters": [
            {"cluster": {"name": format!("outbound|8080|version-v2|{REC}"), "metadata": istio_config("destination-rule", "recommendation")}},
            {"cluster": {"name": format!("outbound|8080||{REC}"), "type": "EDS"}},
            {"cluster": {"name": format!("outbound|8080|version-v1|{REC}"), "metadata": istio_config("destination-rule", "recommendation")}},
            {"cluster": {"name": "inbound|8080||"}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
         "static_listeners": [{"listener": {"name": "out", "address": {"socket_address": {"address": "127.0.0.1", "port_value": 29946}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                "typed_config": {"rds": {"route_config_name": "8080"}}}]}]}}],
         "dynamic_listeners": [{"active_state": {"listener": {"name": "in",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 29945}},
            "filter_chains": [
              {"filter_chain_match": {"transport_protocol": "tls", "application_protocols": ["istio-peer-exchange", "istio"]},
               "filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"cluster": "inbound|8080||"}}]},
              {"filter_chain_match": {"prefix_ranges": [{"address_prefix": "10.0.0.0", "prefix_len": 8}], "destination_port": 9080},
               "filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {"route_config": {
                   "virtual_hosts": [{"domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]}]}}}]},
              {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": {"cluster": "BlackHoleCluster"}}]}]}}}]},
        {"@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
         "static_route_configs": [{"route_config": {"name": "inbound|8080||", "virtual_hosts": [
            {"name": "inbound|http|8080", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "inbound|8080||"}}]}]}}],
         "dynamic_route_configs": [
            {"route_config": {"@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", "name": "8080", "virtual_hosts": [
                rec_vhost,
                {"name": "allow_any", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]},
                {"name": "blackhole:80", "domains": ["*"], "routes": []}]}},
            {"route_config": {"name": "80", "virtual_hosts": [
                {"name": "web", "domains": ["a:80", "b"], "routes": [{"match": {"path": "/x"}}, {"match": {"safe_regex": {"regex": "/y.*"}}}]}]}}]}
    ]})
}

fn short(section: &str, q: ProxyConfigQuery) -> String {
    let q = ProxyConfigQuery {
        section: section.into(),
        ..q
    };
    print(Section::parse(section).unwrap(), Output::Short, &dump(), &q).unwrap()
}

#[test]
fn routes_name_their_virtual_service_and_skip_the_passthrough() {
    let want = format!(
        "NAME               VHOST NAME                                         DOMAINS                                                                    MATCH          VIRTUAL SERVICE\n\
         80                 web                                                b                                                                          /x             \n\
         80                 web                                                b                                                                          regex /y.*     \n\
         8080               {REC}:8080     {REC}., recommendation + 1 more...     /*             recommendation.tutorial\n\
         8080               blackhole:80                                       *                                                                          /*             404\n\
         inbound|8080||     inbound|http|8080                                  *                                                                          /*             \n"
    );
    assert_eq!(short("routes", ProxyConfigQuery::default()), want);
    let only = ProxyConfigQuery {
        name: Some("80".into()),
        ..ProxyConfigQuery::default()
    };
    assert_eq!(short("routes", only).lines().count(), 3);
}

#[test]
fn clusters_are_ordered_by_host_subset_port_and_name_their_destination_rule() {
    let want = format!(
        "SERVICE FQDN                                  PORT     SUBSET         DIRECTION     TYPE             DESTINATION RULE\n\
         \x20                                             8080     -              inbound       STATIC           \n\
         PassthroughCluster                            -        -              -             ORIGINAL_DST     \n\
         {REC}     8080     -              outbound      EDS              \n\
         {REC}     8080     version-v1     outbound      STATIC           recommendation.tutorial\n\
         {REC}     8080     version-v2     outbound      STATIC           recommendation.tutorial\n"
    );
    assert_eq!(short("clusters", ProxyConfigQuery::default()), want);
    let v2 = ProxyConfigQuery {
        subset: Some("v2".into()),
        port: Some(8080),
        ..ProxyConfigQuery::default()
    };
    assert_eq!(short("clusters", v2).lines().count(), 2);
}

#[test]
fn listeners_describe_each_filter_chain_with_single_space_padding() {
    let want = "ADDRESSES PORT  MATCH                    DESTINATION\n\
                127.0.0.1 29945 Addr: 10.0.0.0/8:9080    PassthroughCluster\n\
                127.0.0.1 29945 ALL                      Non-HTTP/Non-TCP\n\
                127.0.0.1 29945 Trans: tls; App: TCP TLS Cluster: inbound|8080||\n\
                127.0.0.1 29946 ALL                      Route: 8080\n";
    assert_eq!(short("listeners", ProxyConfigQuery::default()), want);
    let http = ProxyConfigQuery {
        listener_type: Some("http".into()),
        ..ProxyConfigQuery::default()
    };
    let only = "ADDRESSES PORT  MATCH DESTINATION\n127.0.0.1 29946 ALL   Route: 8080\n";
    assert_eq!(short("listeners", http), only);
}

#[test]
fn endpoints_list_every_host_by_address_with_its_health() {
    let clusters = json!({"cluster_statuses": [
        {"name": "outbound|8080|version-v2|r", "host_statuses": [
            {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 2002}},
             "health_status": {"eds_health_status": "HEALTHY", "failed_outlier_check": true}}]},
        {"name": "outbound|8080||r", "host_statuses": [
            {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 2002}}, "health_status": {}},
            {"address": {"pipe": {"path": "/tmp/s"}}, "health_status": {"eds_health_status": "DRAINING"}}]}]});
    let q = ProxyConfigQuery::default();
    let want = "ENDPOINT           STATUS       OUTLIER CHECK     CLUSTER\n\
                127.0.0.1:2002     HEALTHY      FAILED            outbound|8080|version-v2|r\n\
                127.0.0.1:2002     UNKNOWN      OK                outbound|8080||r\n\
                unix:///tmp/s      DRAINING     OK                outbound|8080||r\n";
    assert_eq!(render::endpoints_table(&clusters, &q), want);
    let healthy = ProxyConfigQuery {
        status: Some("healthy".into()),
        ..q
    };
    let kept = render::endpoint_clusters(&clusters, &healthy);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["name"], "outbound|8080|version-v2|r");
}

/// A certificate as the lab's CA makes one: its serial, dates and SPIFFE identity given.
fn cert(ca: bool, uri: Option<&str>) -> String {
    let mut p = rcgen::CertificateParams::default();
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x01, 0x2a]));
    p.not_before = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    p.not_after = time::OffsetDateTime::from_unix_timestamp(1_780_086_400).unwrap();
    if ca {
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    if let Some(u) = uri {
        p.subject_alt_names = vec![rcgen::SanType::URI(u.try_into().unwrap())];
    }
    let key = rcgen::KeyPair::generate().unwrap();
    p.self_signed(&key).unwrap().pem()
}

fn secrets_dump(default: Value, root: Value) -> Value {
    json!({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
        "dynamic_active_secrets": [
            {"name": "default", "secret": {"tls_certificate": {"certificate_chain": default, "private_key": {"inline_string": "[redacted]"}}}},
            {"name": "ROOTCA", "secret": {"validation_context": {"trusted_ca": root}}}]}]})
}

#[test]
fn secrets_show_type_validity_serial_and_dates_of_each_certificate() {
    let leaf = cert(
        false,
        Some("spiffe://cluster.local/ns/tutorial/sa/customer"),
    );
    let root = cert(true, None);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &root);
    let dump = secrets_dump(json!({"inline_string": leaf}), json!({"inline_bytes": b64}));
    let during = Utc.timestamp_opt(1_780_000_100, 0).unwrap();
    let want = "RESOURCE NAME     TYPE           STATUS     VALID CERT     SERIAL NUMBER                        NOT AFTER                NOT BEFORE\n\
                default           Cert Chain     ACTIVE     true           0000000000000000000000000000012a     2026-05-29T20:26:40Z     2026-05-28T20:26:40Z\n\
                ROOTCA            CA             ACTIVE     true           0000000000000000000000000000012a     2026-05-29T20:26:40Z     2026-05-28T20:26:40Z\n";
    assert_eq!(secret::secrets_table(&dump, during).unwrap(), want);
    let after = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    assert!(
        secret::secrets_table(&dump, after)
            .unwrap()
            .contains("ACTIVE     false")
    );
}

#[test]
fn secrets_get_a_trust_domain_column_only_when_every_one_has_one() {
    let uri = "spiffe://cluster.local/ns/tutorial/sa/customer";
    let dump = secrets_dump(
        json!({"inline_string": cert(false, Some(uri))}),
        json!({"inline_string": cert(true, Some("spiffe://example.org"))}),
    );
    let text = secret::secrets_table(&dump, Utc.timestamp_opt(1_780_000_100, 0).unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("NOT BEFORE               TRUST DOMAIN"));
    assert!(lines[1].ends_with("cluster.local"), "{text}");
    assert!(lines[2].ends_with("example.org"), "{text}");
    let none =
        json!({"configs": [{"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump"}]});
    assert_eq!(
        secret::secrets_table(&none, Utc::now()).unwrap(),
        "No active or warming secrets found.\n"
    );
}

#[test]
fn json_output_is_the_section_indented_with_four_spaces() {
    let q = ProxyConfigQuery {
        name: Some("80".into()),
        ..ProxyConfigQuery::default()
    };
    let out = print(Section::Routes, Output::Json, &dump(), &q).unwrap();
    assert!(
        out.starts_with("[\n    {\n        \"name\": \"80\",\n"),
        "{out}"
    );
    assert!(out.ends_with("]\n"));
    let yaml = print(Section::Routes, Output::Yaml, &dump(), &q).unwrap();
    assert!(yaml.starts_with("- name: '80'\n"), "{yaml}");
    let all = print(
        Section::Routes,
        Output::Json,
        &dump(),
        &ProxyConfigQuery::default(),
    )
    .unwrap();
    assert!(
        !all.contains("@type"),
        "istioctl prints the messages, not the Any"
    );
}

#[test]
fn sections_take_istioctls_names_and_outputs() {
    assert_eq!(Section::parse("r").unwrap(), Section::Routes);
    assert_eq!(Section::parse("ep").unwrap(), Section::Endpoints);
    assert_eq!(Section::parse("secrets").unwrap(), Section::Secret);
    let e = Section::parse("bootstrap").unwrap_err().to_string();
    assert!(
        e.contains("routes, clusters, listeners, endpoints or secret"),
        "{e}"
    );
    assert_eq!(output_of(None).unwrap(), Output::Short);
    assert!(output_of(Some("wide")).is_err());
}

#[test]
fn domains_are_shortened_as_istioctl_shortens_them() {
    let d = |v: &[&str]| {
        render::describe_route_domains(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    };
    assert_eq!(d(&[]), "");
    assert_eq!(d(&["a:80"]), "a:80");
    assert_eq!(
        d(&[
            "a.ns.svc.cluster.local",
            "a.ns.svc.cluster.local:80",
            "a.ns",
            "a"
        ]),
        "a.ns, a"
    );
    assert_eq!(
        d(&[
            "a",
            "b",
            "c",
            "[fd00::1]",
            "[fd00:10:96::7fc7]",
            "[fd00:10:96::7fc7]:80"
        ]),
        "a, b + 2 more..."
    );
}
