//! The three patch types on a Deployment's JSON: strategic merge by merge key, RFC 7386 and RFC 6902.

use serde_json::{Value, json};

use super::{PatchType, apply_patch, merge_patch};

fn deployment() -> Value {
    json!({"metadata": {"name": "recommendation-v2", "labels": {"app": "recommendation"}},
           "spec": {"replicas": 1, "template": {
               "metadata": {"labels": {"app": "recommendation", "version": "v2"}},
               "spec": {"containers": [
                   {"name": "recommendation", "image": "recommendation:0.1.0", "args": ["a", "b"],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "env": [{"name": "RECOMMENDATION_VERSION", "value": "v2"}, {"name": "WORKERS", "value": "2"}]},
                   {"name": "helper", "image": "helper:1"}]}}}})
}

fn patched(patch: Value, how: PatchType) -> Result<Value, String> {
    let mut d = deployment();
    apply_patch(&mut d, &patch.to_string(), how).map(|()| d)
}

fn containers(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"]
}

/// The upstream tutorial's `kubectl patch deployment … -p '{"spec":{"template":{"spec":{"containers":[{"name":…,
/// "image":…}]}}}}'`: only that container's image changes; its env, ports and the other container stay.
#[test]
fn strategic_merge_merges_containers_by_name() {
    let d = patched(
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "recommendation", "image": "quay.io/rhdevelopers/istio-tutorial-recommendation:v2-timeout"}]}}}}),
        PatchType::Strategic,
    )
    .unwrap();
    let mut want = deployment();
    want["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("quay.io/rhdevelopers/istio-tutorial-recommendation:v2-timeout");
    assert_eq!(d, want);
}

/// env merges by name (one changed, one added, one deleted by `$patch: delete`), ports by containerPort, a
/// list without a merge key (`args`) is replaced, `null` removes a field, a new container is appended.
#[test]
fn strategic_merge_merges_env_by_name_and_deletes_with_the_directive() {
    let d = patched(
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "recommendation", "args": ["c"], "imagePullPolicy": null,
             "ports": [{"containerPort": 8080, "protocol": "TCP"}],
             "env": [{"name": "WORKERS", "value": "4"}, {"name": "TIMEOUT", "value": "3s"},
                     {"name": "RECOMMENDATION_VERSION", "$patch": "delete"}]},
            {"name": "third", "image": "third:1"}]}}}}),
        PatchType::Strategic,
    )
    .unwrap();
    assert_eq!(
        containers(&d),
        &json!([
            {"name": "recommendation", "image": "recommendation:0.1.0", "args": ["c"],
             "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
             "env": [{"name": "WORKERS", "value": "4"}, {"name": "TIMEOUT", "value": "3s"}]},
            {"name": "helper", "image": "helper:1"},
            {"name": "third", "image": "third:1"}])
    );
    let replaced = patched(
        json!({"spec": {"template": {"metadata": {"$patch": "replace", "labels": {"app": "x"}}}}}),
        PatchType::Strategic,
    )
    .unwrap();
    assert_eq!(
        replaced["spec"]["template"]["metadata"],
        json!({"labels": {"app": "x"}})
    );
    let deleted = patched(
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
        PatchType::Strategic,
    )
    .unwrap();
    assert_eq!(deleted["metadata"], json!({"name": "recommendation-v2"}));
}

#[test]
fn strategic_merge_refuses_an_item_without_its_merge_key_and_other_directives() {
    let missing = patched(
        json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
        PatchType::Strategic,
    );
    assert_eq!(
        missing.unwrap_err(),
        r#"map: {"image":"x"} does not contain declared merge key: name"#
    );
    let order = patched(
        json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "helper"}]}}}}),
        PatchType::Strategic,
    );
    assert_eq!(
        order.unwrap_err(),
        "the local mesh's strategic merge patch takes the directive $patch (delete, replace) only, not \
         $setElementOrder/containers"
    );
}

/// The same patch as a JSON merge patch replaces the whole list, as `--type merge` does on a cluster.
#[test]
fn merge_patch_replaces_lists_whole() {
    let d = patched(
        json!({"spec": {"template": {"spec": {"containers": [{"name": "recommendation", "image": "x"}]}}}}),
        PatchType::Merge,
    )
    .unwrap();
    assert_eq!(
        containers(&d),
        &json!([{"name": "recommendation", "image": "x"}])
    );
}

#[test]
fn merge_patch_follows_rfc_7386() {
    let mut v = json!({"a": {"b": 1, "c": 2}, "d": [1]});
    merge_patch(
        &mut v,
        &json!({"a": {"b": null, "e": 3}, "d": [2], "f": "g"}),
    );
    assert_eq!(v, json!({"a": {"c": 2, "e": 3}, "d": [2], "f": "g"}));
}

/// RFC 6902's operations in order, with `-` appending and `~1` escaping `/`; a failed operation leaves the
/// Deployment untouched.
#[test]
fn json_patch_follows_rfc_6902() {
    let env = "/spec/template/spec/containers/0/env";
    let d = patched(
        json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 2},
            {"op": "add", "path": format!("{env}/-"), "value": {"name": "TIMEOUT", "value": "3s"}},
            {"op": "remove", "path": format!("{env}/0")},
            {"op": "add", "path": "/metadata/labels/sidecar.istio.io~1inject", "value": "true"},
            {"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/copied"},
            {"op": "move", "from": "/spec/template/spec/containers/1", "path": "/spec/template/spec/containers/0"}
        ]),
        PatchType::Json,
    )
    .unwrap();
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(
        containers(&d)[1]["env"],
        json!([{"name": "WORKERS", "value": "2"}, {"name": "TIMEOUT", "value": "3s"}])
    );
    assert_eq!(containers(&d)[0]["name"], "helper");
    assert_eq!(
        d["metadata"]["labels"],
        json!({"app": "recommendation", "sidecar.istio.io/inject": "true", "copied": "recommendation"})
    );
    let mut untouched = deployment();
    let err = apply_patch(
        &mut untouched,
        &json!([{"op": "replace", "path": "/spec/replicas", "value": 3},
                {"op": "replace", "path": "/spec/paused", "value": true}])
        .to_string(),
        PatchType::Json,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "operation 1 (replace /spec/paused): the path does not exist in the Deployment"
    );
    assert_eq!(untouched, deployment());
    let failed = patched(
        json!([{"op": "test", "path": "/spec/replicas", "value": 5}]),
        PatchType::Json,
    );
    assert_eq!(
        failed.unwrap_err(),
        "operation 0 (test /spec/replicas): test operation failed: the value at the path is not 5"
    );
}

#[test]
fn patch_types_are_kubectls() {
    for (name, want) in [
        ("strategic", PatchType::Strategic),
        ("merge", PatchType::Merge),
        ("json", PatchType::Json),
    ] {
        assert_eq!(name.parse::<PatchType>(), Ok(want));
    }
    assert_eq!(PatchType::default(), PatchType::Strategic);
    assert_eq!(
        "foo".parse::<PatchType>().unwrap_err(),
        "error: --type must be one of [json merge strategic], not \"foo\""
    );
}
