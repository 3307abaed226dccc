//! `mesh-lab up` as a real process: killed with SIGKILL (no chance to clean up), it leaves no Envoy behind
//! holding the lab's ports — every Envoy runs under `setpriv --pdeathsig KILL`.

use std::time::{Duration, Instant};

use integration_tests::process::spawn;

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
    let control = format!(
        "127.0.0.1:{}",
        mesh_lab::dataplane::ports::free_port().unwrap()
    );
    let repo = crate::repo();
    let mut lab = spawn(
        "mesh-lab",
        &[
            "up",
            "--port",
            "0",
            "--graph-port",
            "0",
            "--control",
            &control,
            "--repo",
            repo.to_str().unwrap(),
        ],
        &[],
    );
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
