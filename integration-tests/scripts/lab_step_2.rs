//! Egress lab step 2: v3 applied from inside recommendation/ as the tutorial does, pointed at the stand-in
//! time API, its sidecar checked (Terminating pods not counted, the right fix for a 1/1 pod), and the
//! pre-flight: the time API answers from the v3 pod.

use crate::sandbox::*;

const APPLY_V3: &str = "cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial";
const ROLLOUT_V3: &str =
    "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s";
const PODS_V3: &str = "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers";
const GET_IP: &str = "oc get service worldclock -n worldclock -o jsonpath={.spec.clusterIP}";
const TEMPLATE_LABEL: &str = r"oc get deployment recommendation-v3 -n tutorial -o jsonpath={.spec.template.metadata.labels.sidecar\.istio\.io/inject}";
/// The rule answering TEMPLATE_LABEL (a glob: its backslashes would escape in a pattern).
const TEMPLATE_LABEL_RULE: &str = "oc get deployment recommendation-v3 -n tutorial -o jsonpath=*";
const POD_1_OF_1: &str = "recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s";
const POD_2_OF_2: &str = "recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s";

/// The v3 pod starts 1/1 from a template labelled "false", then 2/2 once the label is fixed.
fn first_1_of_1_then_2_of_2() -> String {
    format!(
        "{WHOAMI_OK}{TIME_API_IP}{TIME_API_ANSWERS}0!|oc get pods *version=v3*|{POD_1_OF_1}\n\
         0|oc get pods *version=v3*|{POD_2_OF_2}\n0|{TEMPLATE_LABEL_RULE}|false\n"
    )
}

/// Run `egress-lab.sh --step 2 FLAGS...` against a fake cluster answering RULES.
fn step_2(rules: &str, flags: &[&str]) -> (Sandbox, Run) {
    let sandbox = Sandbox::new();
    sandbox.scenario(rules);
    let mut args = vec!["--step", "2"];
    args.extend_from_slice(flags);
    let run = sandbox.run("egress-lab.sh", &args);
    (sandbox, run)
}

fn label_patch(value: &str) -> String {
    format!(
        r#"oc patch deployment recommendation-v3 -n tutorial -p {{"spec":{{"template":{{"metadata":{{"labels":{{"sidecar.istio.io/inject":"{value}"}}}}}}}}}}"#
    )
}

#[test]
fn step_2_applies_v3_points_it_at_the_time_api_and_checks_sidecar_and_time() {
    // Arrange and act: the previous pod of an earlier run is still Terminating (real `oc get pods` STATUS).
    let (sandbox, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}{TIME_API_ANSWERS}0|oc get pods -n tutorial -l app=recommendation,version=v3 *|\
         recommendation-v3-6d4f8b9c7-old11   2/2   Terminating   0   6m\\n{POD_2_OF_2}\n"
        ),
        &[],
    );

    // Assert
    run.assert_code(0)
        .assert_stdout_has(&format!("$ ({APPLY_V3})"))
        .assert_stdout_has("recommendation-v3-6d4f8b9c7-old11 READY 2/2 (Terminating): the previous pod, going away; not counted.")
        .assert_stdout_has("\"currentDateTime\":\"2020-04-06T18:31+02:00\"");
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            APPLY_V3,
            GET_IP,
            HOST_ALIAS_PATCH,
            ROLLOUT_V3,
            PODS_V3,
            TIME_API_CHECK,
        ],
        &run,
    );
    assert_eq!(
        run.verdicts(),
        [
            format!(
                "{PASS} recommendation-v3-5f7d9c8b7-abcde READY 2/2 (Running): app and sidecar running."
            ),
            format!("{PASS} step 2: recommendation-v3 runs with its sidecar (2/2)"),
            format!(
                "{PASS} step 2: the time API answers from the v3 pod (http://worldclockapi.com/api/json/cet/now)"
            ),
        ]
    );
}

#[test]
fn step_2_fails_before_the_lab_when_the_time_api_does_not_answer() {
    // Arrange and act: curl inside the pod cannot connect; oc exec passes the command's exit status on.
    let (_, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}7|oc exec deployment/recommendation-v3 *|curl: (7) Failed to connect to worldclockapi.com port 80 after 2 ms: Couldn't connect to server\\ncommand terminated with exit code 7\n\
         0|oc get pods *version=v3*|{POD_2_OF_2}\n"
        ),
        &[],
    );

    // Assert
    run.assert_code(1)
        .assert_stdout_has("curl: (7) Failed to connect to worldclockapi.com port 80");
    let last = run.verdicts().pop().unwrap();
    assert!(
        last.starts_with(&format!(
            "{FAIL} step 2: the time API does not answer from the v3 pod"
        )),
        "{last}"
    );
}

#[test]
fn step_2_without_the_stand_in_says_how_to_deploy_it() {
    let (sandbox, run) = step_2(
        &format!(
            "{WHOAMI_OK}1|oc get service worldclock -n worldclock *|Error from server (NotFound): services \"worldclock\" not found\n"
        ),
        &[],
    );
    run.assert_code(1)
        .assert_stdout_has("sh scripts/deploy.sh")
        .assert_stdout_has("WORLDCLOCK_NAMESPACE=none");
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 2: no stand-in time API")));
    assert_calls(&sandbox.kube_calls(), &[WHOAMI, APPLY_V3, GET_IP], &run);
}

#[test]
fn step_2_prints_the_exact_label_patch_when_the_template_does_not_ask_for_a_sidecar() {
    let (sandbox, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}0|oc get pods *version=v3*|{POD_1_OF_1}\n0|{TEMPLATE_LABEL_RULE}|false\n"
        ),
        &[],
    );
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
        !sandbox
            .kube_calls()
            .iter()
            .any(|c| c.contains(" patch ") && c.contains("labels")),
        "without --fix the script only prints the patch"
    );
}

#[test]
fn step_2_prints_enrolment_and_a_restart_when_the_template_asks_already() {
    // Arrange and act: the label is there (as shipped), yet 1/1: the namespace was not in the mesh.
    let (_, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}0|oc get pods *version=v3*|{POD_1_OF_1}\n0|{TEMPLATE_LABEL_RULE}|true\n"
        ),
        &[],
    );

    // Assert
    run.assert_code(1)
        .assert_stdout_has("oc apply -f kubernetes/ossm2/service-mesh-member.yml -n tutorial")
        .assert_stdout_has("oc label namespace tutorial istio-injection=enabled")
        .assert_stdout_has("oc rollout restart deployment/recommendation-v3 -n tutorial");
    assert!(!run.stdout().contains(PATCH_V3), "{}", run.all());
}

#[test]
fn step_2_with_fix_patches_then_sees_2_of_2() {
    let (sandbox, run) = step_2(&first_1_of_1_then_2_of_2(), &["--fix"]);
    run.assert_code(0);
    let patch = label_patch("true");
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            APPLY_V3,
            GET_IP,
            HOST_ALIAS_PATCH,
            ROLLOUT_V3,
            PODS_V3,
            TEMPLATE_LABEL, // which fix to print
            TEMPLATE_LABEL, // which fix --fix applies
            &patch,
            ROLLOUT_V3,
            PODS_V3,
            TIME_API_CHECK,
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
fn step_2_without_sidecar_shows_the_blogs_1_of_1_and_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&first_1_of_1_then_2_of_2());
    let run = sandbox.run(
        "egress-lab.sh",
        &["--step", "2", "--without-sidecar", "--fix"],
    );
    run.assert_code(0).assert_stdout_has(PATCH_V3);
    let calls = sandbox.kube_calls();
    let (off, on) = (label_patch("false"), label_patch("true"));
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:?}"))
    };
    assert!(at(APPLY_V3) < at(&off));
    assert!(at(&off) < at(&on));
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
fn step_2_reports_an_image_pull_error_as_such() {
    // Arrange and act: the rollout never finishes because the kubelet cannot pull the image.
    let (_, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}1|oc rollout status deployment/recommendation-v3 *|error: timed out waiting for the condition\n\
         0|oc get pods -n tutorial -l app=recommendation,version=v3 -o jsonpath=*|recommendation-v3-7b9c5d8f6d-x2x4q ImagePullBackOff\n"
        ),
        &[],
    );

    // Assert
    run.assert_code(1)
        .assert_stdout_has("IMAGE_PREFIX=quay.io/you sh scripts/deploy.sh");
    assert_eq!(
        run.verdicts()[0],
        format!(
            "{FAIL} deployment recommendation-v3: pod recommendation-v3-7b9c5d8f6d-x2x4q cannot pull its image (ImagePullBackOff)."
        )
    );
    assert!(!run.stdout().contains("not rolled out within"));
}

#[test]
fn step_2_with_fix_restarts_the_pod_when_the_template_asks_already() {
    // Arrange and act: labelled "true" yet 1/1 (the namespace joined the mesh after the pod started).
    let (sandbox, run) = step_2(
        &format!(
            "{WHOAMI_OK}{TIME_API_IP}{TIME_API_ANSWERS}0!|oc get pods *version=v3*|{POD_1_OF_1}\n\
         0|oc get pods *version=v3*|{POD_2_OF_2}\n0|{TEMPLATE_LABEL_RULE}|true\n"
        ),
        &["--fix"],
    );

    // Assert
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert!(
        calls.contains(&"oc rollout restart deployment/recommendation-v3 -n tutorial".to_owned()),
        "{calls:#?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.contains(" patch ") && c.contains("labels"))
    );
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 2"))
    );
}
