//! `mesh-lab up` as a real process: killed with SIGKILL (no chance to clean up), it leaves no Envoy behind
//! holding the lab's ports — every Envoy runs under `setpriv --pdeathsig KILL`. And `mesh-lab guided` as one:
//! paced by Enter on its standard input, serving `show` and the graph meanwhile, `--step`, Ctrl-C, usage errors.

use std::time::{Duration, Instant};

use integration_tests::process::{Proc, spawn};

/// The pids of the processes whose parent is `pid` and whose command line names Envoy's bootstrap.
fn envoy_children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // pid (comm) state ppid …: the comm may hold spaces, so split after its closing parenthesis.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read_to_string(format!("/proc/{child}/cmdline")).unwrap_or_default();
        if ppid == Some(pid) && cmdline.contains("bootstrap.json") {
            out.push(child);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_killed_lab_leaves_no_envoy_behind() {
    let mut lab = up();
    lab.wait_for_line("Ctrl-C stops the lab", Duration::from_secs(60));
    let envoys = envoy_children(lab.child.id());
    lab.signal("KILL");
    let _ = lab.wait_exit(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while envoys.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<u32> = envoys.iter().copied().filter(|p| alive(*p)).collect();
    for p in &left {
        let _ = std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status();
    }
    assert_eq!(
        envoys.len(),
        5,
        "the gateway and four sidecars run under the lab: {envoys:?}"
    );
    assert!(left.is_empty(), "Envoys outlived the killed lab: {left:?}");
}

/// `mesh-lab up` on ephemeral ports, its directory the default temporary one.
fn up() -> Proc {
    up_on(&free_control(), 0, &[])
}

/// A free loopback address for a lab's control endpoint.
pub(crate) fn free_control() -> String {
    format!(
        "127.0.0.1:{}",
        mesh_lab::dataplane::ports::free_port().unwrap()
    )
}

/// `mesh-lab up` as a process with its control endpoint on `control`, the gateway on `gateway_port` (0: any)
/// and `options` after the rest.
pub(crate) fn up_on(control: &str, gateway_port: u16, options: &[&str]) -> Proc {
    let repo = crate::repo();
    let port = gateway_port.to_string();
    let mut args = vec![
        "up",
        "--port",
        &port,
        "--graph-port",
        "0",
        "--control",
        control,
        "--repo",
        repo.to_str().unwrap(),
    ];
    args.extend_from_slice(options);
    spawn("mesh-lab", &args, &[])
}

/// The lab's directory, from the banner's `files:` line.
fn files_dir(lab: &Proc) -> std::path::PathBuf {
    let line = lab.wait_for_line("  files:", Duration::from_secs(60));
    line.trim().trim_start_matches("files:").trim().into()
}

/// The lab's keys never outlive it: a lab stopped with Ctrl-C removes its directory; one killed with SIGKILL
/// cannot, and the next `up` removes it before starting (its process is gone).
#[test]
fn a_lab_leaves_no_keys_behind_past_the_next_start() {
    use std::os::unix::fs::PermissionsExt;
    let mut killed = up();
    let killed_dir = files_dir(&killed);
    killed.wait_for_line("Ctrl-C stops the lab", Duration::from_secs(60));
    let mode = std::fs::metadata(&killed_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the lab's directory is its user's only");
    killed.signal("KILL");
    let _ = killed.wait_exit(Duration::from_secs(10));
    assert!(killed_dir.exists(), "SIGKILL leaves the directory");

    let control = free_control();
    let mut next = up_on(&control, 0, &[]);
    let next_dir = files_dir(&next);
    next.wait_for_line("Ctrl-C stops the lab", Duration::from_secs(60));
    let port = control.rsplit(':').next().unwrap().parse().unwrap();
    let secret = mesh_lab::lab::access::secret_file(port).unwrap();
    assert!(secret.exists(), "up wrote {}", secret.display());
    assert!(
        !killed_dir.exists(),
        "the next up removed {}",
        killed_dir.display()
    );
    next.signal("INT");
    assert!(next.wait_exit(Duration::from_secs(30)).success());
    assert!(!next_dir.exists(), "Ctrl-C removed {}", next_dir.display());
    assert!(!secret.exists(), "Ctrl-C removed {}", secret.display());
}

/// The control endpoint listens before the lab starts (its socket bound first), so a command sent while the
/// pods are still starting waits for the lab instead of failing with "no lab answers".
#[test]
fn a_command_sent_while_the_lab_starts_waits_for_it() {
    let control = free_control();
    let gateway = mesh_lab::dataplane::ports::free_port().unwrap();
    let mut lab = up_on(&control, gateway, &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&control).is_err() {
        assert!(Instant::now() < deadline, "the control port never listened");
        std::thread::yield_now();
    }
    // The gateway's Envoy takes a while to start: the control port was there before it.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", gateway)).is_err(),
        "the control port listened only once the gateway did"
    );
    // Bounded: the command's own client waits up to 60 s for an answer.
    let show = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
        .args(["show", "--json"])
        .env("MESH_LAB_CONTROL", &control)
        .output()
        .unwrap();
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    lab.wait_for_line("Ctrl-C stops the lab", Duration::from_secs(60));
    lab.signal("INT");
    assert!(lab.wait_exit(Duration::from_secs(30)).success());
}

/// `mesh-lab guided ARGS…` as a process on free ports (gateway, graph, control), its standard input a pipe
/// the test writes Enter lines to; the control address it was given.
fn guided(args: &[&str]) -> (Proc, String) {
    use std::io::BufRead;
    let control = free_control();
    let repo = crate::repo();
    let mut child = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
        .arg("guided")
        .args(args)
        .args(["--port", "0", "--graph-port", "0", "--control", &control])
        .args(["--repo", repo.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("spawn mesh-lab guided");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let proc = Proc {
        child,
        url: String::new(),
        lines,
    };
    (proc, control)
}

/// Every line up to (and with) the first containing `needle`, bounded.
fn lines_until(p: &Proc, needle: &str, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.lines.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!(
                    "the process ended before a line containing {needle:?} (its stderr is above); saw {seen:#?}"
                )
            }
            Err(_) => panic!("no line containing {needle:?} within {within:?}; saw {seen:#?}"),
        }
    }
}

/// `GET /` of the graph page at `addr` (`127.0.0.1:PORT`), as a browser on this machine sends it: the status
/// line and the body.
fn graph_page(addr: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// `-i --from 7`: steps 1-6 caught up quietly, then step 7 previewed and held until Enter; meanwhile
/// `mesh-lab show` (through the printed MESH_LAB_CONTROL) sees the lab and the graph page answers; the end of
/// the input before step 8 stops the run cleanly, the lab's directory removed.
#[test]
fn a_paced_guided_run_waits_for_enter_and_serves_show_and_the_graph_meanwhile() {
    use std::io::Write;
    let (mut run, _) = guided(&["security", "-i", "--from", "7"]);
    let graph = lines_until(&run, "  graph:    http://", Duration::from_secs(60));
    let graph = graph.last().unwrap().split("http://").nth(1).unwrap();
    let graph = graph.split('/').next().unwrap().to_owned();
    let dir = files_dir(&run);
    let export = lines_until(&run, "  export GATEWAY_URL=", Duration::from_secs(5));
    let control = export
        .last()
        .unwrap()
        .split("MESH_LAB_CONTROL=")
        .nth(1)
        .unwrap()
        .trim()
        .to_owned();
    let before = lines_until(&run, "press Enter to run step 7", Duration::from_secs(60));
    let caught: Vec<&String> = before
        .iter()
        .filter(|l| l.contains("(catching up)"))
        .collect();
    assert_eq!(caught.len(), 6, "{before:#?}");
    for (i, l) in caught.iter().enumerate() {
        assert!(
            l.starts_with(&format!("  (catching up) step {} ", i + 1)) && l.ends_with(" … ✔"),
            "{l}"
        );
    }
    assert!(
        !before.iter().any(|l| l.starts_with("━━ Step 6")),
        "{before:#?}"
    );
    let i = before
        .iter()
        .position(|l| l.starts_with("━━ Step 7: end-user JWT"))
        .expect("step 7's title");
    assert_eq!(
        &before[i + 1..],
        [
            "  on a cluster: oc apply -f istio/request-authentication-customer-jwt.yml -n tutorial",
            "  in the lab: mesh-lab apply -f istio/request-authentication-customer-jwt.yml",
            "  press Enter to run step 7 (Ctrl-C stops the lab)",
        ]
    );
    // While it waits: another terminal's show, through the printed control address, and the graph page.
    let show = std::process::Command::new(integration_tests::process::binary("mesh-lab"))
        .arg("show")
        .env("MESH_LAB_CONTROL", &control)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert!(
        text.contains("deny-all") && !text.contains("customer-jwt"),
        "step 7 has not run: {text}"
    );
    let (status, body) = graph_page(&graph);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("<svg"), "{body}");
    let mut stdin = run.child.stdin.take().unwrap();
    stdin.write_all(b"\n").unwrap();
    let step7 = lines_until(&run, "press Enter to run step 8", Duration::from_secs(60));
    assert!(
        step7
            .iter()
            .any(|l| l == "  ✔ the chain answers for the token's subject"),
        "{step7:#?}"
    );
    drop(stdin);
    let end = lines_until(&run, "step(s) passed", Duration::from_secs(30));
    assert!(
        end.iter()
            .any(|l| l == "the standard input ended: stopping before step 8 (the steps above ran)"),
        "{end:#?}"
    );
    assert!(run.wait_exit(Duration::from_secs(30)).success());
    assert!(!dir.exists(), "the run removed {}", dir.display());
}

/// `--step 2 --step 4`: step 1 caught up, step 2 in full, step 3 caught up, step 4 in full, and the run ends
/// there.
#[test]
fn guided_steps_show_the_steps_asked_for_after_catching_up() {
    let (mut run, _) = guided(&["security", "--step", "2", "--step", "4"]);
    let lines = lines_until(&run, "step(s) passed", Duration::from_secs(120));
    assert!(
        run.wait_exit(Duration::from_secs(30)).success(),
        "{lines:#?}"
    );
    let at = |p: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no line {p:?} in {lines:#?}"))
    };
    let order = [
        at("  (catching up) step 1 mutual TLS is already on"),
        at("━━ Step 2: PeerAuthentication STRICT"),
        at("  ✔ STRICT: the sidecar refuses plain text"),
        at("  (catching up) step 3 AuthorizationPolicy deny-all (ALLOW with no rules) … ✔"),
        at("━━ Step 4: anyone may call customer"),
        at("  ✔ 503 `customer => Error: 403 - RBAC: access denied`"),
        at("6 step(s) passed, 0 failed"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{lines:#?}");
    for absent in [
        "━━ Step 1",
        "━━ Step 3",
        "━━ Step 5",
        "(catching up) step 5",
    ] {
        assert!(
            !lines.iter().any(|l| l.contains(absent)),
            "{absent}: {lines:#?}"
        );
    }
}

/// Ctrl-C while a paced run waits for Enter: it says so, exits 130 and leaves neither the lab's directory
/// (its keys) nor the control secret.
#[test]
fn ctrl_c_while_a_paced_run_waits_stops_it_with_130_and_no_keys_left() {
    let (mut run, control) = guided(&["chaos", "-i"]);
    let dir = files_dir(&run);
    lines_until(&run, "press Enter to run step 1", Duration::from_secs(60));
    let port = control.rsplit(':').next().unwrap().parse().unwrap();
    let secret = mesh_lab::lab::access::secret_file(port).unwrap();
    assert!(dir.exists() && secret.exists());
    run.signal("INT");
    let said = lines_until(&run, "guided stopping (SIGINT)", Duration::from_secs(30));
    assert!(
        !said
            .iter()
            .any(|l| l.starts_with("━━ Step 1") && l.contains("✔"))
    );
    assert_eq!(run.wait_exit(Duration::from_secs(30)).code(), Some(130));
    assert!(!dir.exists(), "Ctrl-C removed {}", dir.display());
    assert!(!secret.exists(), "Ctrl-C removed {}", secret.display());
}

/// Usage errors name what is wrong before any Envoy starts: a step the chapter lacks (naming its steps),
/// `--step` with `all`, a taken graph port.
#[test]
fn guided_usage_errors_name_the_fix() {
    use integration_tests::process::run_to_end;
    let out = run_to_end("mesh-lab", &["guided", "egress", "--step", "13"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "mesh-lab: the egress chapter has no step 13: its steps are 1 to 12 (mesh-lab guided --help)\n"
    );
    let out = run_to_end("mesh-lab", &["guided", "all", "--from", "2"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("name the chapter"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let control = free_control();
    let repo = crate::repo();
    let out = run_to_end(
        "mesh-lab",
        &[
            "guided",
            "chaos",
            "--graph-port",
            &port,
            "--control",
            &control,
            "--port",
            "0",
            "--repo",
            repo.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("the graph cannot listen on 127.0.0.1:{port}"))
            && err.contains("--graph-port PORT"),
        "{err}"
    );
}
