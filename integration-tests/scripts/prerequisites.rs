//! Prerequisites: oc/kubectl detection and login.

use crate::sandbox::*;

#[test]
fn missing_oc_and_kubectl_gives_a_clear_error() {
    let sandbox = Sandbox::with_fakes(&["curl"]);
    for (script, args) in [
        ("egress-lab.sh", &["--step", "1"][..]),
        ("deploy.sh", &[][..]),
        ("clean.sh", &["tutorial"][..]),
    ] {
        let run = sandbox.run(script, args);
        run.assert_code(127)
            .assert_stderr_has("neither oc nor kubectl found")
            .assert_stderr_has("KUBECTL=");
    }
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn kubectl_env_var_that_does_not_exist_is_named() {
    let mut sandbox = Sandbox::new();
    sandbox.set("KUBECTL", "/nowhere/oc");
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(127)
        .assert_stderr_has("KUBECTL=/nowhere/oc");
    assert!(sandbox.kube_calls().is_empty());
}

#[test]
fn not_logged_in_stops_with_the_login_fix() {
    let sandbox = Sandbox::new();
    sandbox.scenario("1|oc whoami|error: You must be logged in to the server (Unauthorized)\n");
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(1)
        .assert_stderr_has("not logged in")
        .assert_stderr_has("oc login");
    assert_calls(&sandbox.kube_calls(), &[WHOAMI], &run);
}

#[test]
fn kubectl_is_used_when_oc_is_absent_and_checks_access() {
    let sandbox = Sandbox::with_fakes(&["kubectl", "curl"]);
    sandbox.scenario("0|kubectl get virtualservice recommendation *|version-v3\n");
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            "kubectl auth can-i get pods -n tutorial",
            "kubectl apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial",
            "kubectl apply -f istio/virtual-service-recommendation-v3.yml -n tutorial",
            "kubectl get virtualservice recommendation -n tutorial -o jsonpath={.spec.http[0].route[0].destination.subset}",
        ],
        &run,
    );
}
