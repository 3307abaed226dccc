//! Egress lab steps 10 and 13: the REGISTRY_ONLY switch by each method, and the revert that restores the
//! policy in force before (recorded on the control-plane resource, once), never ALLOW_ANY whatever it was.

use crate::sandbox::*;

const ANNOTATION: &str = "istio-tutorial-rs/outbound-policy-before";

#[test]
fn step_10_records_the_policy_in_force_then_switches_by_each_method() {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "ossm2",
            // A control plane that is not `basic`, found by oc get smcp -A; policy unset before.
            SMCP_FOUND,
            &[
                "oc get smcp -A -o jsonpath={range .items[*]}{.metadata.namespace}{\" \"}{.metadata.name}{\"\\n\"}{end}",
                "oc get smcp production -n istio-system -o jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
                "oc get smcp production -n istio-system -o jsonpath={.spec.proxy.networking.trafficControl.outbound.policy}",
                "oc annotate smcp production -n istio-system istio-tutorial-rs/outbound-policy-before=unset",
                "oc patch smcp production -n istio-system --type merge --patch-file istio/registry-only-ossm2-smcp-patch.yml",
            ],
        ),
        (
            "ossm3",
            "0|oc get istio -o jsonpath={.items*|default\n0|oc get istio default -o jsonpath={.spec.values*|ALLOW_ANY\n",
            &[
                "oc get istio -o jsonpath={.items[*].metadata.name}",
                "oc get istio default -o jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
                "oc get istio default -o jsonpath={.spec.values.meshConfig.outboundTrafficPolicy.mode}",
                "oc annotate istio default istio-tutorial-rs/outbound-policy-before=ALLOW_ANY",
                "oc patch istio default --type merge --patch-file istio/registry-only-ossm3-istio-patch.yml",
            ],
        ),
        (
            "sidecar",
            "",
            &["oc apply -f istio/sidecar-registry-only.yml -n tutorial"],
        ),
    ];
    for (mesh, rules, commands) in cases {
        let sandbox = Sandbox::new();
        sandbox.scenario(&format!("{WHOAMI_OK}{rules}"));
        sandbox.answers(&[EGRESS_ERROR_BODY]);
        let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", mesh]);
        run.assert_code(0);
        let mut expected = vec![WHOAMI];
        expected.extend_from_slice(commands);
        assert_calls(&sandbox.kube_calls(), &expected, &run);
        assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 10: 1/1")));
    }
}

#[test]
fn step_10_run_again_keeps_the_first_record_so_step_13_restores_the_policy_from_before_the_lab() {
    // Arrange: the first step 10 recorded ALLOW_ANY and switched the mesh; then a later step failed and the
    // trainer goes on, as the script says, with --from 10: REGISTRY_ONLY is in force, the lab's own doing.
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "1");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{ISTIO_FOUND}0|oc get istio default -o jsonpath={{.metadata.annotations*|ALLOW_ANY\n\
         0|oc get istio default -o jsonpath={{.spec.values*|REGISTRY_ONLY\n\
         0|oc -n istio-system get route kiali *|kiali-istio-system.apps.example.test\n\
         0|oc get virtualservice -n tutorial -o name|virtualservice.networking.istio.io/customer-gateway\n"
    ));
    sandbox.answers(&[
        EGRESS_ERROR_BODY,
        EGRESS_ERROR_BODY, // step 10: blocked
        V3_BODY,
        V3_BODY, // step 11: allowed again
        V1_BODY, // step 13: the baseline
    ]);

    // Act
    let run = sandbox.run("egress-lab.sh", &["--from", "10", "--mesh", "ossm3"]);

    // Assert: the record stays ALLOW_ANY (no annotate in step 10), and step 13 sets ALLOW_ANY again.
    run.assert_code(0).assert_stdout_has(
        "step 10 ran before: it recorded ALLOW_ANY as the policy before the lab; that record stays, for step 13",
    );
    let get_record =
        format!("oc get istio default -o jsonpath={{.metadata.annotations.{ANNOTATION}}}");
    let forget = format!("oc annotate istio default {ANNOTATION}-");
    let calls = sandbox.kube_calls();
    let want: &[&str] = &[
        WHOAMI,
        "oc get istio -o jsonpath={.items[*].metadata.name}",
        &get_record,
        "oc patch istio default --type merge --patch-file istio/registry-only-ossm3-istio-patch.yml",
        "oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial",
        "oc -n istio-system get route kiali -o jsonpath={.spec.host}",
        &get_record,
        "oc patch istio default --type merge --patch-file istio/allow-any-ossm3-istio-patch.yml",
        &forget,
    ];
    assert_calls(&calls[..want.len().min(calls.len())], want, &run);
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("annotate") && c.contains("REGISTRY_ONLY")),
        "{calls:#?}"
    );
    assert!(
        run.verdicts().iter().all(|v| v.starts_with(PASS)),
        "{}",
        run.all()
    );
}

#[test]
fn step_13_restores_the_recorded_policy_not_allow_any_unconditionally() {
    let patch_allow_any =
        "oc patch istio default --type merge --patch-file istio/allow-any-ossm3-istio-patch.yml";
    let unset = r#"oc patch istio default --type merge -p {"spec":{"values":{"meshConfig":{"outboundTrafficPolicy":null}}}}"#;
    let remove = format!("oc annotate istio default {ANNOTATION}-");
    let cases: [(&str, &str, Vec<&str>); 3] = [
        (
            "ALLOW_ANY",
            "ALLOW_ANY was set before: set it again",
            vec![patch_allow_any, &remove],
        ),
        (
            "REGISTRY_ONLY",
            "the cluster was REGISTRY_ONLY before the lab: leave it",
            vec![&remove],
        ),
        (
            "unset",
            "no policy before: remove the field again",
            vec![unset, &remove],
        ),
    ];
    for (before, reason, commands) in cases {
        // Arrange
        let sandbox = Sandbox::new();
        sandbox.scenario(&format!(
            "{WHOAMI_OK}{ISTIO_FOUND}0|oc get istio default -o jsonpath={{.metadata.annotations*|{before}\n\
             0|oc get virtualservice -n tutorial -o name|virtualservice.networking.istio.io/customer-gateway\n"
        ));
        sandbox.answers(&[V1_BODY]);

        // Act
        let run = sandbox.run("egress-lab.sh", &["--step", "13", "--mesh", "ossm3"]);

        // Assert
        run.assert_code(0)
            .assert_stdout_has("$ sh scripts/clean.sh tutorial");
        let calls = sandbox.kube_calls();
        let mut want = vec![
            WHOAMI,
            "oc get istio -o jsonpath={.items[*].metadata.name}",
            "oc get istio default -o jsonpath={.metadata.annotations.istio-tutorial-rs/outbound-policy-before}",
        ];
        want.extend(commands.iter().copied());
        assert_eq!(&calls[..want.len()], &want[..], "{reason}\n{}", run.all());
        assert!(
            calls.contains(
                &"oc delete deployment recommendation-v3 -n tutorial --ignore-not-found".to_owned()
            ),
            "{reason}"
        );
        assert!(
            run.verdicts()
                .last()
                .unwrap()
                .starts_with(&format!("{PASS} step 13")),
            "{reason}"
        );
    }
}

#[test]
fn step_13_with_the_sidecar_method_applies_allow_any() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    let run = sandbox.run("egress-lab.sh", &["--step", "13", "--mesh", "sidecar"]);
    run.assert_code(0);
    assert_eq!(
        sandbox.kube_calls()[1],
        "oc apply -f istio/sidecar-allow-any.yml -n tutorial"
    );
}

#[test]
fn ossm2_without_a_control_plane_says_how_to_name_one() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!("{WHOAMI_OK}{SMCP_NO_CRD}{ISTIO_NO_CRD}"));
    let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", "ossm2"]);
    run.assert_code(1)
        .assert_stderr_has("found no ServiceMeshControlPlane")
        .assert_stderr_has("SMCP_NAME=");
}

#[test]
fn the_blogs_configmap_command_is_history_not_a_switch() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", "configmap"]);
    run.assert_code(2)
        .assert_stderr_has("istio-<control plane>")
        .assert_stderr_has("no 'mode:' line")
        .assert_stderr_has("operators undo hand edits");
    assert!(sandbox.kube_calls().is_empty());
}
