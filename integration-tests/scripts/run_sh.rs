//! run.sh against the fake curl (its behaviour against the real chain is in chain.rs).

use std::process::{Command, Stdio};

use crate::sandbox::*;

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
        &["3"][..],
        &["1", "http://"][..],
        &["1", "gw example"][..],
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

/// The count given and the URL forgotten (`run.sh 3`): a usage error that says so, not a URL named `3`.
#[test]
fn run_sh_with_a_count_and_no_url_says_the_url_is_missing() {
    let sandbox = Sandbox::new();
    sandbox
        .run("run.sh", &["3"])
        .assert_code(2)
        .assert_stderr_has("run.sh: '3' is a COUNT, and the URL is missing (is GATEWAY_URL set?");
    assert!(sandbox.curl_calls().is_empty());
}
