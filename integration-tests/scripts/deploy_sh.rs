//! deploy.sh against a fake cluster that answers like a real one: OSSM 2 and OSSM 3 found and enrolled, the
//! in-cluster builds, the stand-in time API, the OSSM 3 gateway, pull errors, Terminating pods, 1/1 fixes.

use std::fs;

use crate::sandbox::*;

const POD_CUSTOMER: &str = "customer-6b8f9c7d5-aaaaa   2/2   Running   0   1m";
const POD_PREFERENCE: &str = "preference-v1-7c9d8b6f5-bbbbb   2/2   Running   0   1m";
const POD_RECOMMENDATION: &str = "recommendation-v1-6cf5ff55d9-7zbj8   2/2   Running   0   1m";

/// Every image built already (`oc get imagestreamtag` finds it) and every app pod 2/2.
fn healthy(ns: &str) -> String {
    format!(
        "0|oc get pods -n {ns} -l app=customer*|{POD_CUSTOMER}\n\
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
fn deploy_sh_on_ossm2_finds_the_control_plane_enrols_builds_and_deploys() {
    // Arrange: a fresh project, control plane `production`, nothing built yet.
    let mut sandbox = Sandbox::new();
    let stage = sandbox.stage_images();
    let builds: String = [
        "customer",
        "preference",
        "recommendation",
        "worldclock-standin",
    ]
    .iter()
    .map(|n| not_built(n))
    .collect();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_FOUND}1|oc get namespace demo|Error from server (NotFound): namespaces \"demo\" not found\n\
         {builds}{}",
        healthy("demo")
    ));
    sandbox.answers(&[V1_BODY]);

    // Act
    let run = sandbox.run("deploy.sh", &["demo"]);

    // Assert
    run.assert_code(0)
        .assert_stdout_has(
            "OpenShift Service Mesh 2: ServiceMeshControlPlane production in istio-system",
        )
        .assert_stdout_has("export GATEWAY_URL=gateway.apps.example.test");
    let build = |name: &str, ns: &str| {
        format!("oc start-build {name} --from-dir={stage}/{name} --follow --wait -n {ns}")
    };
    let (b1, b2, b3, b4) = (
        build("customer", "demo"),
        build("preference", "demo"),
        build("recommendation", "demo"),
        build("worldclock-standin", "worldclock"),
    );
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc get smcp -A -o jsonpath={range .items[*]}{.metadata.namespace}{\" \"}{.metadata.name}{\"\\n\"}{end}",
            "oc get namespace demo",
            "oc new-project demo --skip-config-write",
            "oc apply -n demo -f -",
            "oc wait --for condition=Ready servicemeshmember/default -n demo --timeout=180s",
            "oc apply -f kubernetes/images/builds.yml -n demo",
            "oc get imagestreamtag customer:0.1.0 -n demo",
            &b1,
            "oc get imagestreamtag preference:0.1.0 -n demo",
            &b2,
            "oc get imagestreamtag recommendation:0.1.0 -n demo",
            &b3,
            "oc get namespace worldclock",
            "oc apply -f kubernetes/worldclock/standin.yml -n worldclock",
            "oc get imagestreamtag worldclock-standin:0.1.0 -n worldclock",
            &b4,
            "oc apply -f customer/kubernetes/Deployment.yml -n demo",
            "oc apply -f customer/kubernetes/Service.yml -n demo",
            "oc apply -f preference/kubernetes/Deployment.yml -n demo",
            "oc apply -f preference/kubernetes/Service.yml -n demo",
            "oc apply -f recommendation/kubernetes/Deployment.yml -n demo",
            "oc apply -f recommendation/kubernetes/Service.yml -n demo",
            "oc apply -f kubernetes/app/customer-gateway.yml -n demo",
            "oc rollout status deployment/worldclock -n worldclock --timeout=180s",
            "oc rollout status deployment/customer -n demo --timeout=180s",
            "oc rollout status deployment/preference-v1 -n demo --timeout=180s",
            "oc rollout status deployment/recommendation-v1 -n demo --timeout=180s",
            "oc get pods -n demo -l app=customer,version=v1 --no-headers",
            "oc get pods -n demo -l app=preference,version=v1 --no-headers",
            "oc get pods -n demo -l app=recommendation,version=v1 --no-headers",
        ],
        &run,
    );
    // The member names the control plane that was found, not the shipped file's `basic`.
    let member = fs::read_to_string(sandbox.path("stdin.log")).expect("member on stdin");
    assert!(member.contains("kind: ServiceMeshMember"), "{member}");
    assert!(
        member.contains("    name: production\n    namespace: istio-system\n"),
        "{member}"
    );
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} deployed in demo on ossm2"))
    );
}

#[test]
fn deploy_sh_on_ossm3_labels_the_namespace_and_deploys_the_ingress_gateway() {
    // Arrange: no OSSM 2 CRD, an Istio named default; the gateway's Route is in istio-ingress.
    let mut sandbox = Sandbox::new();
    sandbox.stage_images();
    sandbox.set("GATEWAY_URL", "");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_NO_CRD}{ISTIO_FOUND}{}\
         0|oc -n istio-ingress get route istio-ingressgateway *|istio-ingressgateway-istio-ingress.apps.example.test\n",
        healthy("tutorial")
    ));
    sandbox.answers(&[V1_BODY]);

    // Act
    let run = sandbox.run("deploy.sh", &[]);

    // Assert
    run.assert_code(0)
        .assert_stdout_has("OpenShift Service Mesh 3: Istio default")
        .assert_stdout_has(
            "export GATEWAY_URL=istio-ingressgateway-istio-ingress.apps.example.test",
        );
    let calls = sandbox.kube_calls();
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:#?}"))
    };
    let label = at("oc label namespace tutorial istio-injection=enabled --overwrite");
    let app = at("oc apply -f customer/kubernetes/Deployment.yml -n tutorial");
    let gateway_ns = at("oc label namespace istio-ingress istio-injection=enabled --overwrite");
    let gateway = at("oc apply -f kubernetes/ossm3/ingress-gateway.yml");
    let rollout =
        at("oc rollout status deployment/istio-ingressgateway -n istio-ingress --timeout=180s");
    let route = at("oc -n istio-ingress get route istio-ingressgateway -o jsonpath={.spec.host}");
    assert!(
        label < app
            && app < gateway_ns
            && gateway_ns < gateway
            && gateway < rollout
            && rollout < route
    );
    assert!(
        !calls.iter().any(|c| c.contains("servicemeshmember")),
        "OSSM 3 has no members: {calls:#?}"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.contains("-n istio-system get route")),
        "OSSM 3's Route is looked up where the gateway is: {calls:#?}"
    );
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
            "$ oc start-build customer --from-dir=target/images/customer --follow --wait -n x",
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

#[test]
fn deploy_sh_builds_from_the_sources_when_only_oc_is_at_hand() {
    // Arrange: nothing staged (no Rust toolchain here), nothing built yet.
    let mut sandbox = Sandbox::new();
    sandbox
        .set("BUILD_FROM", "source")
        .set("CARGO_TARGET_DIR", "/nonexistent-target");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}{SMCP_FOUND}{}{}",
        not_built("customer"),
        healthy("tutorial")
    ));
    sandbox.answers(&[V1_BODY]);

    // Act
    let run = sandbox.run("deploy.sh", &[]);

    // Assert
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    let i = calls
        .iter()
        .position(|c| c == "oc get imagestreamtag customer:0.1.0 -n tutorial")
        .expect("customer's tag looked up");
    assert_eq!(
        &calls[i + 1..i + 3],
        [
            r#"oc patch buildconfig customer -n tutorial --type merge -p {"spec":{"strategy":{"dockerStrategy":{"dockerfilePath":"container/Dockerfile"}}}}"#,
            "oc start-build customer --from-repo=. --follow --wait -n tutorial",
        ],
        "{}",
        run.all()
    );
    // Tags the fake finds (the other images) are not built again.
    assert_eq!(
        calls.iter().filter(|c| c.contains("start-build")).count(),
        1
    );
}
