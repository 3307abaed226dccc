//! Egress lab steps 1, 3 and 4: baseline, routing to v3, traffic with egress open (step 2: lab_step_2.rs).

use crate::sandbox::*;

#[test]
fn step_1_baseline_reads_the_gateway_route_and_checks_the_chain() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc -n istio-system get route istio-ingressgateway *|istio-ingressgateway-istio-system.apps.example.test\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(0)
        .assert_stdout_has("$ GATEWAY_URL=$(oc -n istio-system get route istio-ingressgateway -o jsonpath='{.spec.host}')")
        .assert_stdout_has(V1_BODY);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc -n istio-system get route istio-ingressgateway -o jsonpath={.spec.host}",
        ],
        &run,
    );
    assert!(
        sandbox.curl_calls()[0]
            .ends_with(" http://istio-ingressgateway-istio-system.apps.example.test")
    );
    assert_eq!(run.verdicts().len(), 1);
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 1")));
}

#[test]
fn step_3_routes_recommendation_to_v3() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get virtualservice recommendation *|version-v3\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial",
            "oc apply -f istio/virtual-service-recommendation-v3.yml -n tutorial",
            "oc get virtualservice recommendation -n tutorial -o jsonpath={.spec.http[0].route[0].destination.subset}",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 3")));
}

#[test]
fn step_3_verdict_fails_when_the_route_is_not_v3() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get virtualservice recommendation *|version-v1\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(1);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 3")));
}

#[test]
fn step_4_runs_run_sh_and_checks_every_line_is_v3() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "3");
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(0)
        .assert_stdout_has("$ sh scripts/run.sh 3 gateway.apps.example.test")
        .assert_stdout_has(&format!("# 0: {V3_BODY}\n# 1: {V3_BODY}\n# 2: {V3_BODY}\n"));
    assert_eq!(
        run.verdicts(),
        [format!(
            "{PASS} step 4: 3/3 answers match: customer => preference => recommendation v3 <time> from '<pod>': <n>"
        )]
    );
    assert_calls(&sandbox.kube_calls(), &[WHOAMI], &run);
}

#[test]
fn step_4_verdict_turns_red_when_the_answers_do_not_match() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "3");
    sandbox.scenario(WHOAMI_OK);
    // Still v1 (no VirtualService to v3): the poll gives up after LAB_TIMEOUT.
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(1).assert_stdout_has(V1_BODY);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 4")));
    // One v3 answer, then the error chain: the poll is satisfied, run.sh's lines are not.
    sandbox.answers(&[V3_BODY, V3_BODY, EGRESS_ERROR_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(1).assert_stdout_has(&format!(
        "first one that does not: # 1: {EGRESS_ERROR_BODY}"
    ));
    assert!(
        run.verdicts()[0].starts_with(&format!("{FAIL} step 4: 1/3 answers match")),
        "{:?}",
        run.verdicts()
    );
}

#[test]
fn gateway_url_falls_back_to_the_ossm3_gateway_namespace() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc -n istio-system get route *|Error from server (NotFound)\n\
         0|oc -n istio-ingress get route istio-ingressgateway *|gw-istio-ingress.apps.example.test\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(0);
    assert!(sandbox.curl_calls()[0].ends_with(" http://gw-istio-ingress.apps.example.test"));
    // No Route anywhere: the fix is named.
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc -n * get route *|Error from server (NotFound)\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(1).assert_stderr_has("export GATEWAY_URL=");
}
