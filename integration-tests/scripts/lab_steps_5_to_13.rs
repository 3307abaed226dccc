//! Egress lab steps 5 to 13 (ServiceEntry, timeout, REGISTRY_ONLY, Kiali, revert) and whole-lab runs.

use crate::sandbox::*;

#[test]
fn steps_5_and_6_apply_the_wrong_port_service_entry_and_the_timeout() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry worldclockapi-egress-rule *|81\n\
         0|oc get virtualservice worldclockapi-timeout *|3s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "5", "--step", "6"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml -n tutorial",
            "oc get serviceentry worldclockapi-egress-rule -n tutorial -o jsonpath={.spec.ports[*].number}",
            "oc apply -f istio/virtual-service-worldclockapi-timeout.yml -n tutorial",
            "oc get virtualservice worldclockapi-timeout -n tutorial -o jsonpath={.spec.http[0].timeout}",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.starts_with(PASS)), "{verdicts:?}");
}

#[test]
fn step_7_expects_the_error_chain() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    // The first answer is still v3 (config not there yet): the step polls until the error shows.
    sandbox.answers(&[V3_BODY, EGRESS_ERROR_BODY]);
    let mut sandbox = sandbox;
    sandbox.set("LAB_TIMEOUT", "2");
    let run = sandbox.run("egress-lab.sh", &["--step", "7"]);
    run.assert_code(0)
        .assert_stdout_has("$ sh scripts/run.sh 1 gateway.apps.example.test")
        .assert_stdout_has(&format!("# 0: {EGRESS_ERROR_BODY}\n"));
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 7: 1/1")));
    // And red when the call still succeeds.
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "7"]);
    run.assert_code(1);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 7")));
}

#[test]
fn step_8_fixes_the_port_and_sees_v3_again() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "2");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry worldclockapi-egress-rule *|80\n"
    ));
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "8"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial",
            "oc get serviceentry worldclockapi-egress-rule -n tutorial -o jsonpath={.spec.ports[*].number}",
        ],
        &run,
    );
    assert_eq!(run.verdicts().len(), 2);
    assert!(run.verdicts().iter().all(|v| v.starts_with(PASS)));
}

#[test]
fn step_9_deletes_the_service_entry_and_the_timeout() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "9"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc delete serviceentry worldclockapi-egress-rule -n tutorial --ignore-not-found",
            "oc delete virtualservice worldclockapi-timeout -n tutorial --ignore-not-found",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 9")));
}

#[test]
fn step_10_rejects_an_unknown_mesh() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", "ossm4"]);
    run.assert_code(2).assert_stderr_has("--mesh must be");
    assert!(sandbox.kube_calls().is_empty());
}

#[test]
fn step_11_recreates_the_service_entry() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "2");
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "11"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 11: 2/2")));
}

#[test]
fn step_12_prints_the_kiali_url() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc -n istio-system get route kiali *|kiali-istio-system.apps.example.test\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "12"]);
    run.assert_code(0)
        .assert_stdout_has("https://kiali-istio-system.apps.example.test");
}

#[test]
fn all_steps_with_dry_run_print_every_command_and_run_nothing() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    let run = sandbox.run("egress-lab.sh", &["--all", "--dry-run", "--mesh", "ossm2"]);
    run.assert_code(0);
    assert!(
        sandbox.kube_calls().is_empty(),
        "{:?}",
        sandbox.kube_calls()
    );
    assert!(
        sandbox.curl_calls().is_empty(),
        "{:?}",
        sandbox.curl_calls()
    );
    let out = run.stdout();
    for step in 1..=13 {
        assert!(
            out.contains(&format!("==> Step {step}:")),
            "step {step} missing\n{out}"
        );
    }
    assert!(
        run.verdicts().is_empty(),
        "a dry run has no verdicts: {:?}",
        run.verdicts()
    );
    for line in [
        "$ GATEWAY_URL=$(oc -n istio-system get route istio-ingressgateway -o jsonpath='{.spec.host}')",
        "$ curl $GATEWAY_URL",
        "$ (cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial)",
        "$ oc apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml -n tutorial",
        "$ sh scripts/run.sh 10 $GATEWAY_URL",
        "$ sh scripts/run.sh 1 $GATEWAY_URL",
        "$ oc delete serviceentry worldclockapi-egress-rule -n tutorial --ignore-not-found",
        "$ oc patch smcp basic -n istio-system --type merge --patch-file istio/registry-only-ossm2-smcp-patch.yml",
        "$ WORLDCLOCK_IP=$(oc get service worldclock -n worldclock -o jsonpath='{.spec.clusterIP}')",
        "$ sh scripts/clean.sh tutorial",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line {line:?}\n{out}"
        );
    }
}

#[test]
fn all_steps_stop_at_the_first_red_verdict() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&["curl: (7) Failed to connect to gateway.apps.example.test port 80"]);
    let run = sandbox.run("egress-lab.sh", &["--all"]);
    run.assert_code(1)
        .assert_stderr_has("Stopped at step 1")
        .assert_stderr_has("--from 1");
    assert!(!run.stdout().contains("==> Step 2"));
}

#[test]
fn namespace_option_reaches_every_command() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry *|81\n0|oc get virtualservice worldclockapi-timeout *|3s\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["-n", "lab42", "--step", "5", "--step", "6", "--step", "9"],
    );
    run.assert_code(1); // step 9 has no v3 answer (fake answers v1): fine, commands are what we check
    let calls = sandbox.kube_calls();
    assert!(calls.len() > 3, "{calls:?}");
    for call in calls.iter().skip(1) {
        assert!(call.contains(" -n lab42"), "{call}");
        assert!(!call.contains("tutorial"), "{call}");
    }
}
