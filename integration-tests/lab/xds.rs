//! The delivery as istiod's: every proxy on one ADS stream from the lab's xDS server, no file watched, and
//! what Envoy NACKs on record for `mesh-lab proxy-status` while the lab keeps serving.

use std::path::Path;

use crate::served::Served;

/// The inotify instances held by the lab's Envoys (the processes whose command line names a bootstrap in
/// the lab's directory), by process id; and how many Envoys there are.
fn inotify_of_envoys(lab_dir: &Path) -> (usize, Vec<(u32, usize)>) {
    let mut envoys = 0;
    let mut holding = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !(cmdline.contains("bootstrap.json") && cmdline.contains(&*lab_dir.to_string_lossy())) {
            continue;
        }
        envoys += 1;
        let inotify = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("inotify"))
            })
            .count();
        if inotify > 0 {
            holding.push((pid, inotify));
        }
    }
    (envoys, holding)
}

/// The chain answers through the gateway at `url` (v1 or v2).
async fn chain_answers(url: &str) {
    let body = crate::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("customer => preference => recommendation v"),
        "{body}"
    );
}

/// Four labs start side by side, each Envoy holding no inotify instance (file-based xDS held ten per
/// sidecar: four labs passed the common limit of 128 per user).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_labs_start_side_by_side_with_no_inotify_instance() {
    let (a, b, c, d) = tokio::join!(crate::lab(), crate::lab(), crate::lab(), crate::lab());
    let labs = [a, b, c, d];
    let limit =
        std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances").unwrap_or_default();
    for lab in &labs {
        let (envoys, holding) = inotify_of_envoys(&lab.dir);
        assert!(
            envoys >= 5,
            "the gateway and four sidecars run: {envoys} found"
        );
        assert!(
            holding.is_empty(),
            "Envoys holding inotify instances (pid, count): {holding:?}; limit {limit}"
        );
        chain_answers(&lab.gateway_url).await;
    }
    for lab in labs {
        lab.stop().await;
    }
}

/// A uri regex of 40004 RE2 instructions: Istio's validation takes it (Go compiles it), Envoy refuses it
/// above istio-agent's `re2.max_program_size.error_level` of 32768.
const BIG_REGEX_VS: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: recommendation
spec:
  hosts:
  - recommendation
  http:
  - match:
    - uri:
        regex: \"^/REGEX$\"
    route:
    - destination:
        host: recommendation
  - route:
    - destination:
        host: recommendation
";

/// `proxy-status`'s table: the gateway SYNCED, its four sidecars STALE on RDS, each NACK's reason below.
fn sidecars_stale_on_rds(table: &str) {
    let rows: Vec<Vec<&str>> = table
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split("     ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows[0],
        [
            "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"
        ]
    );
    assert_eq!(rows.len(), 6, "the gateway and four sidecars: {table}");
    for row in &rows[1..] {
        let gateway = row[0] == "istio-ingressgateway.istio-system";
        let rds = if gateway { "SYNCED" } else { "STALE" };
        assert_eq!(
            row[1..6],
            ["Kubernetes", "SYNCED", "SYNCED", "SYNCED", rds],
            "{table}"
        );
    }
    assert!(
        table.contains("Rejected by Envoy (NACK); what it rejected stays as it was:\n")
            && table.matches(" RDS (version ").count() == 4,
        "{table}"
    );
}

/// A configuration every sidecar NACKs is applied, as a cluster applies it; `apply` warns with Envoy's
/// reason, `proxy-status` shows the sidecars STALE on RDS with the reason, the chain keeps answering, and
/// deleting the VirtualService makes every proxy SYNCED again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_envoy_rejects_is_stale_in_proxy_status_and_the_lab_keeps_serving() {
    let served = Served::start().await;
    let file = served.lab.dir.join("big-regex.yml");
    std::fs::write(
        &file,
        BIG_REGEX_VS.replace("REGEX", &"[a-z]{1000}".repeat(40)),
    )
    .unwrap();
    let file = file.display().to_string();
    let (code, out, err) = served.run(&["apply", "-f", &file]).await;
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "virtualservice.networking.istio.io/recommendation created"
    );
    assert_eq!(lines.len(), 5, "a warning per sidecar: {out}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("Warning: the sidecar of ")
                && l.contains("Envoy rejected configuration version")
                && l.contains("(RDS): regex '^/[a-z]{1000}")
                && l.contains("RE2 program size of 40004 > max program size of 32768")),
        "{out}"
    );

    let (code, table, _) = served.run(&["proxy-status"]).await;
    assert_eq!(code, 0);
    sidecars_stale_on_rds(&table);
    chain_answers(&served.lab.gateway_url).await;

    let (code, json, _) = served.run(&["proxy-status", "-o", "json"]).await;
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let errors: Vec<&serde_json::Value> = json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["genericXdsConfigs"].as_array().unwrap())
        .filter(|c| c["configStatus"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 4, "{json}");
    assert!(
        errors[0]["errorState"]["details"]
            .as_str()
            .unwrap()
            .contains("40004")
    );

    let (code, out, _) = served
        .run(&["delete", "virtualservice", "recommendation"])
        .await;
    assert_eq!(code, 0, "{out}");
    let (_, table, _) = served.run(&["proxy-status"]).await;
    assert!(
        !table.contains("STALE") && !table.contains("NACK"),
        "{table}"
    );
    served.stop().await;
}
