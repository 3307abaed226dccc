use super::*;

fn containers(names: &[&str], default: Option<&str>) -> Containers {
    Containers {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        default: default.map(str::to_owned),
    }
}

#[test]
fn targets_are_kubectls_pod_and_deployment_spellings() {
    for arg in [
        "deploy/recommendation-v1",
        "deployment/recommendation-v1",
        "deployments/recommendation-v1",
        "deployments.apps/recommendation-v1",
    ] {
        assert_eq!(
            LogsTarget::parse(arg).unwrap(),
            LogsTarget::Deployment("recommendation-v1".into()),
            "{arg}"
        );
    }
    for arg in ["pod/p-1", "po/p-1", "pods/p-1"] {
        assert_eq!(
            LogsTarget::parse(arg).unwrap(),
            LogsTarget::Pod("p-1".into())
        );
    }
    assert_eq!(
        LogsTarget::parse("recommendation-v2").unwrap(),
        LogsTarget::PodOrDeployment("recommendation-v2".into())
    );
    assert_eq!(
        LogsTarget::parse("svc/customer").unwrap_err().to_string(),
        "error: the local mesh takes the logs of a pod, pod/NAME, deploy/NAME or deployment/NAME, not svc/customer"
    );
}

#[test]
fn the_annotation_picks_the_default_container_without_a_word() {
    let c = containers(&["recommendation", "istio-proxy"], Some("recommendation"));
    assert_eq!(
        pick_container("p", None, &c).unwrap(),
        ("recommendation".into(), Vec::new())
    );
    let proxy = containers(&["recommendation", "istio-proxy"], Some("istio-proxy"));
    assert_eq!(pick_container("p", None, &proxy).unwrap().0, "istio-proxy");
}

#[test]
fn without_the_annotation_the_first_container_is_defaulted_out_loud() {
    let c = containers(&["recommendation", "istio-proxy"], None);
    assert_eq!(
        pick_container("p", None, &c).unwrap(),
        (
            "recommendation".into(),
            vec![
                r#"Defaulted container "recommendation" out of: recommendation, istio-proxy"#
                    .into()
            ]
        )
    );
    let missing = containers(&["recommendation", "istio-proxy"], Some("app"));
    assert_eq!(
        pick_container("p", None, &missing).unwrap().1,
        [
            r#"Default container name "app" not found in pod p"#,
            r#"Defaulted container "recommendation" out of: recommendation, istio-proxy"#
        ]
    );
    let alone = containers(&["recommendation"], None);
    assert_eq!(
        pick_container("p", None, &alone).unwrap(),
        ("recommendation".into(), Vec::new())
    );
}

#[test]
fn a_container_the_pod_lacks_is_kubectls_error() {
    let c = containers(&["recommendation"], None);
    assert_eq!(
        pick_container("p-1", Some("istio-proxy"), &c)
            .unwrap_err()
            .to_string(),
        "error: container istio-proxy is not valid for pod p-1"
    );
    assert_eq!(
        pick_container("p-1", Some("recommendation"), &c).unwrap().0,
        "recommendation"
    );
}

#[test]
fn tail_keeps_the_last_lines() {
    let lines: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    assert_eq!(last(lines.clone(), Some(2)), ["b", "c"]);
    assert_eq!(last(lines.clone(), Some(0)), Vec::<String>::new());
    assert_eq!(last(lines.clone(), Some(5)), lines);
    assert_eq!(last(lines.clone(), None), lines);
}

#[test]
fn a_files_whole_lines_after_an_offset() {
    let dir = std::env::temp_dir().join(format!("mesh-lab-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("access.log");
    std::fs::write(&file, "one\ntwo\nthr").unwrap();
    let (lines, next) = file_lines_since(&file, 0);
    assert_eq!((lines, next), (vec!["one".into(), "two".into()], 8));
    let (lines, next) = file_lines_since(&file, 4);
    assert_eq!((lines, next), (vec!["two".to_owned()], 8));
    assert_eq!(file_lines_since(&file, 8), (Vec::new(), 8));
    assert_eq!(file_lines_since(&dir.join("none"), 3), (Vec::new(), 3));
    std::fs::remove_dir_all(&dir).unwrap();
}
