//! `run.sh` against the real chain: customer -> preference -> recommendation (-> stand-in), all in this
//! process on loopback ports (`integration_tests::spawn_chain`), with the real `curl`.

use std::process::{Command, Output};

use integration_tests::{ChainOptions, RECOMMENDATION_HOST, get, spawn_chain};

use crate::sandbox::{repo_root, require_tool, text};

/// `sh scripts/run.sh COUNT URL` with the system's curl, no proxy.
async fn run_sh_output(count: &str, url: &str) -> Output {
    require_tool("curl", "curl");
    let script = repo_root().join("scripts/run.sh");
    let (count, url) = (count.to_owned(), url.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg(script)
            .arg(count)
            .arg(url)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_PROXY", "*")
            .env("RUN_TIMEOUT", "10")
            .output()
            .expect("run run.sh")
    })
    .await
    .expect("join")
}

/// Exit code and stdout of run.sh; it must print nothing on stderr.
async fn run_sh(count: &str, url: &str) -> (Option<i32>, String) {
    let out = run_sh_output(count, url).await;
    assert!(
        out.stderr.is_empty(),
        "run.sh stderr: {}",
        text(&out.stderr)
    );
    (out.status.code(), text(&out.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sh_prints_three_numbered_chain_lines() {
    let chain = spawn_chain(ChainOptions::default()).await;
    // "localhost:PORT"-style bare host: run.sh adds http://.
    let bare = chain.url().trim_start_matches("http://").to_owned();
    let (code, stdout) = run_sh("3", &bare).await;
    assert_eq!(code, Some(0));
    let expected: String = (0..3)
        .map(|i| {
            format!(
                "# {i}: customer => preference => recommendation v1 from '{RECOMMENDATION_HOST}': {}\n",
                i + 1
            )
        })
        .collect();
    assert_eq!(stdout, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sh_keeps_going_when_recommendation_misbehaves() {
    let chain = spawn_chain(ChainOptions::default()).await;
    let (status, _) = get(&format!("{}/misbehave", chain.recommendation.url)).await;
    assert_eq!(status, 200);
    let (code, stdout) = run_sh("3", chain.url()).await;
    assert_eq!(code, Some(0), "run.sh does not stop on error answers");
    let line = format!(
        "customer => Error: 503 - preference => Error: 503 - recommendation misbehavior from '{RECOMMENDATION_HOST}'"
    );
    let expected: String = (0..3).map(|i| format!("# {i}: {line}\n")).collect();
    assert_eq!(stdout, expected);
    // Back to normal: the counter went on counting the refused requests too (docs/SERVICES.md).
    let (status, _) = get(&format!("{}/behave", chain.recommendation.url)).await;
    assert_eq!(status, 200);
    let (_, stdout) = run_sh("1", chain.url()).await;
    assert_eq!(
        stdout,
        format!(
            "# 0: customer => preference => recommendation v1 from '{RECOMMENDATION_HOST}': 4\n"
        )
    );
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/")
}

/// Nothing listening (the lab not up, a wrong GATEWAY_URL): run.sh stops after five refused connections in a
/// row, or after every request of a shorter run, with a hint on stderr and status 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_sh_stops_with_a_hint_when_nothing_listens() {
    let url = closed_port_url();
    for (count, lines) in [("100", 5), ("2", 2)] {
        let out = run_sh_output(count, &url).await;
        assert_eq!(out.status.code(), Some(3), "count {count}");
        let stdout = text(&out.stdout);
        assert_eq!(stdout.lines().count(), lines, "{stdout}");
        assert!(
            stdout
                .lines()
                .enumerate()
                .all(|(i, l)| l.starts_with(&format!("# {i}: curl: (7) "))),
            "{stdout}"
        );
        assert_eq!(
            text(&out.stderr).lines().next(),
            Some(
                format!(
                    "run.sh: nothing accepted a connection at {url} ({lines} request(s) in a row)."
                )
                .as_str()
            )
        );
        assert!(text(&out.stderr).contains("mesh-lab up"));
    }
}
