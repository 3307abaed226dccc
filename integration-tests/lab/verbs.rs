//! kubectl's verbs pasted into `mesh-lab` (the built binary against a lab's control endpoint): `apply -f DIR`,
//! `create`, `replace` and `delete -f` (also `-f -`, the standard input), `-n`, and `patch` with kubectl's default strategic merge patch — each
//! answer, error and exit status exactly kubectl's.

use std::path::{Path, PathBuf};

use mesh_lab::guided::send::{chain_prefix, requests};

use crate::served::Served;
use crate::{http, istio};

/// A directory of the tutorial's files under other names: two at its top (and a note kubectl skips), one
/// in a subdirectory, none in another.
fn tree(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesh-lab-verbs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (from, to) in [
        ("virtual-service-recommendation-v2.yml", "20-vs.yaml"),
        ("destination-rule-recommendation-v1-v2.yml", "10-dr.yml"),
        ("service-entry-egress-worldclockapi.yml", "sub/30-se.yml"),
    ] {
        std::fs::copy(istio(from), dir.join(to)).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a manifest").unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(dir.join("docs/README.txt"), "not a manifest").unwrap();
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

const DR: &str = "destinationrule.networking.istio.io";
const VS: &str = "virtualservice.networking.istio.io";

#[tokio::test]
async fn apply_create_replace_and_delete_of_files_answer_as_kubectl() {
    let served = Served::start().await;
    let dir = tree("files");
    let (d, vs_file) = (path(&dir), dir.join("20-vs.yaml"));
    let vs_file = path(&vs_file);
    let se_file = dir.join("sub/30-se.yml");
    let applied = served.run(&["apply", "-f", d, "-n", "tutorial"]).await;
    let v2 = served.lab.pod_name("recommendation-v2").await.unwrap();
    let to_v2 = requests(&http(), &served.lab.gateway_url, 1, None).await;
    let exists = served
        .run(&["create", "-f", vs_file, "--namespace", "tutorial"])
        .await;
    let replaced = served.run(&["replace", "-f", vs_file]).await;
    let deleted = served.run(&["delete", "-R", "-f", d]).await;
    let gone = served.run(&["replace", "-f", vs_file, "-n=tutorial"]).await;
    let created = served.run(&["create", "-f", d]).await;
    let vs_text = std::fs::read_to_string(vs_file).unwrap();
    let piped = served.run_with(&["create", "-f", "-"], &vs_text).await;
    let elsewhere = served.run(&["apply", "-f", d, "-n", "istio-system"]).await;
    let empty = served
        .run(&["delete", "-f", path(&dir.join("docs")), "-f", vs_file])
        .await;
    let by_slash = served
        .run(&["delete", "vs/recommendation", "-n", "tutorial"])
        .await;
    let objects: Vec<String> = served
        .lab
        .show()
        .await
        .unwrap()
        .objects
        .iter()
        .map(|o| format!("{}/{}", o.kind, o.name))
        .collect();
    served.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
    let ok = |lines: &[String]| {
        (
            0,
            lines.iter().map(|l| format!("{l}\n")).collect(),
            String::new(),
        )
    };
    assert_eq!(
        applied,
        ok(&[
            format!("{DR}/recommendation created"),
            format!("{VS}/recommendation created")
        ])
    );
    assert_eq!(to_v2[0].body, format!("{}1\n", chain_prefix("v2", &v2)));
    let failed = |error: String| (1, String::new(), format!("{error}\n"));
    let vss = "virtualservices.networking.istio.io";
    let already = |file: &str| {
        failed(format!(
            "Error from server (AlreadyExists): error when creating \"{file}\": {vss} \"recommendation\" already exists"
        ))
    };
    assert_eq!(exists, already(vs_file));
    assert_eq!(replaced, ok(&[format!("{VS}/recommendation replaced")]));
    assert_eq!(
        deleted,
        (
            1,
            format!("{DR} \"recommendation\" deleted\n{VS} \"recommendation\" deleted\n"),
            format!(
                "Error from server (NotFound): error when deleting \"{}\": serviceentries.networking.istio.io \
                 \"worldclockapi-egress-rule\" not found\n",
                se_file.display()
            )
        )
    );
    assert_eq!(
        gone,
        failed(format!(
            "Error from server (NotFound): error when replacing \"{vs_file}\": {vss} \"recommendation\" not found"
        ))
    );
    assert_eq!(
        created,
        ok(&[
            format!("{DR}/recommendation created"),
            format!("{VS}/recommendation created")
        ])
    );
    assert_eq!(piped, already("STDIN"));
    assert_eq!(
        elsewhere,
        failed(
            "error: the local mesh plays one namespace, tutorial: -n istio-system is not it (write -n \
             tutorial, or leave -n out)"
                .into()
        )
    );
    assert_eq!(
        empty,
        failed(format!(
            "error: error reading [{}]: recognized file extensions are [.json .yaml .yml]",
            dir.join("docs").display()
        ))
    );
    assert_eq!(by_slash, ok(&[format!("{VS} \"recommendation\" deleted")]));
    assert!(
        objects.contains(&"DestinationRule/recommendation".to_owned())
            && !objects.contains(&"VirtualService/recommendation".to_owned())
            && !objects.iter().any(|o| o.starts_with("ServiceEntry/")),
        "{objects:?}"
    );
}

/// The upstream tutorial's `kubectl patch deployment … -p '{"spec":{"template":{"spec":{"containers":[{"name":…,
/// "image":…}]}}}}'` is a strategic merge patch: the container keeps what the patch does not name, so v1
/// still answers; an env patch merges by name (a new pod, still v1), and again it changes nothing;
/// `--type json`; kubectl's refusal of another `--type`.
#[tokio::test]
async fn patch_merges_the_tutorials_container_patch_by_name_as_kubectl() {
    let served = Served::start().await;
    crate::only_v1(&served.lab).await;
    let before = served.lab.pod_name("recommendation-v1").await.unwrap();
    let image = r#"{"spec":{"template":{"spec":{"containers":[{"name":"recommendation","image":"quay.io/rhdevelopers/istio-tutorial-recommendation:v1"}]}}}}"#;
    let env = r#"{"spec":{"template":{"spec":{"containers":[{"name":"recommendation","env":[{"name":"WORKERS","value":"3"}]}]}}}}"#;
    let by_image = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v1",
            "-n",
            "tutorial",
            "-p",
            image,
        ])
        .await;
    let by_env = served
        .run(&["patch", "deploy", "recommendation-v1", "-p", env])
        .await;
    let after = served.lab.pod_name("recommendation-v1").await.unwrap();
    let answer = requests(&http(), &served.lab.gateway_url, 1, None).await;
    let again = served
        .run(&["patch", "deployment/recommendation-v1", "-p", env])
        .await;
    let json = r#"[{"op":"test","path":"/spec/template/spec/containers/0/name","value":"recommendation"},{"op":"add","path":"/spec/template/metadata/labels/sidecar.istio.io~1inject","value":"false"}]"#;
    let by_json = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v1",
            "--type",
            "json",
            "-p",
            json,
        ])
        .await;
    let ready = served
        .lab
        .show()
        .await
        .unwrap()
        .workloads
        .iter()
        .find(|w| w.name == "recommendation-v1")
        .map(|w| w.ready.clone());
    let other = served
        .run(&[
            "patch",
            "deployment",
            "recommendation-v1",
            "--type",
            "apply",
            "-p",
            "{}",
        ])
        .await;
    served.stop().await;
    let patched = (
        0,
        "deployment.apps/recommendation-v1 patched\n".to_owned(),
        String::new(),
    );
    assert_eq!(by_image, patched);
    assert_eq!(by_env, patched);
    assert_ne!(after, before, "a new pod template, a new pod");
    assert_eq!(answer[0].body, format!("{}1\n", chain_prefix("v1", &after)));
    assert_eq!(
        again,
        (
            0,
            "deployment.apps/recommendation-v1 patched (no change)\n".into(),
            String::new()
        )
    );
    assert_eq!(by_json, patched);
    assert_eq!(ready.as_deref(), Some("1/1"), "the JSON patch's label took");
    assert_eq!(
        other,
        (
            1,
            String::new(),
            "error: --type must be one of [json merge strategic], not \"apply\"\n".into()
        )
    );
}
