//! deploy.sh against the glob fake (fake-kube.sh) for the fine-grained answers: no mesh, a refused member,
//! nothing staged, pull errors, Terminating pods, 1/1 fixes, IMAGE_PREFIX. The whole flow on each profile,
//! and the platform rules, run on the stateful fake OpenShift: deploy_openshift.rs.

use crate::sandbox::*;

const POD_CUSTOMER: &str = "customer-6b8f9c7d5-aaaaa   2/2   Running   0   1m";
const POD_PREFERENCE: &str = "preference-v1-7c9d8b6f5-bbbbb   2/2   Running   0   1m";
const POD_RECOMMENDATION: &str = "recommendation-v1-6cf5ff55d9-7zbj8   2/2   Running   0   1m";

/// Every image built already (`oc get imagestreamtag` finds it), every account with its pull secret, and
/// every app pod 2/2.
fn healthy(ns: &str) -> String {
    format!(
        "0|oc get serviceaccount *|default-dockercfg-x7k2p\n\
         0|oc get pods -n {ns} -l app=customer*|{POD_CUSTOMER}\n\
         0|oc get pods -n {ns} -l app=preference*|{POD_PREFERENCE}\n\
         0|oc get pods -n {ns} -l app=recommendation*|{POD_RECOMMENDATION}\n"
    )
}

/// `oc get imagestreamtag NAME:0.1.0` before the first build.
fn not_built(name: &str) -> String {
    format!(
        "1|oc get imagestreamtag {name}:0.1.0 *|Error from server (NotFound): imagestreamtags.image.openshift.io \"{name}:0.1.0\" not found\n"
    )
}

#[test]
fn deploy_sh_without_any_mesh_says_how_to_get_one() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!("{WHOAMI_OK}{SMCP_NO_CRD}{ISTIO_NO_CRD}"));
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(1)
        .assert_stderr_has("found no ServiceMeshControlPlane")
        .assert_stderr_has("kubernetes/ossm3/control-plane.yml");
}

#[test]
fn deploy_sh_names_the_mesh_user_role_when_the_member_is_refused() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_FOUND}1|oc apply -n tutorial -f -|Error from server (Forbidden): error when creating \"STDIN\": servicemeshmembers.maistra.io \"default\" is forbidden: user 'developer' does not have permission to use ServiceMeshControlPlane istio-system/production\n"
    ));
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(1)
        .assert_stderr_has("does not have permission to use ServiceMeshControlPlane")
        .assert_stderr_has("oc policy add-role-to-user mesh-user <you> --role-namespace istio-system -n istio-system");
}

#[test]
fn deploy_sh_without_staged_images_says_how_to_stage_them() {
    let mut sandbox = Sandbox::new();
    sandbox.set("CARGO_TARGET_DIR", "/nonexistent-target");
    sandbox.scenario(&format!("{WHOAMI_OK}{SMCP_FOUND}{}", not_built("customer")));
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(1)
        .assert_stderr_has("/nonexistent-target/images/customer is not staged")
        .assert_stderr_has("sh scripts/images.sh --stage-only");
    assert!(
        !sandbox
            .kube_calls()
            .iter()
            .any(|c| c.contains("start-build"))
    );
}

#[test]
fn deploy_sh_reports_image_pull_errors_not_a_rollout_timeout() {
    // Arrange: customer's image cannot be pulled (state.waiting.reason of its app container).
    let mut sandbox = Sandbox::new();
    sandbox.stage_images();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_FOUND}1|oc rollout status deployment/customer *|error: timed out waiting for the condition\n\
         0|oc get pods -n tutorial -l app=customer,version=v1 -o jsonpath=*|customer-6b8f9c7d5-aaaaa ErrImagePull\n\
         0|oc get pods -n tutorial -l app=customer*|customer-6b8f9c7d5-aaaaa   1/2   ErrImagePull   0   3m\n{}",
        healthy("tutorial")
    ));
    sandbox.answers(&[V1_BODY]);

    // Act
    let run = sandbox.run("deploy.sh", &[]);

    // Assert
    run.assert_code(1);
    let verdicts = run.verdicts();
    assert!(
        verdicts.contains(&format!(
            "{FAIL} deployment customer: pod customer-6b8f9c7d5-aaaaa cannot pull its image (ErrImagePull)."
        )),
        "{verdicts:#?}"
    );
    assert!(verdicts.contains(&format!(
        "{FAIL} customer-6b8f9c7d5-aaaaa READY 1/2 (ErrImagePull): the cluster cannot pull its image."
    )));
    assert!(
        !run.stdout().contains("not rolled out within"),
        "{}",
        run.all()
    );
    // The pull-secret race is named with its fix.
    run.assert_stdout_has("before its ServiceAccount had its registry pull secret")
        .assert_stdout_has("oc delete pod <pod> -n tutorial");
}

#[test]
fn deploy_sh_does_not_count_terminating_pods_and_prints_enrolment_for_1_of_1() {
    // Arrange: the old recommendation pod is still Terminating; the new one started without sidecar
    // although its template asks for one (the namespace joined the mesh too late).
    let mut sandbox = Sandbox::new();
    sandbox.stage_images();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_FOUND}0|oc get pods -n demo -l app=recommendation*|\
         recommendation-v1-5d9f7c6b4-old22   2/2   Terminating   0   9m\\nrecommendation-v1-6cf5ff55d9-7zbj8   1/1   Running   0   1m\n\
         0|oc get deployment recommendation-v1 -n demo -o jsonpath=*|true\n{}",
        healthy("demo")
    ));
    sandbox.answers(&[V1_BODY]);

    // Act
    let run = sandbox.run("deploy.sh", &["demo"]);

    // Assert
    run.assert_code(1)
        .assert_stdout_has("recommendation-v1-5d9f7c6b4-old22 READY 2/2 (Terminating): the previous pod, going away; not counted.")
        .assert_stdout_has("oc rollout restart deployment/recommendation-v1 -n demo")
        .assert_stdout_has("oc apply -f kubernetes/ossm2/service-mesh-member.yml -n demo");
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!("{PASS} customer-6b8f9c7d5-aaaaa READY 2/2")));
    assert!(verdicts[2].starts_with(&format!(
        "{FAIL} recommendation-v1-6cf5ff55d9-7zbj8 READY 1/1"
    )));
    assert!(verdicts.last().unwrap().starts_with(FAIL));
}

#[test]
fn deploy_sh_dry_run_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("deploy.sh", &["--dry-run", "x"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc apply -f customer/kubernetes/Deployment.yml -n x")
        .assert_stdout_has(
            "$ BUILD=$(oc start-build customer --from-dir=target/images/customer -n x -o name)",
        );
    assert!(sandbox.kube_calls().is_empty());
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn deploy_sh_points_images_at_image_prefix_instead_of_building() {
    let mut sandbox = Sandbox::new();
    sandbox
        .set("IMAGE_PREFIX", "quay.io/trainer")
        .set("IMAGE_TAG", "0.1.0");
    sandbox.scenario(&format!("{WHOAMI_OK}{SMCP_FOUND}{}", healthy("tutorial")));
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert!(calls.contains(
        &"oc annotate deployment/customer image.openshift.io/triggers- -n tutorial".to_owned()
    ));
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
    assert!(calls.contains(
        &"oc set image deployment/worldclock worldclock=quay.io/trainer/worldclock-standin:0.1.0 -n worldclock"
            .to_owned()
    ));
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("start-build") || c.contains("builds.yml"))
    );
}

#[test]
fn deploy_sh_rejects_an_unknown_mesh() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("deploy.sh", &["--mesh", "istio1"]);
    run.assert_code(2)
        .assert_stderr_has("--mesh must be ossm2 or ossm3");
    assert!(sandbox.kube_calls().is_empty());
}
