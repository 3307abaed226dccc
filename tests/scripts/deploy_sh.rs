//! deploy.sh against a fake cluster that answers like a real one.

use crate::sandbox::*;

#[test]
fn deploy_sh_applies_waits_and_prints_the_patch_for_a_pod_without_sidecar() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods -n demo -l app=customer*|customer-6b8f9c7d5-aaaaa   2/2   Running   0   1m\n\
         0|oc get pods -n demo -l app=preference*|preference-v1-7c9d8b6f5-bbbbb   2/2   Running   0   1m\n\
         0|oc get pods -n demo -l app=recommendation*|recommendation-v1-6cf5ff55d9-7zbj8   1/1   Running   0   1m\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("deploy.sh", &["demo"]);
    run.assert_code(1)
        .assert_stdout_has(r#"oc patch deployment recommendation-v1 -n demo -p '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}'"#)
        .assert_stdout_has("export GATEWAY_URL=gateway.apps.example.test");
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc get namespace demo",
            "oc apply -f customer/kubernetes/Deployment.yml -n demo",
            "oc apply -f customer/kubernetes/Service.yml -n demo",
            "oc apply -f preference/kubernetes/Deployment.yml -n demo",
            "oc apply -f preference/kubernetes/Service.yml -n demo",
            "oc apply -f recommendation/kubernetes/Deployment.yml -n demo",
            "oc apply -f recommendation/kubernetes/Service.yml -n demo",
            "oc apply -f kubernetes/app/customer-gateway.yml -n demo",
            "oc rollout status deployment/customer -n demo --timeout=180s",
            "oc rollout status deployment/preference-v1 -n demo --timeout=180s",
            "oc rollout status deployment/recommendation-v1 -n demo --timeout=180s",
            "oc get pods -n demo -l app=customer,version=v1 --no-headers",
            "oc get pods -n demo -l app=preference,version=v1 --no-headers",
            "oc get pods -n demo -l app=recommendation,version=v1 --no-headers",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!("{PASS} customer-6b8f9c7d5-aaaaa READY 2/2")));
    assert!(verdicts[2].starts_with(&format!(
        "{FAIL} recommendation-v1-6cf5ff55d9-7zbj8 READY 1/1"
    )));
    assert!(verdicts.last().unwrap().starts_with(FAIL));
}

#[test]
fn deploy_sh_creates_a_missing_project_and_ends_green() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc get namespace tutorial|Error from server (NotFound): namespaces \"tutorial\" not found\n\
         0|oc get pods *|some-pod-1   2/2   Running   0   1m\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("deploy.sh", &["--with-v2"]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert_eq!(calls[2], "oc new-project tutorial --skip-config-write");
    assert!(calls.contains(
        &"oc apply -f recommendation/kubernetes/Deployment-v2.yml -n tutorial".to_owned()
    ));
    assert!(calls.contains(
        &"oc rollout status deployment/recommendation-v2 -n tutorial --timeout=180s".to_owned()
    ));
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} deployed in tutorial"))
    );
}

#[test]
fn deploy_sh_dry_run_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("deploy.sh", &["--dry-run", "x"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc apply -f customer/kubernetes/Deployment.yml -n x");
    assert!(sandbox.kube_calls().is_empty());
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn deploy_sh_points_images_at_image_prefix() {
    let mut sandbox = Sandbox::new();
    sandbox
        .set("IMAGE_PREFIX", "quay.io/trainer")
        .set("IMAGE_TAG", "0.1.0");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods *|some-pod-1   2/2   Running   0   1m\n"
    ));
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    for (dep, container) in [
        ("customer", "customer"),
        ("preference-v1", "preference"),
        ("recommendation-v1", "recommendation"),
    ] {
        let want = format!(
            "oc set image deployment/{dep} {container}=quay.io/trainer/{container}:0.1.0 -n tutorial"
        );
        assert!(calls.contains(&want), "{want} not in {calls:?}");
    }
}
