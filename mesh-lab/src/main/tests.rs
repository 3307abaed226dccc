use super::*;
use logs::logs_query;
use mesh_lab::lab::inspect::LogsQuery;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from([&["mesh-lab"], args].concat()).unwrap()
}

fn query(args: &[&str]) -> anyhow::Result<(LogsQuery, bool)> {
    match parse(args).command {
        Command::Logs(args) => {
            let follow = args.follow;
            Ok((logs_query(args)?, follow))
        }
        _ => panic!("not logs: {args:?}"),
    }
}

#[test]
fn logs_takes_kubectls_flags() {
    let (q, follow) = query(&[
        "logs",
        "-f",
        "deploy/recommendation-v1",
        "-c",
        "istio-proxy",
        "--tail",
        "3",
        "-n",
        "tutorial",
    ])
    .unwrap();
    assert!(follow);
    assert_eq!(
        q,
        LogsQuery {
            target: "deploy/recommendation-v1".into(),
            container: Some("istio-proxy".into()),
            tail: Some(3),
            since: None,
        }
    );
    let (q, follow) = query(&["logs", "recommendation-v2"]).unwrap();
    assert!(!follow);
    assert_eq!((q.container, q.tail), (None, None));
    let (q, _) = query(&["logs", "--follow", "pod-1", "recommendation", "--tail=-1"]).unwrap();
    assert_eq!(
        (q.container.as_deref(), q.tail),
        (Some("recommendation"), None)
    );
    assert_eq!(query(&["logs", "--tail=0", "x"]).unwrap().0.tail, Some(0));
}

#[test]
fn logs_refuses_what_kubectl_refuses() {
    let both = query(&["logs", "pod-1", "recommendation", "-c", "istio-proxy"]);
    assert_eq!(
        both.unwrap_err().to_string(),
        "error: only one of -c or an inline [CONTAINER] arg is allowed"
    );
    assert_eq!(
        query(&["logs", "pod-1", "--tail", "-2"])
            .unwrap_err()
            .to_string(),
        "error: --tail must be greater than or equal to -1"
    );
}

#[test]
fn scale_takes_kubectls_spellings() {
    for args in [
        &["scale", "deployment/recommendation-v2", "--replicas=2"][..],
        &[
            "scale",
            "deploy/recommendation-v2",
            "--replicas",
            "2",
            "-n",
            "tutorial",
        ],
        &["scale", "--replicas=2", "deployment", "recommendation-v2"],
    ] {
        let Command::Scale(a) = parse(args).command else {
            panic!("not scale: {args:?}");
        };
        let (kind, name) = kind_and_name(&a.kind, a.name.as_deref()).unwrap();
        assert_eq!(
            (mesh_lab::state::parse_kind(kind), name, a.replicas),
            (Some("Deployment"), "recommendation-v2", 2),
            "{args:?}"
        );
    }
}

#[test]
fn guided_takes_ups_serving_flags_and_the_pacing_ones() {
    let Command::Guided(g) =
        parse(&["guided", "egress", "--step", "2", "--step", "4", "-i"]).command
    else {
        panic!("not guided")
    };
    assert_eq!((g.steps, g.from, g.interactive), (vec![2, 4], None, true));
    // up's defaults: the gateway on 8080, the graph on Kiali's port.
    assert_eq!(
        (g.port, g.graph_port),
        (8080, mesh_lab::observe::graph::DEFAULT_PORT)
    );
    let Command::Guided(g) =
        parse(&["guided", "routing", "--from", "5", "--graph-port", "0"]).command
    else {
        panic!("not guided")
    };
    assert_eq!((g.from, g.graph_port, g.interactive), (Some(5), 0, false));
    let both = Cli::try_parse_from(["mesh-lab", "guided", "egress", "--step", "2", "--from", "3"]);
    assert!(both.is_err(), "--step and --from together are refused");
}
