//! `mesh-lab up` as a real process: killed with SIGKILL (no chance to clean up), it leaves no Envoy behind
//! holding the lab's ports — every Envoy runs under `setpriv --pdeathsig KILL`.

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
