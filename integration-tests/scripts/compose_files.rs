//! docker-compose.yml read by podman-compose (Debian 12's 1.0.3, which OpenShift users often have instead of
//! Docker), at the `--dry-run up` level: it prints every `podman run` it would issue. (Starting the
//! containers is left to scripts/compose-test.sh on Docker: docs/CONTAINERS.md says why.)

use std::process::Command;

use crate::sandbox::{repo_root, require_tool, text};

#[test]
fn podman_compose_accepts_the_compose_file_and_gives_v3_its_time_api_host() {
    // Arrange
    let podman_compose = require_tool("podman-compose", "podman-compose");
    let project = format!("itrs-dry-{}", std::process::id());

    // Act
    let out = Command::new(&podman_compose)
        .args(["--dry-run", "--project-name", &project, "up", "-d"])
        .current_dir(repo_root())
        .env("RECOMMENDATION_VERSION", "v3")
        .env_remove("STANDIN_NOW")
        .output()
        .expect("run podman-compose");
    // Its dry run still creates the project's network for real: remove it.
    let _ = Command::new("podman")
        .args(["network", "rm", &format!("{project}_default")])
        .output();

    // Assert
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "podman-compose --dry-run up failed:\n{all}"
    );
    let runs: Vec<&str> = all
        .lines()
        .filter(|l| l.starts_with("podman run "))
        .collect();
    assert_eq!(runs.len(), 4, "one podman run per service:\n{all}");
    let standin = runs
        .iter()
        .find(|l| l.contains("--network-alias worldclockapi.com"))
        .unwrap_or_else(|| panic!("the stand-in answers as worldclockapi.com:\n{all}"));
    for part in [
        "--sysctl net.ipv4.ip_unprivileged_port_start=0",
        "-e PORT=80",
        "-e STANDIN_NOW ",
        "--read-only",
        "--cap-drop ALL",
    ] {
        assert!(standin.contains(part), "stand-in lacks `{part}`: {standin}");
    }
    assert!(
        !all.contains("${"),
        "a variable reached a container unexpanded:\n{all}"
    );
    let v3 = runs
        .iter()
        .find(|l| l.contains("--network-alias recommendation"))
        .expect("recommendation");
    assert!(
        v3.contains("-e RECOMMENDATION_VERSION=v3")
            && v3.contains("-e WORLDCLOCK_URL=http://worldclockapi.com/api/json/cet/now"),
        "{v3}"
    );
}
