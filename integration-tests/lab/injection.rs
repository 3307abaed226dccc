//! The egress blog's 1/1 moment through `mesh-lab patch`, as the blog has it: v3's pod template asks for no
//! sidecar (1/1), the blog's annotation patch starts a new pod with one (2/2); a pod label `"false"` wins
//! over that annotation (istio's pkg/kube/inject/inject.go injectRequired) and `patch` and `show` say so;
//! any change to the pod template, an annotation's alone, starts a new pod, as a Deployment's rollout does,
//! and a patch that changes nothing (`patched (no change)`) keeps the pod.

use crate::repo;
use crate::served::Served;

/// The blog's patch, as it prints it (`oc patch deployment recommendation-v3 -n tutorial -p '…'`).
const BLOG_PATCH: &str =
    r#"{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#;
const LABEL_FALSE: &str =
    r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"false"}}}}}"#;
const REMOVE_LABEL: &str =
    r#"[{"op":"remove","path":"/spec/template/metadata/labels/sidecar.istio.io~1inject"}]"#;
const FOO_BAR: &str = r#"{"spec":{"template":{"metadata":{"annotations":{"foo":"bar"}}}}}"#;

/// The sentence `patch` warns with and `show` notes, for label "false" over annotation "true".
const FALSE_WINS: &str = "the pod label sidecar.istio.io/inject: \"false\" wins over the annotation \
     \"true\" (istio's pkg/kube/inject/inject.go injectRequired): remove the label to let the annotation decide";

/// v3's pod: its name and READY, from `mesh-lab show --json`.
async fn v3(served: &Served) -> (String, String) {
    let (code, out, err) = served.run(&["show", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let show: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = show["workloads"].as_array().unwrap();
    let mut v3 = rows.iter().filter(|w| w["name"] == "recommendation-v3");
    let row = v3.next().expect("a recommendation-v3 pod");
    assert!(v3.next().is_none(), "one v3 pod after a rollout: {rows:?}");
    (
        row["pod"].as_str().unwrap().to_owned(),
        row["ready"].as_str().unwrap().to_owned(),
    )
}

/// `show --json`'s notes.
async fn notes(served: &Served) -> Vec<String> {
    let (_, out, _) = served.run(&["show", "--json"]).await;
    let show: serde_json::Value = serde_json::from_str(&out).unwrap();
    serde_json::from_value(show["notes"].clone()).unwrap()
}

fn patched(extra: &str) -> (i32, String, String) {
    (
        0,
        format!("deployment.apps/recommendation-v3 patched{extra}\n"),
        String::new(),
    )
}

#[tokio::test]
async fn the_blogs_annotation_patch_gives_the_pod_its_sidecar_unless_a_label_says_otherwise() {
    let served = Served::start().await;
    let file = std::fs::read_to_string(repo().join("recommendation/kubernetes/Deployment-v3.yml"))
        .unwrap();
    // The blog's Deployment-v3.yml: a pod template that asks for nothing.
    let blogs = file.replacen("        sidecar.istio.io/inject: \"true\"\n", "", 1);
    assert_ne!(
        blogs, file,
        "Deployment-v3.yml asks for a sidecar by pod label"
    );
    let applied = served.run_with(&["apply", "-f", "-"], &blogs).await;
    let (first, first_ready) = v3(&served).await;
    let blog = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v3",
            "-n",
            "tutorial",
            "-p",
            BLOG_PATCH,
        ])
        .await;
    let (second, second_ready) = v3(&served).await;
    let label = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v3",
            "-p",
            LABEL_FALSE,
        ])
        .await;
    let (third, third_ready) = v3(&served).await;
    let noted = notes(&served).await;
    let (_, text, _) = served.run(&["show"]).await;
    let removed = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v3",
            "--type",
            "json",
            "-p",
            REMOVE_LABEL,
        ])
        .await;
    let (fourth, fourth_ready) = v3(&served).await;
    let unnoted = notes(&served).await;
    let foo = served
        .run(&["patch", "deployment", "recommendation-v3", "-p", FOO_BAR])
        .await;
    let (fifth, fifth_ready) = v3(&served).await;
    let again = served
        .run(&["patch", "deployment", "recommendation-v3", "-p", FOO_BAR])
        .await;
    let (sixth, _) = v3(&served).await;
    served.stop().await;

    assert_eq!(
        applied,
        (
            0,
            "deployment.apps/recommendation-v3 created\n".into(),
            String::new()
        )
    );
    assert_eq!(first_ready, "1/1", "nothing asks for a sidecar: {first}");
    assert_eq!(blog, patched(""));
    assert_ne!(
        second, first,
        "the annotation is in the pod template: a new pod"
    );
    assert_eq!(
        second_ready, "2/2",
        "the annotation alone asks for the sidecar"
    );
    assert_eq!(label, patched(&format!("\nWarning: {FALSE_WINS}")));
    assert_ne!(third, second);
    assert_eq!(third_ready, "1/1", "the label wins over the annotation");
    let note = format!("deployment recommendation-v3: {FALSE_WINS}.");
    assert!(noted.contains(&note), "{noted:?}");
    assert!(text.contains(&note), "{text}");
    assert_eq!(
        removed,
        patched(""),
        "without the label the annotation decides"
    );
    assert_ne!(fourth, third);
    assert_eq!(fourth_ready, "2/2");
    assert!(
        !unnoted.iter().any(|n| n.contains("wins over")),
        "{unnoted:?}"
    );
    assert_eq!(foo, patched(""));
    assert_ne!(fifth, fourth, "an annotation-only change rolls the pod");
    assert_eq!(fifth_ready, "2/2");
    assert_eq!(
        again,
        (
            0,
            "deployment.apps/recommendation-v3 patched (no change)\n".into(),
            String::new()
        )
    );
    assert_eq!(sixth, fifth, "a patch that changes nothing keeps the pod");
}
