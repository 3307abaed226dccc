//! Rehearsing with `--dry-run`: the commands a dry run prints are the ones a real run runs, and they can be
//! pasted. Each test runs a script for real against a fake cluster, then dry, pastes every printed `$ ` line
//! in order into one `sh` at the repository root (as into a trainer's terminal), and requires the pasted
//! lines to issue exactly the cluster calls the real run issued. The fake `oc` records the directory of each
//! call, so a printed `cd` that outlives its line shows as `cd <dir> && ...` on the calls after it.

use std::io::Write;
use std::process::Stdio;

use crate::sandbox::*;

const POD_1_OF_1: &str = "recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s";
const POD_2_OF_2: &str = "recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s";
/// The look-ups step 2 makes to choose the fix for a 1/1 pod (the template's inject label, on OSSM 2 also
/// its annotation) and, on OSSM 3, how the namespace injects; the dry run names its assumption instead.
const LOOK_UPS: [&str; 3] = [
    r"oc get deployment recommendation-v3 -n tutorial -o jsonpath={.spec.template.metadata.labels.sidecar\.istio\.io/inject}",
    r"oc get deployment recommendation-v3 -n tutorial -o jsonpath={.spec.template.metadata.annotations.sidecar\.istio\.io/inject}",
    "oc get namespace tutorial -o jsonpath={.metadata.labels}",
];

/// The commands a run printed, in order, without their `$ ` prompt.
pub(crate) fn printed(run: &Run) -> Vec<String> {
    run.stdout()
        .lines()
        .filter_map(|line| line.strip_prefix("$ "))
        .map(str::to_owned)
        .collect()
}

/// Paste LINES into one `sh` started at the repository root, the sandbox's fakes on PATH. No `set -e`: a
/// terminal goes on after a failed command.
pub(crate) fn paste(sandbox: &Sandbox, lines: &[String]) -> Run {
    let mut child = sandbox
        .command(&which("sh").expect("sh"), &repo_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sh");
    let mut script = lines.join("\n");
    script.push('\n');
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("paste");
    Run {
        output: child.wait_with_output().expect("sh ends"),
    }
}

/// The real run's calls as its printed lines name them: without its own login check (the first call), the
/// look-ups that pick step 2's fix, and `--no-headers`, which the script adds to the pod listing it parses
/// (printed as a trainer types it).
pub(crate) fn as_printed(mut calls: Vec<String>) -> Vec<String> {
    if calls.first().map(String::as_str) == Some(WHOAMI) {
        calls.remove(0);
    }
    calls
        .into_iter()
        .filter(|call| !LOOK_UPS.contains(&call.as_str()))
        .map(|call| call.replace(" --no-headers", ""))
        .collect()
}

/// Run SCRIPT ARGS for real and SCRIPT --dry-run ARGS in two sandboxes set up alike; paste the dry run's lines.
/// Returns the real run, the dry run, the paste, the real run's calls and the pasted lines' calls.
pub(crate) fn rehearse(
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
    rules: &str,
    bodies: &[&str],
) -> (Run, Run, Run, Vec<String>, Vec<String>) {
    let setup = || {
        let mut sandbox = Sandbox::new();
        for (key, value) in env {
            sandbox.set(key, value);
        }
        sandbox.scenario(rules);
        sandbox.answers(bodies);
        sandbox
    };
    let real = setup();
    let real_run = real.run(script, args);
    let dry = setup();
    let mut dry_args = vec!["--dry-run"];
    dry_args.extend_from_slice(args);
    let dry_run = dry.run(script, &dry_args);
    assert!(
        dry.kube_calls().is_empty(),
        "a dry run calls nothing: {:?}",
        dry.kube_calls()
    );
    let pasted = paste(&dry, &printed(&dry_run));
    (
        real_run,
        dry_run,
        pasted,
        as_printed(real.kube_calls()),
        dry.kube_calls(),
    )
}

pub(crate) fn assert_same_calls(
    real: &[String],
    pasted: &[String],
    dry_run: &Run,
    paste_run: &Run,
) {
    assert_eq!(
        pasted,
        real,
        "the dry run's lines, pasted in order (left), against the real run's calls (right)\n\
         --- dry run\n{}\n--- paste\n{}",
        dry_run.all(),
        paste_run.all()
    );
    assert_eq!(
        paste_run.stderr(),
        "",
        "every pasted line runs\n{}",
        paste_run.all()
    );
}

#[test]
fn egress_lab_all_dry_run_pasted_in_order_makes_the_real_runs_calls_by_each_mesh_method() {
    // A cluster on which every step ends ✔: the stand-in answers, v3 runs 2/2, the ServiceEntry reads 81
    // (step 5) then 80 (step 8), no record and no policy before step 10, the record "unset" at step 13,
    // and clean.sh finds the lab's VirtualService once.
    let rules = format!(
        "{WHOAMI_OK}0|oc -n istio-system get route istio-ingressgateway *|gateway.apps.example.test\n\
         {TIME_API_IP}{TIME_API_ANSWERS}0|oc get pods -n tutorial -l app=recommendation,version=v3*|{POD_2_OF_2}\n\
         0|oc get virtualservice recommendation -n tutorial *|version-v3\n\
         0!|oc get serviceentry worldclockapi-egress-rule *|81\n\
         0|oc get serviceentry worldclockapi-egress-rule *|80\n\
         0|oc get virtualservice worldclockapi-timeout *|3s\n\
         0!|oc get * -o jsonpath={{.metadata.annotations*|\n\
         0|oc get * -o jsonpath={{.metadata.annotations*|unset\n\
         0|oc -n istio-system get route kiali *|kiali-istio-system.apps.example.test\n\
         0!|oc get virtualservice -n tutorial -o name|virtualservice.networking.istio.io/customer-gateway\\nvirtualservice.networking.istio.io/recommendation\n\
         0|oc get virtualservice -n tutorial -o name|virtualservice.networking.istio.io/customer-gateway\n"
    );
    // One answer per poll and per request (LAB_COUNT 1, LAB_TIMEOUT 1): steps 1, 4, 7, 8, 9, 10, 11, 13.
    let bodies = [
        V1_BODY,
        V3_BODY,
        V3_BODY,
        EGRESS_ERROR_BODY,
        EGRESS_ERROR_BODY,
        V3_BODY,
        V3_BODY,
        V3_BODY,
        EGRESS_ERROR_BODY,
        EGRESS_ERROR_BODY,
        V3_BODY,
        V3_BODY,
        V1_BODY,
    ];
    for mesh in ["sidecar", "ossm2", "ossm3"] {
        let (real_run, dry_run, pasted, real, pasted_calls) = rehearse(
            "egress-lab.sh",
            &["--all", "--mesh", mesh],
            &[
                ("GATEWAY_URL", ""),
                ("LAB_COUNT", "1"),
                ("SMCP_NAME", "basic"),
                ("ISTIO_NAME", "default"),
            ],
            &rules,
            &bodies,
        );
        real_run.assert_code(0);
        assert!(
            real_run.verdicts().iter().all(|v| v.starts_with(PASS)),
            "{mesh}: the real run is green\n{}",
            real_run.all()
        );
        dry_run.assert_code(0);
        assert!(dry_run.verdicts().is_empty(), "{}", dry_run.all());
        assert_same_calls(&real, &pasted_calls, &dry_run, &pasted);
    }
}

#[test]
fn step_2_dry_run_without_sidecar_with_fix_prints_the_fix_the_real_run_applies_on_each_mesh() {
    // The v3 pod runs 1/1 (its template asks for nothing), then 2/2 once the fix is applied: on OSSM 2 the
    // blog's annotation patch, on OSSM 3 (namespace without injection label) the label patch.
    let rules = format!(
        "{WHOAMI_OK}{TIME_API_IP}{TIME_API_ANSWERS}0!|oc get pods *version=v3*|{POD_1_OF_1}\n\
         0|oc get pods *version=v3*|{POD_2_OF_2}\n\
         0|oc get namespace tutorial -o jsonpath=*|{{\"kubernetes.io/metadata.name\":\"tutorial\"}}\n"
    );
    for (mesh, fix) in [("ossm2", BLOG_PATCH_V3), ("ossm3", PATCH_V3)] {
        let (real_run, dry_run, pasted, real, pasted_calls) = rehearse(
            "egress-lab.sh",
            &["--step", "2", "--without-sidecar", "--fix", "--mesh", mesh],
            &[("SMCP_NAME", "basic"), ("ISTIO_NAME", "default")],
            &rules,
            &[V1_BODY],
        );
        real_run
            .assert_code(0)
            .assert_stdout_has(&format!("$ {fix}\n"));
        dry_run
            .assert_code(0)
            .assert_stdout_has(&format!("$ {fix}\n"));
        assert_same_calls(&real, &pasted_calls, &dry_run, &pasted);
    }
}

#[test]
fn step_2_dry_run_without_sidecar_stops_where_the_real_run_stops() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(
        "egress-lab.sh",
        &["--all", "--without-sidecar", "--dry-run"],
    );
    run.assert_code(1)
        .assert_stdout_has(&format!("the fix: {BLOG_PATCH_V3}"))
        .assert_stderr_has("Stopped at step 2");
    assert!(
        !run.stdout().contains(&format!("$ {BLOG_PATCH_V3}")),
        "{}",
        run.all()
    );
    assert!(!run.stdout().contains("==> Step 3"), "{}", run.all());
    assert!(sandbox.kube_calls().is_empty());
}
