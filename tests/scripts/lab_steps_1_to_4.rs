//! Egress lab steps 1 to 4: baseline, v3 and its sidecar, routing to v3, traffic with egress open.

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
fn step_2_applies_v3_from_recommendation_dir_and_sees_the_sidecar() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods -n tutorial -l app=recommendation,version=v3 *|recommendation-v3-7b9c5d8f6d-x2x4q   2/2   Running   0   41s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2"]);
    run.assert_code(0).assert_stdout_has(
        "$ cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
    );
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert!(verdicts.iter().all(|v| v.starts_with(PASS)), "{verdicts:?}");
    assert!(!run.stdout().contains("oc patch"));
}

#[test]
fn step_2_prints_the_exact_patch_when_the_pod_runs_1_of_1() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2"]);
    run.assert_code(1).assert_stdout_has(PATCH_V3);
    let verdicts = run.verdicts();
    assert!(
        verdicts[0].starts_with(&format!(
            "{FAIL} recommendation-v3-7b9c5d8f6d-x2x4q READY 1/1"
        )),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .last()
            .unwrap()
            .starts_with(&format!("{FAIL} step 2"))
    );
    assert!(
        !sandbox.kube_calls().iter().any(|c| c.contains(" patch ")),
        "without --fix the script only prints the patch"
    );
}

#[test]
fn step_2_with_fix_patches_then_sees_2_of_2() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n\
         0|oc get pods *version=v3*|recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2", "--fix"]);
    run.assert_code(0);
    let patch = r#"oc patch deployment recommendation-v3 -n tutorial -p {"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#;
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
            patch,
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
        ],
        &run,
    );
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 2"))
    );
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
fn step_2_without_sidecar_shows_the_blogs_1_of_1_and_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n\
         0|oc get pods *version=v3*|recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["--step", "2", "--without-sidecar", "--fix"],
    );
    run.assert_code(0).assert_stdout_has(PATCH_V3);
    let calls = sandbox.kube_calls();
    let off = r#"oc patch deployment recommendation-v3 -n tutorial -p {"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"false"}}}}}"#;
    let on = off.replace("\"false\"", "\"true\"");
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:?}"))
    };
    assert!(
        at("cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial") < at(off)
    );
    assert!(at(off) < at(&on));
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!(
        "{FAIL} recommendation-v3-7b9c5d8f6d-x2x4q READY 1/1"
    )));
    assert!(
        verdicts
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 2"))
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
