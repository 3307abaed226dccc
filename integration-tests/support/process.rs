//! Service binaries as real processes: signals, exit codes, per-process telemetry, and [`start_chain`], the
//! chain as three processes every process test uses.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// A workspace binary built by `cargo build --workspace` (the README's test command builds them first).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// Runs `name` with `env` to completion (for `--help` and configuration errors), bounded to 10 s.
pub fn run_to_end(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(binary(name))
        .args(args)
        .envs([("PORT", "0"), ("BIND_ADDRESS", "127.0.0.1")])
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let exited = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() && Instant::now() < exited {
        std::thread::sleep(Duration::from_millis(10));
    }
    if child.try_wait().expect("wait").is_none() {
        let _ = child.kill();
        panic!("{name} {args:?} did not exit within 10s");
    }
    child.wait_with_output().expect("output")
}

/// A running service process, killed when dropped. Its stdout lines arrive on `lines`.
pub struct Proc {
    pub child: Child,
    pub url: String,
    pub lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Waits (bounded) for a stdout line containing `needle`.
    pub fn wait_for_line(&self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line containing {needle:?} within {within:?}"),
            }
        }
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        crate::wait::until("the process to exit", within, || {
            self.child.try_wait().expect("wait")
        })
    }

    /// Sends `signal` (e.g. `libc`'s SIGTERM = 15) with the `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status();
        assert!(
            status.expect("kill runs").success(),
            "kill -{signal} failed"
        );
    }
}

impl Proc {
    /// Kills the process and returns every stdout line not yet read (bounded to 5 s).
    pub fn finish(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            rest.push(line);
        }
        rest
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `name` on a free loopback port and waits (bounded) for its "listening on" log line.
pub fn start(name: &str, env: &[(&str, &str)]) -> Proc {
    let mut proc = spawn(name, &[], env);
    let line = proc.wait_for_line("listening on 127.0.0.1:", Duration::from_secs(10));
    let port: String = line
        .split("listening on 127.0.0.1:")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    proc.url = format!("http://127.0.0.1:{port}");
    proc
}

/// Starts `name` with `args` on a free loopback port; `url` stays empty until the caller sets it.
pub fn spawn(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut child = Command::new(binary(name))
        .args(args)
        .envs([
            ("PORT", "0"),
            ("BIND_ADDRESS", "127.0.0.1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("RUST_LOG", "info"),
            ("LOG_FORMAT", "text"),
        ])
        .envs(env.iter().copied())
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc {
        child,
        url: String::new(),
        lines,
    }
}

/// customer → preference → recommendation as three processes, each wired to the next.
pub struct ProcChain {
    pub customer: Proc,
    pub preference: Proc,
    pub recommendation: Proc,
}

impl ProcChain {
    /// The three, customer first.
    pub fn all(&self) -> [&Proc; 3] {
        [&self.customer, &self.preference, &self.recommendation]
    }

    /// Kills the three and returns every stdout line none of them had delivered yet.
    pub fn finish(self) -> Vec<String> {
        let mut lines = self.customer.finish();
        lines.extend(self.preference.finish());
        lines.extend(self.recommendation.finish());
        lines
    }
}

/// Starts recommendation, preference and customer on free loopback ports, in that order: each gets `every`,
/// then its own variables from `own` (customer's, preference's, recommendation's), then the URL of its next hop.
pub fn start_chain(every: &[(&str, &str)], own: [&[(&str, &str)]; 3]) -> ProcChain {
    let [customer_own, preference_own, recommendation_own] = own;
    let env = |own: &[(&str, &str)], next: Option<(&str, &str)>| -> Vec<(String, String)> {
        every
            .iter()
            .chain(own)
            .chain(next.as_ref())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let start_with = |name: &str, env: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        start(name, &pairs)
    };
    let recommendation = start_with("recommendation", env(recommendation_own, None));
    let preference = start_with(
        "preference",
        env(
            preference_own,
            Some(("RECOMMENDATION_URL", &recommendation.url)),
        ),
    );
    let customer = start_with(
        "customer",
        env(customer_own, Some(("PREFERENCE_URL", &preference.url))),
    );
    ProcChain {
        customer,
        preference,
        recommendation,
    }
}
