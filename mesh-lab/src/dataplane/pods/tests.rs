use super::*;

/// customer's Deployment as upstream writes it: its image, no `PREFERENCE_URL`.
fn customer(env: serde_json::Value, inject: bool) -> Workload {
    let d = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "customer"},
        "spec": {
            "selector": {"matchLabels": {"app": "customer"}},
            "template": {
                "metadata": {"labels": {"app": "customer", "sidecar.istio.io/inject": inject.to_string()}},
                "spec": {"containers": [{
                    "name": "customer",
                    "image": "quay.io/rhdevelopers/istio-tutorial-customer:v1.1",
                    "env": env
                }]}
            }
        }
    }))
    .unwrap();
    mesh_istiod::model::registry::from_deployment(&d, "customer.yml", 0).unwrap()
}

fn services() -> Vec<ServiceDef> {
    ["customer", "preference", "recommendation"]
        .map(|name| ServiceDef {
            name: name.into(),
            port: 8080,
            selector: [("app".to_owned(), name.to_owned())].into(),
            ..ServiceDef::default()
        })
        .into()
}

#[test]
fn without_the_variable_the_next_hop_is_the_apps_default_service() {
    let w = customer(
        serde_json::json!([{"name": "JAVA_OPTIONS", "value": "-Xms15m"}]),
        true,
    );
    let p = plan(&w, &services(), None).unwrap();
    let [(svc, cap)] = p.captures.as_slice() else {
        panic!("one capture: {:?}", p.captures.len());
    };
    assert_eq!(svc.name, "preference");
    assert_eq!(p.env["PREFERENCE_URL"], format!("http://{cap}/"));
    assert!(
        !p.env.contains_key("RECOMMENDATION_URL"),
        "customer reads no RECOMMENDATION_URL"
    );
}

#[test]
fn the_variable_still_names_the_next_hop_when_set() {
    let set = |url: &str| {
        customer(
            serde_json::json!([{"name": "PREFERENCE_URL", "value": url}]),
            true,
        )
    };
    let p = plan(&set("http://recommendation:8080"), &services(), None).unwrap();
    assert_eq!(p.captures[0].0.name, "recommendation");
    let outside = plan(&set("http://example.com/"), &services(), None).unwrap();
    assert!(outside.captures.is_empty(), "not a Service of the mesh");
    assert_eq!(outside.env["PREFERENCE_URL"], "http://example.com/");
}

#[test]
fn a_pod_without_sidecar_calls_its_default_next_hop_through_kube_proxy() {
    let w = customer(serde_json::json!([]), false);
    assert!(needs_cluster_ip(&w, &services()));
    let ip: SocketAddr = ([127, 0, 0, 1], 21999).into();
    let ips = BTreeMap::from([("preference".to_owned(), ip)]);
    let p = plan(&w, &services(), Some(&ips)).unwrap();
    assert_eq!(p.env["PREFERENCE_URL"], format!("http://{ip}/"));
}
