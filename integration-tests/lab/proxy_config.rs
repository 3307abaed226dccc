//! `mesh-lab proxy-config` (the built binary against a lab's control endpoint) after the 90/10 split and
//! its DestinationRule: each section as istioctl's table, read from the sidecar's own Envoy (its routes,
//! subset clusters, endpoints, outbound listener, certificates), `-o json` and the unknown pod's error.

use serde_json::Value;

use crate::served::Served;

/// The table's cells, cut where the header's `columns` start (tabwriter aligns every line to them).
fn table(text: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let header = text.lines().next().expect("a header line");
    let mut starts = Vec::new();
    let mut from = 0;
    for c in columns {
        let at = from
            + header[from..]
                .find(c)
                .unwrap_or_else(|| panic!("{c} in {header:?}"));
        starts.push(at);
        from = at + c.len();
    }
    assert_eq!(&header[from..], "", "the header is the columns");
    text.lines()
        .map(|l| {
            let cell = |i: usize| {
                let end = starts.get(i + 1).map_or(l.len(), |e| (*e).min(l.len()));
                l.get(starts[i].min(end)..end)
                    .unwrap_or_default()
                    .trim_end()
                    .to_owned()
            };
            (0..starts.len()).map(cell).collect()
        })
        .collect()
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

/// `mesh-lab proxy-config ARGS…`, which must succeed: its standard output.
async fn pc(served: &Served, args: &[&str]) -> String {
    let mut all = vec!["proxy-config"];
    all.extend_from_slice(args);
    let (code, out, err) = served.run(&all).await;
    assert_eq!((code, err.as_str()), (0, ""), "mesh-lab {all:?}: {out}");
    out
}

const ROUTES: &[&str] = &["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"];
const CLUSTERS: &[&str] = &[
    "SERVICE FQDN",
    "PORT",
    "SUBSET",
    "DIRECTION",
    "TYPE",
    "DESTINATION RULE",
];
const SECRETS: &[&str] = &[
    "RESOURCE NAME",
    "TYPE",
    "STATUS",
    "VALID CERT",
    "SERIAL NUMBER",
    "NOT AFTER",
    "NOT BEFORE",
];
const REC: &str = "recommendation.tutorial.svc.cluster.local";

#[tokio::test]
async fn proxy_config_reads_each_section_from_the_sidecars_envoy() {
    let served = Served::start().await;
    for f in [
        "destination-rule-recommendation-v1-v2.yml",
        "virtual-service-recommendation-v1-v2-90-10.yml",
    ] {
        let path = crate::istio(f);
        let (code, _, err) = served.run(&["apply", "-f", path.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{err}");
    }
    let customer = served.lab.pod_name("customer").await.unwrap();
    let show = served.lab.show().await.unwrap();
    let inbound = |d: &str| {
        let w = show.workloads.iter().find(|w| w.name == d).unwrap();
        w.inbound.clone().unwrap()
    };

    let routes = table(&pc(&served, &["routes", &customer]).await, ROUTES);
    assert_eq!(routes[0], row(ROUTES));
    // The route names its VirtualService as istiod records it (`filter_metadata.istio.config`).
    let vhost = format!("{REC}:8080");
    let domains = format!("{REC}., recommendation + 1 more...");
    assert!(
        routes.contains(&row(&[
            "8080",
            &vhost,
            &domains,
            "/*",
            "recommendation.tutorial"
        ])),
        "{routes:?}"
    );
    // That route is the VirtualService's 90/10 split, as Envoy has it.
    let json: Value = serde_json::from_str(
        &pc(
            &served,
            &["routes", &customer, "--name", "8080", "-o", "json"],
        )
        .await,
    )
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    let vh = json[0]["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == vhost.as_str())
        .unwrap();
    let weights: Vec<(String, u64)> = vh["routes"][0]["route"]["weighted_clusters"]["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    let subset = |s: &str| format!("outbound|8080|{s}|{REC}");
    assert_eq!(
        weights,
        [(subset("version-v1"), 90), (subset("version-v2"), 10)]
    );

    let clusters = table(
        &pc(
            &served,
            &["clusters", &customer, "--fqdn", "recommendation"],
        )
        .await,
        CLUSTERS,
    );
    assert_eq!(
        clusters,
        [
            row(CLUSTERS),
            row(&[
                REC,
                "8080",
                "-",
                "outbound",
                "EDS",
                "recommendation.tutorial"
            ]),
            row(&[
                REC,
                "8080",
                "version-v1",
                "outbound",
                "EDS",
                "recommendation.tutorial"
            ]),
            row(&[
                REC,
                "8080",
                "version-v2",
                "outbound",
                "EDS",
                "recommendation.tutorial"
            ]),
        ]
    );

    let endpoints = table(
        &pc(&served, &["endpoints", &customer]).await,
        &["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"],
    );
    for (d, s) in [
        ("recommendation-v1", "version-v1"),
        ("recommendation-v2", "version-v2"),
    ] {
        let want = row(&[&inbound(d), "HEALTHY", "OK", &subset(s)]);
        assert!(endpoints.contains(&want), "{want:?} in {endpoints:?}");
    }

    let listeners = table(
        &pc(&served, &["listeners", &customer]).await,
        &["ADDRESSES", "PORT", "MATCH", "DESTINATION"],
    );
    assert!(
        listeners
            .iter()
            .any(|l| l[2] == "ALL" && l[3] == "Route: 8080"),
        "{listeners:?}"
    );

    let secrets = table(&pc(&served, &["secret", &customer]).await, SECRETS);
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    for (line, name, kind) in [(1, "default", "Cert Chain"), (2, "ROOTCA", "CA")] {
        assert_eq!(secrets[line][..4], row(&[name, kind, "ACTIVE", "true"]));
        assert_eq!(secrets[line][4].len(), 32);
        assert!(secrets[line][4].chars().all(|c| c.is_ascii_hexdigit()));
    }

    for section in ["clusters", "listeners", "endpoints"] {
        let out = pc(&served, &[section, "deploy/customer", "-o", "json"]).await;
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert!(!parsed.as_array().unwrap().is_empty(), "{section}");
    }
    let secret: Value =
        serde_json::from_str(&pc(&served, &["secret", &customer, "-o", "json"]).await).unwrap();
    assert_eq!(secret["dynamic_active_secrets"][0]["name"], "default");

    let (code, out, err) = served.run(&["pc", "routes", "recommendation-v9"]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    let mut lines = err.lines();
    assert_eq!(
        lines.next(),
        Some("Error from server (NotFound): pods \"recommendation-v9\" not found")
    );
    let pods = lines.next().unwrap();
    assert!(
        pods.starts_with("the lab's pods: ") && pods.contains(&customer),
        "{err}"
    );
    served.stop().await;
}
