//! clean.sh: its namespace argument, what it keeps, its verdict.

use crate::lab_dry_run::{assert_same_calls, rehearse};
use crate::sandbox::*;

#[test]
fn clean_sh_uses_its_namespace_argument_and_keeps_the_ingress_route() {
    let sandbox = Sandbox::new();
    // First listing: before deleting; second listing: what is left.
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\\nvirtualservice.networking.istio.io/recommendation\\nvirtualservice.networking.istio.io/worldclockapi-timeout\n\
         0|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\n"
    ));
    let run = sandbox.run("clean.sh", &["class7"]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert_eq!(
        &calls[..10],
        &[
            WHOAMI,
            "oc get virtualservice -n class7 -o name",
            "oc delete virtualservice.networking.istio.io/recommendation -n class7 --ignore-not-found",
            "oc delete virtualservice.networking.istio.io/worldclockapi-timeout -n class7 --ignore-not-found",
            "oc delete destinationrule --all -n class7 --ignore-not-found",
            "oc delete serviceentry --all -n class7 --ignore-not-found",
            "oc delete sidecar --all -n class7 --ignore-not-found",
            "oc delete peerauthentication --all -n class7 --ignore-not-found",
            "oc delete authorizationpolicy --all -n class7 --ignore-not-found",
            "oc delete requestauthentication --all -n class7 --ignore-not-found",
        ],
        "{}",
        run.all()
    );
    assert!(calls.contains(
        &"oc delete deployment recommendation-v3 -n class7 --ignore-not-found".to_owned()
    ));
    assert!(!calls.iter().any(|c| c.contains("customer-gateway")));
    for call in calls.iter().skip(1) {
        assert!(call.contains(" -n class7"), "{call}");
    }
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} namespace class7")));
}

#[test]
fn clean_sh_verdict_names_what_is_left() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry -n tutorial -o name|serviceentry.networking.istio.io/worldclockapi-egress-rule\n"
    ));
    let run = sandbox.run("clean.sh", &[]);
    run.assert_code(1)
        .assert_stdout_has("worldclockapi-egress-rule");
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} namespace tutorial still has")));
}

#[test]
fn clean_sh_dry_run_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("clean.sh", &["--dry-run", "class9"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc delete deployment recommendation-v3 -n class9 --ignore-not-found");
    assert!(
        sandbox.kube_calls().is_empty(),
        "{:?}",
        sandbox.kube_calls()
    );
}

#[test]
fn clean_sh_dry_run_pasted_in_order_deletes_what_the_real_run_deletes() {
    let rules = format!(
        "{WHOAMI_OK}0!|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\\nvirtualservice.networking.istio.io/recommendation\\nvirtualservice.networking.istio.io/worldclockapi-timeout\n\
         0|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\n"
    );
    let (real_run, dry_run, pasted, real, pasted_calls) =
        rehearse("clean.sh", &["class7"], &[], &rules, &[V1_BODY]);
    real_run.assert_code(0);
    dry_run.assert_code(0);
    assert_same_calls(&real, &pasted_calls, &dry_run, &pasted);
}
