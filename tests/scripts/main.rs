//! Tests of the lab scripts under `scripts/` (issue 4).
//!
//! - every script passes `shellcheck` and `dash -n`;
//! - every repository file the scripts name exists;
//! - the cluster-facing scripts run against a fake `oc`/`kubectl` and a fake `curl`
//!   (`tests/scripts/fake-*.sh`) on a PATH that holds nothing else but a few POSIX tools:
//!   no cluster, no network. Each test checks the commands issued, in order, and the verdicts.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

mod chain;

const PASS: &str = "\u{2714}";
const FAIL: &str = "\u{2718}";

/// The patch the lab prints for a pod that started without its sidecar (SPEC section 3 step 2).
const PATCH_V3: &str = r#"oc patch deployment recommendation-v3 -n tutorial -p '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}'"#;

const V3_BODY: &str =
    "customer => preference => recommendation v3 2020-04-06T18:31+02:00 from '83bbb6d11a7e': 1";
const V1_BODY: &str = "customer => preference => recommendation v1 from 'f11b097f1dd0': 7123";
const EGRESS_ERROR_BODY: &str = "customer => Error: 503 - preference => Error: 500 - recommendation v3: \
     the mesh proxy answered 503 for http://worldclockapi.com/api/json/cet/now";

/// Tools the scripts and the fakes use; the sandbox PATH holds these and the fakes only.
const TOOLS: &[&str] = &[
    "sh", "dash", "dirname", "sed", "grep", "cat", "mktemp", "rm", "sleep",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

fn require_tool(tool: &str, package: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| {
        panic!("`{tool}` not found on PATH: the script tests need it (Debian/Ubuntu: apt-get install {package})")
    })
}

/// Every `*.sh` under `scripts/`, recursively, sorted.
fn all_scripts() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read scripts dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "sh") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&repo_root().join("scripts"), &mut found);
    found.sort();
    assert!(!found.is_empty(), "no scripts under scripts/");
    found
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "istio-tutorial-scripts-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn write_executable(path: &Path, contents: &str) {
    fs::write(path, contents).expect("write executable");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// What a script run printed.
struct Run {
    output: Output,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    fn stdout(&self) -> String {
        text(&self.output.stdout)
    }
    fn stderr(&self) -> String {
        text(&self.output.stderr)
    }
    fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout(), self.stderr())
    }
    fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), Some(code), "exit status\n{}", self.all());
        self
    }
    fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout().contains(needle),
            "stdout lacks {needle:?}\n{}",
            self.all()
        );
        self
    }
    fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}\n{}",
            self.all()
        );
        self
    }
    /// The verdict lines (✔/✘) in order.
    fn verdicts(&self) -> Vec<String> {
        self.stdout()
            .lines()
            .filter(|l| l.starts_with(PASS) || l.starts_with(FAIL))
            .map(str::to_owned)
            .collect()
    }
}

/// A sandbox: fake `oc`, `kubectl` and `curl` plus a few real POSIX tools on PATH, nothing else.
struct Sandbox {
    dir: TempDir,
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Self {
        Self::with_fakes(&["oc", "kubectl", "curl"])
    }

    fn with_fakes(fakes: &[&str]) -> Self {
        let dir = TempDir::new();
        let bin = dir.0.join("bin");
        fs::create_dir_all(&bin).expect("bin dir");
        for tool in TOOLS {
            let real = require_tool(tool, tool);
            std::os::unix::fs::symlink(&real, bin.join(tool)).expect("symlink tool");
        }
        let fakes_dir = repo_root().join("tests/scripts");
        for fake in fakes {
            let (script, name) = if *fake == "curl" {
                ("fake-curl.sh", "curl")
            } else {
                ("fake-kube.sh", *fake)
            };
            write_executable(
                &bin.join(name),
                &format!(
                    "#!/bin/sh\nFAKE_NAME={name} exec sh '{}' \"$@\"\n",
                    fakes_dir.join(script).display()
                ),
            );
        }
        fs::write(dir.0.join("bodies"), "").expect("bodies");
        let sandbox = Sandbox {
            env: Vec::new(),
            dir,
        };
        sandbox.answers(&[V1_BODY]);
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// Rules for the fake oc/kubectl: `<exit>|<glob>|<stdout>` lines (see fake-kube.sh).
    fn scenario(&self, rules: &str) -> &Self {
        fs::write(self.path("scenario"), rules).expect("scenario");
        self
    }

    /// What the fake curl answers, in order; the last one repeats.
    fn answers(&self, bodies: &[&str]) -> &Self {
        let mut all = bodies.join("\n");
        all.push('\n');
        fs::write(self.path("bodies"), all).expect("bodies");
        let _ = fs::remove_file(self.path("bodies.n"));
        self
    }

    fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.push((key.into(), value.into()));
        self
    }

    fn run(&self, script: &str, args: &[&str]) -> Run {
        let root = repo_root();
        let mut cmd = Command::new(which("sh").expect("sh"));
        cmd.arg(root.join("scripts").join(script))
            .args(args)
            .current_dir(self.dir.0.as_path())
            .env_clear()
            .env("PATH", self.path("bin"))
            .env("HOME", self.dir.0.as_path())
            .env("LC_ALL", "C")
            .env("FAKE_ROOT", &root)
            .env("FAKE_LOG", self.path("kube.log"))
            .env("FAKE_STDIN", self.path("stdin.log"))
            .env("FAKE_SCENARIO", self.path("scenario"))
            .env("FAKE_CURL_LOG", self.path("curl.log"))
            .env("FAKE_CURL_BODIES", self.path("bodies"))
            .env("LAB_TIMEOUT", "1")
            .env("LAB_INTERVAL", "1")
            .env("GATEWAY_URL", "gateway.apps.example.test")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        Run {
            output: cmd.output().expect("run script"),
        }
    }

    fn read_lines(&self, name: &str) -> Vec<String> {
        fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The fake oc/kubectl calls, in order.
    fn kube_calls(&self) -> Vec<String> {
        self.read_lines("kube.log")
    }

    fn curl_calls(&self) -> Vec<String> {
        self.read_lines("curl.log")
    }
}

/// Assert `calls` is exactly `expected` (each element a full recorded command line).
fn assert_calls(calls: &[String], expected: &[&str], run: &Run) {
    assert_eq!(
        calls,
        expected,
        "commands issued, in order (left: issued, right: expected)\n{}",
        run.all()
    );
}

const WHOAMI: &str = "oc whoami";
const WHOAMI_OK: &str = "0|oc whoami|developer\n";

// ---------------------------------------------------------------------------------------------
// Static checks.

#[test]
fn shellcheck_is_clean_on_every_script() {
    let shellcheck = require_tool("shellcheck", "shellcheck");
    let mut scripts = all_scripts();
    scripts.push(repo_root().join("tests/scripts/fake-kube.sh"));
    scripts.push(repo_root().join("tests/scripts/fake-curl.sh"));
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

// ---------------------------------------------------------------------------------------------
// run.sh (its behaviour against the real chain is in chain.rs).

#[test]
fn run_sh_numbers_answers_and_adds_http_to_a_bare_host() {
    let sandbox = Sandbox::new();
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("run.sh", &["3", "gateway.example.test"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout(),
        format!("# 0: {V1_BODY}\n# 1: {V1_BODY}\n# 2: {V1_BODY}\n")
    );
    let calls = sandbox.curl_calls();
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.ends_with(" http://gateway.example.test")),
        "{calls:?}"
    );
}

#[test]
fn run_sh_keeps_going_on_error_answers() {
    let sandbox = Sandbox::new();
    sandbox.answers(&[EGRESS_ERROR_BODY, V3_BODY]);
    let run = sandbox.run("run.sh", &["2", "https://gw.example.test/"]);
    run.assert_code(0);
    assert_eq!(
        run.stdout(),
        format!("# 0: {EGRESS_ERROR_BODY}\n# 1: {V3_BODY}\n")
    );
    assert!(sandbox.curl_calls()[0].ends_with(" https://gw.example.test/"));
}

#[test]
fn run_sh_rejects_bad_arguments_with_status_2() {
    let sandbox = Sandbox::new();
    for args in [
        &[][..],
        &["ten", "gw"][..],
        &["-1", "gw"][..],
        &["1", "2", "3"][..],
        &["--bogus", "gw"][..],
        &["-p", "x", "1", "gw"][..],
    ] {
        let run = sandbox.run("run.sh", args);
        run.assert_code(2).assert_stderr_has("Usage:");
    }
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn run_sh_without_curl_says_how_to_install_it() {
    let sandbox = Sandbox::with_fakes(&["oc"]);
    let run = sandbox.run("run.sh", &["1", "gw"]);
    run.assert_code(127)
        .assert_stderr_has("curl not found")
        .assert_stderr_has("install");
}

// ---------------------------------------------------------------------------------------------
// Prerequisites: oc/kubectl detection and login.

#[test]
fn missing_oc_and_kubectl_gives_a_clear_error() {
    let sandbox = Sandbox::with_fakes(&["curl"]);
    for (script, args) in [
        ("egress-lab.sh", &["--step", "1"][..]),
        ("deploy.sh", &[][..]),
        ("clean.sh", &["tutorial"][..]),
    ] {
        let run = sandbox.run(script, args);
        run.assert_code(127)
            .assert_stderr_has("neither oc nor kubectl found")
            .assert_stderr_has("KUBECTL=");
    }
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn kubectl_env_var_that_does_not_exist_is_named() {
    let mut sandbox = Sandbox::new();
    sandbox.set("KUBECTL", "/nowhere/oc");
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(127)
        .assert_stderr_has("KUBECTL=/nowhere/oc");
    assert!(sandbox.kube_calls().is_empty());
}

#[test]
fn not_logged_in_stops_with_the_login_fix() {
    let sandbox = Sandbox::new();
    sandbox.scenario("1|oc whoami|error: You must be logged in to the server (Unauthorized)\n");
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(1)
        .assert_stderr_has("not logged in")
        .assert_stderr_has("oc login");
    assert_calls(&sandbox.kube_calls(), &[WHOAMI], &run);
}

#[test]
fn kubectl_is_used_when_oc_is_absent_and_checks_access() {
    let sandbox = Sandbox::with_fakes(&["kubectl", "curl"]);
    sandbox.scenario("0|kubectl get virtualservice recommendation *|version-v3\n");
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            "kubectl auth can-i get pods -n tutorial",
            "kubectl apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial",
            "kubectl apply -f istio/virtual-service-recommendation-v3.yml -n tutorial",
            "kubectl get virtualservice recommendation -n tutorial -o jsonpath={.spec.http[0].route[0].destination.subset}",
        ],
        &run,
    );
}

// ---------------------------------------------------------------------------------------------
// The egress lab, step by step (SPEC section 3).

#[test]
fn step_1_baseline_reads_the_gateway_route_and_checks_the_chain() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc -n istio-system get route istio-ingressgateway *|istio-ingressgateway-istio-system.apps.example.test\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(0)
        .assert_stdout_has("$ GATEWAY_URL=$(oc -n istio-system get route istio-ingressgateway -o jsonpath='{.spec.host}')")
        .assert_stdout_has(V1_BODY);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc -n istio-system get route istio-ingressgateway -o jsonpath={.spec.host}",
        ],
        &run,
    );
    assert!(
        sandbox.curl_calls()[0]
            .ends_with(" http://istio-ingressgateway-istio-system.apps.example.test")
    );
    assert_eq!(run.verdicts().len(), 1);
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 1")));
}

#[test]
fn step_2_applies_v3_from_recommendation_dir_and_sees_the_sidecar() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods -n tutorial -l app=recommendation,version=v3 *|recommendation-v3-7b9c5d8f6d-x2x4q   2/2   Running   0   41s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2"]);
    run.assert_code(0).assert_stdout_has(
        "$ cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
    );
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert!(verdicts.iter().all(|v| v.starts_with(PASS)), "{verdicts:?}");
    assert!(!run.stdout().contains("oc patch"));
}

#[test]
fn step_2_prints_the_exact_patch_when_the_pod_runs_1_of_1() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2"]);
    run.assert_code(1).assert_stdout_has(PATCH_V3);
    let verdicts = run.verdicts();
    assert!(
        verdicts[0].starts_with(&format!(
            "{FAIL} recommendation-v3-7b9c5d8f6d-x2x4q READY 1/1"
        )),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .last()
            .unwrap()
            .starts_with(&format!("{FAIL} step 2"))
    );
    assert!(
        !sandbox.kube_calls().iter().any(|c| c.contains(" patch ")),
        "without --fix the script only prints the patch"
    );
}

#[test]
fn step_2_with_fix_patches_then_sees_2_of_2() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n\
         0|oc get pods *version=v3*|recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "2", "--fix"]);
    run.assert_code(0);
    let patch = r#"oc patch deployment recommendation-v3 -n tutorial -p {"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}"#;
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
            patch,
            "oc rollout status deployment/recommendation-v3 -n tutorial --timeout=180s",
            "oc get pods -n tutorial -l app=recommendation,version=v3 --no-headers",
        ],
        &run,
    );
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 2"))
    );
}

#[test]
fn step_3_routes_recommendation_to_v3() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get virtualservice recommendation *|version-v3\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/destination-rule-recommendation-v1-v2-v3.yml -n tutorial",
            "oc apply -f istio/virtual-service-recommendation-v3.yml -n tutorial",
            "oc get virtualservice recommendation -n tutorial -o jsonpath={.spec.http[0].route[0].destination.subset}",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 3")));
}

#[test]
fn step_3_verdict_fails_when_the_route_is_not_v3() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get virtualservice recommendation *|version-v1\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "3"]);
    run.assert_code(1);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 3")));
}

#[test]
fn step_4_runs_run_sh_and_checks_every_line_is_v3() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "3");
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(0)
        .assert_stdout_has("$ sh scripts/run.sh 3 gateway.apps.example.test")
        .assert_stdout_has(&format!("# 0: {V3_BODY}\n# 1: {V3_BODY}\n# 2: {V3_BODY}\n"));
    assert_eq!(
        run.verdicts(),
        [format!(
            "{PASS} step 4: 3/3 answers match: customer => preference => recommendation v3 <time> from '<pod>': <n>"
        )]
    );
    assert_calls(&sandbox.kube_calls(), &[WHOAMI], &run);
}

#[test]
fn step_4_verdict_turns_red_when_the_answers_do_not_match() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "3");
    sandbox.scenario(WHOAMI_OK);
    // Still v1 (no VirtualService to v3): the poll gives up after LAB_TIMEOUT.
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(1).assert_stdout_has(V1_BODY);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 4")));
    // One v3 answer, then the error chain: the poll is satisfied, run.sh's lines are not.
    sandbox.answers(&[V3_BODY, V3_BODY, EGRESS_ERROR_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "4"]);
    run.assert_code(1).assert_stdout_has(&format!(
        "first one that does not: # 1: {EGRESS_ERROR_BODY}"
    ));
    assert!(
        run.verdicts()[0].starts_with(&format!("{FAIL} step 4: 1/3 answers match")),
        "{:?}",
        run.verdicts()
    );
}

#[test]
fn steps_5_and_6_apply_the_wrong_port_service_entry_and_the_timeout() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry worldclockapi-egress-rule *|81\n\
         0|oc get virtualservice worldclockapi-timeout *|3s\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "5", "--step", "6"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml -n tutorial",
            "oc get serviceentry worldclockapi-egress-rule -n tutorial -o jsonpath={.spec.ports[*].number}",
            "oc apply -f istio/virtual-service-worldclockapi-timeout.yml -n tutorial",
            "oc get virtualservice worldclockapi-timeout -n tutorial -o jsonpath={.spec.http[0].timeout}",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(verdicts.iter().all(|v| v.starts_with(PASS)), "{verdicts:?}");
}

#[test]
fn step_7_expects_the_error_chain() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    // The first answer is still v3 (config not there yet): the step polls until the error shows.
    sandbox.answers(&[V3_BODY, EGRESS_ERROR_BODY]);
    let mut sandbox = sandbox;
    sandbox.set("LAB_TIMEOUT", "2");
    let run = sandbox.run("egress-lab.sh", &["--step", "7"]);
    run.assert_code(0)
        .assert_stdout_has("$ sh scripts/run.sh 1 gateway.apps.example.test")
        .assert_stdout_has(&format!("# 0: {EGRESS_ERROR_BODY}\n"));
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 7: 1/1")));
    // And red when the call still succeeds.
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "7"]);
    run.assert_code(1);
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} step 7")));
}

#[test]
fn step_8_fixes_the_port_and_sees_v3_again() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "2");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry worldclockapi-egress-rule *|80\n"
    ));
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "8"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial",
            "oc get serviceentry worldclockapi-egress-rule -n tutorial -o jsonpath={.spec.ports[*].number}",
        ],
        &run,
    );
    assert_eq!(run.verdicts().len(), 2);
    assert!(run.verdicts().iter().all(|v| v.starts_with(PASS)));
}

#[test]
fn step_9_deletes_the_service_entry_and_the_timeout() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "9"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc delete serviceentry worldclockapi-egress-rule -n tutorial --ignore-not-found",
            "oc delete virtualservice worldclockapi-timeout -n tutorial --ignore-not-found",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 9")));
}

#[test]
fn step_10_switches_to_registry_only_by_each_method() {
    let cases: [(&str, &[&str]); 3] = [
        (
            "ossm2",
            &[
                "oc patch smcp basic -n istio-system --type merge --patch-file istio/registry-only-ossm2-smcp-patch.yml",
            ],
        ),
        (
            "ossm3",
            &[
                "oc patch istio default --type merge --patch-file istio/registry-only-ossm3-istio-patch.yml",
            ],
        ),
        (
            "sidecar",
            &["oc apply -f istio/sidecar-registry-only.yml -n tutorial"],
        ),
    ];
    for (mesh, commands) in cases {
        let sandbox = Sandbox::new();
        sandbox.scenario(WHOAMI_OK);
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
fn step_10_configmap_is_the_blogs_pipeline() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get configmap istio -n istio-system -o yaml|apiVersion: v1\\nkind: ConfigMap\\ndata:\\n  mesh: |-\\n    outboundTrafficPolicy:\\n      mode: ALLOW_ANY\n"
    ));
    sandbox.answers(&[EGRESS_ERROR_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", "configmap"]);
    run.assert_code(0).assert_stdout_has(
        "$ oc get configmap istio -n istio-system -o yaml | sed 's/mode: ALLOW_ANY/mode: REGISTRY_ONLY/g' | oc replace -n istio-system -f -",
    );
    // The pipeline's two ends run at the same time: their log order is not fixed.
    let mut calls = sandbox.kube_calls();
    calls[1..].sort();
    assert_calls(
        &calls,
        &[
            WHOAMI,
            "oc get configmap istio -n istio-system -o yaml",
            "oc replace -n istio-system -f -",
        ],
        &run,
    );
    let replaced = fs::read_to_string(sandbox.path("stdin.log")).expect("replace read stdin");
    assert!(replaced.contains("mode: REGISTRY_ONLY"), "{replaced}");
    assert!(!replaced.contains("ALLOW_ANY"), "{replaced}");
}

#[test]
fn step_10_rejects_an_unknown_mesh() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("egress-lab.sh", &["--step", "10", "--mesh", "ossm4"]);
    run.assert_code(2).assert_stderr_has("--mesh must be");
    assert!(sandbox.kube_calls().is_empty());
}

#[test]
fn step_11_recreates_the_service_entry() {
    let mut sandbox = Sandbox::new();
    sandbox.set("LAB_COUNT", "2");
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&[V3_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "11"]);
    run.assert_code(0);
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc apply -f istio/service-entry-egress-worldclockapi.yml -n tutorial",
        ],
        &run,
    );
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} step 11: 2/2")));
}

#[test]
fn step_12_prints_the_kiali_url() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc -n istio-system get route kiali *|kiali-istio-system.apps.example.test\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "12"]);
    run.assert_code(0)
        .assert_stdout_has("https://kiali-istio-system.apps.example.test");
}

#[test]
fn step_13_reverts_the_mesh_and_cleans_the_namespace() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get virtualservice -n tutorial -o name|virtualservice.networking.istio.io/customer-gateway\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("egress-lab.sh", &["--step", "13", "--mesh", "ossm3"]);
    run.assert_code(0)
        .assert_stdout_has("$ sh scripts/clean.sh tutorial");
    let calls = sandbox.kube_calls();
    assert_eq!(calls[0], WHOAMI);
    assert_eq!(
        calls[1],
        "oc patch istio default --type merge --patch-file istio/allow-any-ossm3-istio-patch.yml"
    );
    assert!(calls.contains(
        &"oc delete deployment recommendation-v3 -n tutorial --ignore-not-found".to_owned()
    ));
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 13"))
    );
}

#[test]
fn all_steps_with_dry_run_print_every_command_and_run_nothing() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    let run = sandbox.run(
        "egress-lab.sh",
        &["--all", "--dry-run", "--mesh", "configmap"],
    );
    run.assert_code(0);
    assert!(
        sandbox.kube_calls().is_empty(),
        "{:?}",
        sandbox.kube_calls()
    );
    assert!(
        sandbox.curl_calls().is_empty(),
        "{:?}",
        sandbox.curl_calls()
    );
    let out = run.stdout();
    for step in 1..=13 {
        assert!(
            out.contains(&format!("==> Step {step}:")),
            "step {step} missing\n{out}"
        );
    }
    assert!(
        run.verdicts().is_empty(),
        "a dry run has no verdicts: {:?}",
        run.verdicts()
    );
    for line in [
        "$ GATEWAY_URL=$(oc -n istio-system get route istio-ingressgateway -o jsonpath='{.spec.host}')",
        "$ curl $GATEWAY_URL",
        "$ cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial",
        "$ oc apply -f istio/service-entry-egress-worldclockapi-wrong-port.yml -n tutorial",
        "$ sh scripts/run.sh 10 $GATEWAY_URL",
        "$ sh scripts/run.sh 1 $GATEWAY_URL",
        "$ oc delete serviceentry worldclockapi-egress-rule -n tutorial --ignore-not-found",
        "$ oc get configmap istio -n istio-system -o yaml | sed 's/mode: ALLOW_ANY/mode: REGISTRY_ONLY/g' | oc replace -n istio-system -f -",
        "$ sh scripts/clean.sh tutorial",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line {line:?}\n{out}"
        );
    }
}

#[test]
fn all_steps_stop_at_the_first_red_verdict() {
    let sandbox = Sandbox::new();
    sandbox.scenario(WHOAMI_OK);
    sandbox.answers(&["curl: (7) Failed to connect to gateway.apps.example.test port 80"]);
    let run = sandbox.run("egress-lab.sh", &["--all"]);
    run.assert_code(1)
        .assert_stderr_has("Stopped at step 1")
        .assert_stderr_has("--from 1");
    assert!(!run.stdout().contains("==> Step 2"));
}

#[test]
fn namespace_option_reaches_every_command() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry *|81\n0|oc get virtualservice worldclockapi-timeout *|3s\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["-n", "lab42", "--step", "5", "--step", "6", "--step", "9"],
    );
    run.assert_code(1); // step 9 has no v3 answer (fake answers v1): fine, commands are what we check
    let calls = sandbox.kube_calls();
    assert!(calls.len() > 3, "{calls:?}");
    for call in calls.iter().skip(1) {
        assert!(call.contains(" -n lab42"), "{call}");
        assert!(!call.contains("tutorial"), "{call}");
    }
}

// ---------------------------------------------------------------------------------------------
// clean.sh and deploy.sh

#[test]
fn clean_sh_uses_its_namespace_argument_and_keeps_the_ingress_route() {
    let sandbox = Sandbox::new();
    // First listing: before deleting; second listing: what is left.
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\\nvirtualservice.networking.istio.io/recommendation\\nvirtualservice.networking.istio.io/worldclockapi-timeout\n\
         0|oc get virtualservice -n class7 -o name|virtualservice.networking.istio.io/customer-gateway\n"
    ));
    let run = sandbox.run("clean.sh", &["class7"]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert_eq!(
        &calls[..10],
        &[
            WHOAMI,
            "oc get virtualservice -n class7 -o name",
            "oc delete virtualservice.networking.istio.io/recommendation -n class7 --ignore-not-found",
            "oc delete virtualservice.networking.istio.io/worldclockapi-timeout -n class7 --ignore-not-found",
            "oc delete destinationrule --all -n class7 --ignore-not-found",
            "oc delete serviceentry --all -n class7 --ignore-not-found",
            "oc delete sidecar --all -n class7 --ignore-not-found",
            "oc delete peerauthentication --all -n class7 --ignore-not-found",
            "oc delete authorizationpolicy --all -n class7 --ignore-not-found",
            "oc delete requestauthentication --all -n class7 --ignore-not-found",
        ],
        "{}",
        run.all()
    );
    assert!(calls.contains(
        &"oc delete deployment recommendation-v3 -n class7 --ignore-not-found".to_owned()
    ));
    assert!(!calls.iter().any(|c| c.contains("customer-gateway")));
    for call in calls.iter().skip(1) {
        assert!(call.contains(" -n class7"), "{call}");
    }
    assert!(run.verdicts()[0].starts_with(&format!("{PASS} namespace class7")));
}

#[test]
fn clean_sh_verdict_names_what_is_left() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get serviceentry -n tutorial -o name|serviceentry.networking.istio.io/worldclockapi-egress-rule\n"
    ));
    let run = sandbox.run("clean.sh", &[]);
    run.assert_code(1)
        .assert_stdout_has("worldclockapi-egress-rule");
    assert!(run.verdicts()[0].starts_with(&format!("{FAIL} namespace tutorial still has")));
}

#[test]
fn deploy_sh_applies_waits_and_prints_the_patch_for_a_pod_without_sidecar() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods -n demo -l app=customer*|customer-6b8f9c7d5-aaaaa   2/2   Running   0   1m\n\
         0|oc get pods -n demo -l app=preference*|preference-v1-7c9d8b6f5-bbbbb   2/2   Running   0   1m\n\
         0|oc get pods -n demo -l app=recommendation*|recommendation-v1-6cf5ff55d9-7zbj8   1/1   Running   0   1m\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("deploy.sh", &["demo"]);
    run.assert_code(1)
        .assert_stdout_has(r#"oc patch deployment recommendation-v1 -n demo -p '{"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"true"}}}}}'"#)
        .assert_stdout_has("export GATEWAY_URL=gateway.apps.example.test");
    assert_calls(
        &sandbox.kube_calls(),
        &[
            WHOAMI,
            "oc get namespace demo",
            "oc apply -f customer/kubernetes/Deployment.yml -n demo",
            "oc apply -f customer/kubernetes/Service.yml -n demo",
            "oc apply -f preference/kubernetes/Deployment.yml -n demo",
            "oc apply -f preference/kubernetes/Service.yml -n demo",
            "oc apply -f recommendation/kubernetes/Deployment.yml -n demo",
            "oc apply -f recommendation/kubernetes/Service.yml -n demo",
            "oc apply -f kubernetes/customer-gateway.yml -n demo",
            "oc rollout status deployment/customer -n demo --timeout=180s",
            "oc rollout status deployment/preference-v1 -n demo --timeout=180s",
            "oc rollout status deployment/recommendation-v1 -n demo --timeout=180s",
            "oc get pods -n demo -l app=customer,version=v1 --no-headers",
            "oc get pods -n demo -l app=preference,version=v1 --no-headers",
            "oc get pods -n demo -l app=recommendation,version=v1 --no-headers",
        ],
        &run,
    );
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!("{PASS} customer-6b8f9c7d5-aaaaa READY 2/2")));
    assert!(verdicts[2].starts_with(&format!(
        "{FAIL} recommendation-v1-6cf5ff55d9-7zbj8 READY 1/1"
    )));
    assert!(verdicts.last().unwrap().starts_with(FAIL));
}

#[test]
fn deploy_sh_creates_a_missing_project_and_ends_green() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc get namespace tutorial|Error from server (NotFound): namespaces \"tutorial\" not found\n\
         0|oc get pods *|some-pod-1   2/2   Running   0   1m\n"
    ));
    sandbox.answers(&[V1_BODY]);
    let run = sandbox.run("deploy.sh", &["--with-v2"]);
    run.assert_code(0);
    let calls = sandbox.kube_calls();
    assert_eq!(calls[2], "oc new-project tutorial --skip-config-write");
    assert!(calls.contains(
        &"oc apply -f recommendation/kubernetes/Deployment-v2.yml -n tutorial".to_owned()
    ));
    assert!(calls.contains(
        &"oc rollout status deployment/recommendation-v2 -n tutorial --timeout=180s".to_owned()
    ));
    assert!(
        run.verdicts()
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} deployed in tutorial"))
    );
}

#[test]
fn deploy_sh_dry_run_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("deploy.sh", &["--dry-run", "x"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc apply -f customer/kubernetes/Deployment.yml -n x");
    assert!(sandbox.kube_calls().is_empty());
    assert!(sandbox.curl_calls().is_empty());
}

#[test]
fn deploy_sh_points_images_at_image_prefix() {
    let mut sandbox = Sandbox::new();
    sandbox
        .set("IMAGE_PREFIX", "quay.io/trainer")
        .set("IMAGE_TAG", "0.1.0");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0|oc get pods *|some-pod-1   2/2   Running   0   1m\n"
    ));
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
}

#[test]
fn step_2_without_sidecar_shows_the_blogs_1_of_1_and_the_fix() {
    let sandbox = Sandbox::new();
    sandbox.scenario(&format!(
        "{WHOAMI_OK}0!|oc get pods *version=v3*|recommendation-v3-7b9c5d8f6d-x2x4q   1/1   Running   0   41s\n\
         0|oc get pods *version=v3*|recommendation-v3-5f7d9c8b7-abcde   2/2   Running   0   9s\n"
    ));
    let run = sandbox.run(
        "egress-lab.sh",
        &["--step", "2", "--without-sidecar", "--fix"],
    );
    run.assert_code(0).assert_stdout_has(PATCH_V3);
    let calls = sandbox.kube_calls();
    let off = r#"oc patch deployment recommendation-v3 -n tutorial -p {"spec":{"template":{"metadata":{"annotations":{"sidecar.istio.io/inject":"false"}}}}}"#;
    let on = off.replace("\"false\"", "\"true\"");
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} not in {calls:?}"))
    };
    assert!(
        at("cd recommendation && oc apply -f kubernetes/Deployment-v3.yml -n tutorial") < at(off)
    );
    assert!(at(off) < at(&on));
    let verdicts = run.verdicts();
    assert!(verdicts[0].starts_with(&format!(
        "{FAIL} recommendation-v3-7b9c5d8f6d-x2x4q READY 1/1"
    )));
    assert!(
        verdicts
            .last()
            .unwrap()
            .starts_with(&format!("{PASS} step 2"))
    );
}

#[test]
fn gateway_url_falls_back_to_the_ossm3_gateway_namespace() {
    let mut sandbox = Sandbox::new();
    sandbox.set("GATEWAY_URL", "");
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc -n istio-system get route *|Error from server (NotFound)\n\
         0|oc -n istio-ingress get route istio-ingressgateway *|gw-istio-ingress.apps.example.test\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(0);
    assert!(sandbox.curl_calls()[0].ends_with(" http://gw-istio-ingress.apps.example.test"));
    // No Route anywhere: the fix is named.
    sandbox.scenario(&format!(
        "{WHOAMI_OK}1|oc -n * get route *|Error from server (NotFound)\n"
    ));
    let run = sandbox.run("egress-lab.sh", &["--step", "1"]);
    run.assert_code(1).assert_stderr_has("export GATEWAY_URL=");
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
fn clean_sh_dry_run_runs_nothing() {
    let sandbox = Sandbox::new();
    let run = sandbox.run("clean.sh", &["--dry-run", "class9"]);
    run.assert_code(0)
        .assert_stdout_has("$ oc delete deployment recommendation-v3 -n class9 --ignore-not-found");
    assert!(
        sandbox.kube_calls().is_empty(),
        "{:?}",
        sandbox.kube_calls()
    );
}

#[test]
fn run_sh_without_count_loops_until_interrupted() {
    use std::io::{BufRead, BufReader};
    let sandbox = Sandbox::new();
    sandbox.answers(&[V1_BODY]);
    let mut child = Command::new(which("sh").expect("sh"))
        .arg(repo_root().join("scripts/run.sh"))
        .arg("gw.example.test")
        .env_clear()
        .env("PATH", sandbox.path("bin"))
        .env("FAKE_CURL_LOG", sandbox.path("curl.log"))
        .env("FAKE_CURL_BODIES", sandbox.path("bodies"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start run.sh");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Read a good many lines, then interrupt it as Ctrl-C would.
    for i in 0..25 {
        let line = lines.next().expect("a line").expect("utf-8");
        assert_eq!(line, format!("# {i}: {V1_BODY}"));
    }
    child.kill().expect("stop run.sh");
    child.wait().expect("reap run.sh");
}
