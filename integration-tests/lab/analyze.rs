//! `mesh-lab analyze` through the built binary, as istioctl analyze answers: on the running lab's objects,
//! on `-f` files with them (before they are applied), and on files alone with `--use-kube=false`, no lab
//! running. The analysis itself is unit-tested in mesh-istiod/src/config/analysis/tests.rs.

use crate::istio;
use crate::served::Served;

const NO_ISSUES: &str = "✔ No validation issues found when analyzing namespace: tutorial.\n";
const MISSING_V3: &str = "Error [IST0101] (VirtualService tutorial/recommendation) Referenced host+subset in destinationrule not found: \"recommendation+version-v3\"\n";

/// [`MISSING_V3`] on the object of `file` (the subset's destination is on its line 13), as istioctl names an
/// object read from a file.
fn missing_v3_in(file: &str) -> String {
    MISSING_V3.replace(
        "tutorial/recommendation)",
        &format!("tutorial/recommendation {file}:13)"),
    )
}
const FOUND_ISSUES: &str = "Error: Analyzers found issues when analyzing namespace: tutorial.\n\
    See https://istio.io/latest/docs/reference/config/analysis for more information about causes and resolutions.\n";

fn file(name: &str) -> String {
    istio(name).display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_finds_the_missing_subset_before_and_after_apply() {
    let served = Served::start().await;
    let (vs, dr) = (
        file("virtual-service-recommendation-v3.yml"),
        file("destination-rule-recommendation-v1-v2-v3.yml"),
    );
    let setup = served.run(&["analyze"]).await;
    assert_eq!(setup, (0, "\n".into(), NO_ISSUES.into()), "the set-up");

    // A file before it is applied, with the lab's objects: the lab's Service answers its host.
    let before = served.run(&["analyze", "-f", &vs]).await;
    assert_eq!(
        before,
        (79, format!("{}\n", missing_v3_in(&vs)), FOUND_ISSUES.into())
    );
    let text = std::fs::read_to_string(&vs).unwrap();
    let stdin = served.run_with(&["analyze", "-f", "-"], &text).await;
    assert_eq!(
        stdin,
        (79, format!("{}\n", missing_v3_in("-")), FOUND_ISSUES.into())
    );
    let with_rule = served.run(&["analyze", "-f", &vs, "-f", &dr]).await;
    let both = format!("✔ No validation issues found when analyzing:\n  - {vs}\n  - {dr}\n");
    assert_eq!(with_rule, (0, "\n".into(), both));

    // Applied without its DestinationRule: accepted, as a cluster accepts it; analyze finds it.
    let applied = served.run(&["apply", "-f", &vs]).await;
    assert_eq!(applied.0, 0, "{applied:?}");
    let after = served.run(&["analyze"]).await;
    assert_eq!(after, (79, format!("{MISSING_V3}\n"), FOUND_ISSUES.into()));

    // A file fixes it before it is applied, then applied.
    let fixed_by_file = served.run(&["analyze", "-f", &dr]).await;
    let one = format!("✔ No validation issues found when analyzing {dr}.\n");
    assert_eq!(fixed_by_file, (0, "\n".into(), one));
    assert_eq!(served.run(&["apply", "-f", &dr]).await.0, 0);
    assert_eq!(
        served.run(&["analyze"]).await,
        (0, "\n".into(), NO_ISSUES.into())
    );
    served.stop().await;
}

/// `mesh-lab analyze ARGS…` with the control endpoint at a port nothing listens on.
fn without_lab(args: &[&str]) -> (i32, String, String) {
    let port = mesh_lab::dataplane::ports::free_port().unwrap();
    let out = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
        .arg("analyze")
        .args(args)
        .env(
            mesh_lab::cli::control::ENV_CONTROL,
            format!("127.0.0.1:{port}"),
        )
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn use_kube_false_analyses_files_alone_without_a_lab() {
    let (vs, dr) = (
        file("virtual-service-recommendation-v3.yml"),
        file("destination-rule-recommendation-v1-v2-v3.yml"),
    );
    let service = crate::repo()
        .join("recommendation/kubernetes/Service.yml")
        .display()
        .to_string();
    let alone = without_lab(&["--use-kube=false", "-f", &vs, "-f", &dr]);
    let no_service = format!(
        "Error [IST0101] (VirtualService tutorial/recommendation {vs}:13) Referenced host not found: \"recommendation\"\n"
    );
    assert_eq!(alone, (79, format!("{no_service}\n"), FOUND_ISSUES.into()));
    let whole = without_lab(&["--use-kube=false", "-f", &vs, "-f", &dr, "-f", &service]);
    let names = format!(
        "✔ No validation issues found when analyzing:\n  - {vs}\n  - {dr}\n  - {service}\n"
    );
    assert_eq!(whole, (0, "\n".into(), names));
    let missing = without_lab(&["--use-kube=false", "-f", &vs, "-f", &service]);
    let expected = format!("{}\n", missing_v3_in(&vs));
    assert_eq!(missing, (79, expected, FOUND_ISSUES.into()));
    let lab_needed = without_lab(&["-f", &vs]);
    assert_eq!(lab_needed.0, 1);
    assert!(lab_needed.2.contains("no lab answers at"), "{lab_needed:?}");
}
