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
const TEMPLATE_ANNOTATION: &str = r"oc get deployment recommendation-v3 -n tutorial -o jsonpath={.spec.template.metadata.annotations.sidecar\.istio\.io/inject}";
/// `--without-sidecar`'s patch: the inject label removed (a strategic merge patch's null; unlike a JSON
/// patch's `remove` it also succeeds when the label is absent).
const REMOVE_LABEL: &str = r#"oc patch deployment recommendation-v3 -n tutorial -p {"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":null}}}}}"#;
const SMCP_LOOKUP: &str = r#"oc get smcp -A -o jsonpath={range .items[*]}{.metadata.namespace}{" "}{.metadata.name}{"\n"}{end}"#;
const ISTIO_LOOKUP: &str = "oc get istio -o jsonpath={.items[*].metadata.name}";
const NAMESPACE_LABELS: &str = "oc get namespace tutorial -o jsonpath={.metadata.labels}";
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

/// `--step 2 --without-sidecar --fix` on a cluster whose mesh answers MESH (fake-kube.sh rules): v3 starts
/// 1/1, then 2/2 once the fix is applied.
fn without_sidecar_then_fix(mesh: &str) -> (Sandbox, Run) {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{TIME_API_IP}{TIME_API_ANSWERS}{mesh}0!|oc get pods *version=v3*|{POD_1_OF_1}\n\
         0|oc get pods *version=v3*|{POD_2_OF_2}\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["--step", "2", "--without-sidecar", "--fix"],
    );
    (sandbox, run)
}

/// The printed command as the fake records it (without the shell's quotes).
fn issued(printed: &str) -> String {
    printed.replace('\'', "")
}

#[test]
fn step_2_without_sidecar_on_ossm_2_removes_the_label_and_fixes_with_the_blogs_annotation() {
    let (sandbox, run) = without_sidecar_then_fix(SMCP_FOUND);
    run.assert_code(0)
        .assert_stdout_has(&format!("    Fix: add the injection annotation; the pod restarts with 2/2:\n      {BLOG_PATCH_V3}\n"))
        .assert_stdout_has(&format!("$ {BLOG_PATCH_V3}\n"))
        .assert_stdout_has("the blog's annotation patch is the fix");
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            APPLY_V3,
            GET_IP,
            HOST_ALIAS_PATCH,
            SMCP_LOOKUP,
            REMOVE_LABEL,
            ROLLOUT_V3,
            PODS_V3,
            TEMPLATE_LABEL,      // which fix to print: no label,
            TEMPLATE_ANNOTATION, // no annotation either
            TEMPLATE_LABEL,      // which fix --fix applies
            TEMPLATE_ANNOTATION,
            &issued(BLOG_PATCH_V3),
            ROLLOUT_V3,
            PODS_V3,
            TIME_API_CHECK,
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!(
        "{FAIL} recommendation-v3-7b9c5d8f6d-x2x4q READY 1/1"
    )));
    assert_eq!(
        verdicts.last().unwrap(),
        &format!(
            "{PASS} step 2: the time API answers from the v3 pod (http://worldclockapi.com/api/json/cet/now)"
        )
    );
}

#[test]
fn step_2_without_sidecar_on_ossm_3_says_the_annotation_injects_nothing_and_fixes_with_the_label() {
    let namespace = "0|oc get namespace tutorial -o jsonpath=*|{\"kubernetes.io/metadata.name\":\"tutorial\"}\n";
    let (sandbox, run) =
        without_sidecar_then_fix(&format!("{SMCP_NO_CRD}{ISTIO_FOUND}{namespace}"));
    run.assert_code(0)
        .assert_stdout_has(&format!("    Fix: add the injection label; the pod restarts with 2/2:\n      {PATCH_V3}\n"))
        .assert_stdout_has("OSSM 3: the blog's annotation patch would start a new pod, 1/1 again: the webhook is called only for pods labelled sidecar.istio.io/inject=true");
    assert!(!run.stdout().contains(BLOG_PATCH_V3), "{}", run.all());
    let calls = sandbox.kube_calls();
    let tail: Vec<&str> = calls.iter().skip(4).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            SMCP_LOOKUP,
            ISTIO_LOOKUP,
            NAMESPACE_LABELS,
            REMOVE_LABEL,
            ROLLOUT_V3,
            PODS_V3,
            TEMPLATE_LABEL,
            TEMPLATE_LABEL,
            &issued(PATCH_V3),
            ROLLOUT_V3,
            PODS_V3,
            TIME_API_CHECK,
        ],
        "{}",
        run.all()
    );
}

#[test]
fn step_2_without_sidecar_in_a_namespace_labelled_for_injection_needs_the_label_false() {
    // A named revision: deploy.sh labelled the namespace, so every pod there gets a sidecar unless it refuses.
    let namespace = "0|oc get namespace tutorial -o jsonpath=*|{\"istio.io/rev\":\"default-v1-26-3\",\"kubernetes.io/metadata.name\":\"tutorial\"}\n";
    let rules = format!("{SMCP_NO_CRD}{ISTIO_FOUND}{namespace}0|{TEMPLATE_LABEL_RULE}|false\n");
    let (sandbox, run) = without_sidecar_then_fix(&rules);
    run.assert_code(0)
        .assert_stdout_has("every pod there gets a sidecar unless labelled \"false\"")
        .assert_stdout_has(PATCH_V3);
    let calls = sandbox.kube_calls();
    let (off, on) = (label_patch("false"), label_patch("true"));
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:?}"))
    };
    assert!(at(NAMESPACE_LABELS) < at(&off));
    assert!(at(&off) < at(&on));
    assert!(!calls.iter().any(|c| c == REMOVE_LABEL), "{calls:?}");
}

#[test]
fn step_2_without_sidecar_names_the_mesh_from_mesh_without_looking_it_up() {
    let mut sandbox = Sandbox::new();
    sandbox.set("SMCP_NAME", "basic");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{TIME_API_IP}0|oc get pods *version=v3*|{POD_1_OF_1}\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["--step", "2", "--without-sidecar", "--mesh", "ossm2"],
    );
    run.assert_code(1).assert_stdout_has(BLOG_PATCH_V3);
    assert!(
        !sandbox
            .kube_calls()
            .iter()
            .any(|c| c.starts_with("oc get smcp") || c.starts_with("oc get istio")),
        "{:?}",
        sandbox.kube_calls()
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
