//! Static checks: shellcheck, `dash -n`, POSIX headers, files the scripts name, `--help` first.

use std::fs;
use std::process::Command;

use crate::sandbox::*;

#[test]
fn shellcheck_is_clean_on_every_script() {
    let shellcheck = require_tool("shellcheck", "shellcheck");
    let mut scripts = all_scripts();
    scripts.push(repo_root().join("integration-tests/scripts/fake-kube.sh"));
    scripts.push(repo_root().join("integration-tests/scripts/fake-curl.sh"));
    let out = Command::new(shellcheck)
        .arg("-x")
        .args(&scripts)
        .current_dir(repo_root())
        .output()
        .expect("run shellcheck");
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn every_posix_script_parses_with_dash() {
    let dash = require_tool("dash", "dash");
    for script in all_scripts() {
        let source = fs::read_to_string(&script).expect("read script");
        let first = source.lines().next().unwrap_or_default();
        let posix = first == "#!/bin/sh" || source.contains("# shellcheck shell=sh");
        if !posix {
            continue;
        }
        let out = Command::new(&dash)
            .arg("-n")
            .arg(&script)
            .output()
            .expect("run dash");
        assert!(
            out.status.success(),
            "dash -n {}: {}",
            script.display(),
            text(&out.stderr)
        );
    }
}

#[test]
fn my_scripts_are_posix_sh_with_set_eu() {
    for name in ["run.sh", "deploy.sh", "egress-lab.sh", "clean.sh"] {
        let source = fs::read_to_string(repo_root().join("scripts").join(name)).expect("script");
        assert!(source.starts_with("#!/bin/sh\n"), "{name}: #!/bin/sh first");
        assert!(source.contains("\nset -eu\n"), "{name}: set -eu");
    }
}

#[test]
fn every_file_the_scripts_name_exists_in_the_repository() {
    let out = Command::new("sh")
        .arg("-c")
        .arg(". scripts/lib/common.sh && lab_files")
        .current_dir(repo_root())
        .env("SCRIPT_DIR", repo_root().join("scripts"))
        .output()
        .expect("source common.sh");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = text(&out.stdout);
    assert!(files.lines().count() > 10, "lab_files lists the files");
    let missing: Vec<&str> = files
        .lines()
        .filter(|f| !repo_root().join(f).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "scripts/lib/common.sh names files that do not exist: {missing:?}"
    );
}

#[test]
fn help_comes_first_and_exits_zero() {
    let sandbox = Sandbox::new();
    for script in ["run.sh", "deploy.sh", "egress-lab.sh", "clean.sh"] {
        for flag in ["-h", "--help"] {
            let run = sandbox.run(script, &[flag]);
            run.assert_code(0).assert_stdout_has("Usage:");
        }
    }
    assert!(sandbox.kube_calls().is_empty(), "--help runs nothing");
    assert!(sandbox.curl_calls().is_empty(), "--help runs nothing");
}
