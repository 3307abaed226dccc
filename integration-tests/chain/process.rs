//! The binaries as users run them: configuration errors, `--help`, `--healthcheck`, JSON logs, the local runner.
//! SIGTERM draining and secrets in logs are `integration-tests/reliability/` cases (`drain.rs`, `secrets.rs`).

use std::time::Duration;

use integration_tests::{
    get,
    process::{run_to_end, spawn, start},
};

#[test]
fn config_error_names_the_bad_variable() {
    let cases = [
        ("customer", "PORT", "eighty", "not a valid port"),
        ("customer", "PREFERENCE_URL", "htp:/x", "not a valid URL"),
        (
            "customer",
            "DOWNSTREAM_TIMEOUT",
            "30",
            "not a valid duration",
        ),
        (
            "preference",
            "RECOMMENDATION_URL",
            "recommendation:8080",
            "not a valid URL",
        ),
        ("preference", "WORKERS", "0", "at least 1"),
        (
            "recommendation",
            "RECOMMENDATION_VERSION",
            "v4",
            "use v1, v2 or v3",
        ),
        (
            "recommendation",
            "WORLDCLOCK_URL",
            "ftp://worldclockapi.com/",
            "not http or https",
        ),
        (
            "recommendation",
            "WORLDCLOCK_TIMEOUT",
            "soon",
            "not a valid duration",
        ),
        (
            "recommendation",
            "RESPONSE_DELAY",
            "three",
            "not a valid duration",
        ),
        (
            "recommendation",
            "WORLDCLOCK_PROXY",
            "proxy",
            "not a valid URL",
        ),
        (
            "recommendation",
            "SHUTDOWN_TIMEOUT",
            "-1s",
            "not a valid duration",
        ),
        ("recommendation", "LOG_FORMAT", "xml", "use text or json"),
        (
            "worldclock-standin",
            "STANDIN_FAULT",
            "down",
            "not a valid fault",
        ),
        (
            "worldclock-standin",
            "STANDIN_NOW",
            "yesterday",
            "not a valid time",
        ),
    ];
    for (binary, var, value, reason) in cases {
        let out = run_to_end(binary, &[], &[(var, value)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{binary} {var}={value}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{var}=\"{value}\"")) && stderr.contains(reason),
            "{binary} {var}={value}: the message names variable, value and problem: {stderr}"
        );
    }
}

#[test]
fn help_lists_each_binarys_variables() {
    let cases = [
        ("customer", "PREFERENCE_URL"),
        ("preference", "RECOMMENDATION_URL"),
        ("recommendation", "WORLDCLOCK_TIMEOUT"),
        ("worldclock-standin", "STANDIN_FAULT"),
        ("local-chain", "--version"),
    ];
    for (binary, variable) in cases {
        let out = run_to_end(binary, &["--help"], &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{binary} --help exits 0");
        assert!(
            stdout.contains(variable),
            "{binary} --help mentions {variable}: {stdout}"
        );
    }
}

#[tokio::test]
async fn healthcheck_mode_reports_readiness_by_exit_code() {
    let service = start("recommendation", &[]);
    let port = service.url.rsplit(':').next().unwrap().to_owned();
    let healthy = run_to_end("recommendation", &["--healthcheck"], &[("PORT", &port)]);
    assert!(healthy.status.success(), "{healthy:?}");
    drop(service);
    let down = run_to_end("recommendation", &["--healthcheck"], &[("PORT", &port)]);
    assert_eq!(down.status.code(), Some(1), "nothing listens any more");
}

#[tokio::test]
async fn local_chain_serves_the_chain_and_stops_on_ctrl_c() {
    // Arrange
    let mut chain = spawn("local-chain", &["--port", "0", "--version", "v2"], &[]);
    let line = chain.wait_for_line("curl http://localhost:", Duration::from_secs(10));
    let port = line.rsplit(':').next().unwrap().trim();
    // Act
    let first = get(&format!("http://127.0.0.1:{port}")).await;
    chain.signal("INT");
    // Assert
    assert_eq!(
        first,
        (
            200,
            "customer => preference => recommendation v2 from 'recommendation-v2-local': 1\n"
                .into()
        )
    );
    assert!(
        chain.wait_exit(Duration::from_secs(15)).success(),
        "Ctrl-C stops everything, exit 0"
    );
}

#[tokio::test]
async fn json_logs_are_one_object_a_line() {
    let service = spawn(
        "recommendation",
        &[],
        &[("LOG_FORMAT", "json"), ("HOSTNAME", "json")],
    );
    let listening = service.wait_for_line("listening on", Duration::from_secs(10));
    let port = listening.split("127.0.0.1:").nth(1).unwrap();
    let port: String = port.chars().take_while(char::is_ascii_digit).collect();
    get(&format!("http://127.0.0.1:{port}")).await;
    let lines: Vec<String> = std::iter::once(listening).chain(service.finish()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("recommendation request from json: 1")),
        "{lines:#?}"
    );
    for line in lines {
        let value: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            value.get("message").is_some() && value.get("level").is_some(),
            "{line}"
        );
    }
}
