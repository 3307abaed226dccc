use super::*;

fn settings(image: &str) -> Vec<(&'static str, &'static str)> {
    program(image).unwrap().settings.to_vec()
}

#[test]
fn upstream_recommendation_images_fix_the_version_by_tag() {
    let repo = "quay.io/rhdevelopers/istio-tutorial-recommendation";
    assert_eq!(
        settings(&format!("{repo}:v1.2")),
        [("RECOMMENDATION_VERSION", "v1")]
    );
    assert_eq!(
        settings(&format!("{repo}:v2")),
        [("RECOMMENDATION_VERSION", "v2")]
    );
    assert_eq!(
        settings(&format!("{repo}:v2.2-timeout")),
        [("RECOMMENDATION_VERSION", "v2"), ("RESPONSE_DELAY", "3s")]
    );
    assert_eq!(
        settings(&format!("{repo}:v3.2")),
        [("RECOMMENDATION_VERSION", "v3")],
        "before v3.3 upstream's v3 called worldclockapi.com, the service's default"
    );
    assert_eq!(
        settings(&format!("{repo}:3.3")),
        [
            ("RECOMMENDATION_VERSION", "v3"),
            (
                "WORLDCLOCK_URL",
                "http://worldtimeapi.org/api/timezone/Europe/Madrid"
            )
        ]
    );
    assert_eq!(
        program(&format!("{repo}:v2")).unwrap().app,
        "recommendation"
    );
}

#[test]
fn upstream_customer_and_preference_run_those_services() {
    let customer = program("quay.io/rhdevelopers/istio-tutorial-customer:v1.1").unwrap();
    let preference = program("quay.io/rhdevelopers/istio-tutorial-preference:v1").unwrap();
    assert_eq!((customer.app, customer.settings), ("customer", &[][..]));
    assert_eq!(
        (preference.app, preference.settings),
        ("preference", &[][..])
    );
}

#[test]
fn this_repositorys_images_run_their_service_configured_by_the_environment() {
    for (image, app) in [
        ("recommendation:0.1.0", "recommendation"),
        ("customer:0.1.0", "customer"),
        ("istio-tutorial-rs/preference:latest", "preference"),
        (
            "image-registry.openshift-image-registry.svc:5000/tutorial/recommendation@sha256:00ff",
            "recommendation",
        ),
    ] {
        assert_eq!(
            program(image),
            Ok(Program { app, settings: &[] }),
            "{image}"
        );
    }
}

#[test]
fn any_other_image_is_refused_with_what_runs() {
    for image in [
        "quay.io/rhdevelopers/istio-tutorial-recommendation:v4",
        "quay.io/rhdevelopers/istio-tutorial-recommendation",
        "quay.io/rhdevelopers/istio-tutorial-preference:v2",
        "quay.io/someone/istio-tutorial-customer:v1",
        "worldclock-standin:0.1.0",
        "nginx:1.27",
    ] {
        let err = program(image).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "image {image:?} is not one the local mesh can run"
            )),
            "{err}"
        );
        assert!(
            err.contains("e.g. recommendation:0.1.0")
                && err.contains(
                    "quay.io/rhdevelopers/istio-tutorial-recommendation:v2-timeout|v2.1-timeout|v2.2-timeout (recommendation v2, answering after 3 s)"
                ),
            "{err}"
        );
    }
}

#[test]
fn the_local_mesh_doc_lists_this_table() {
    let doc = include_str!("../../../../docs/LOCAL-MESH.md");
    let section = doc
        .split("## Upstream's images")
        .nth(1)
        .expect("docs/LOCAL-MESH.md has an \"Upstream's images\" section");
    let shown: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    let wanted: Vec<String> = UPSTREAM
        .iter()
        .map(|u| {
            let settings: Vec<String> = u
                .settings
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect();
            format!(
                "| `{UPSTREAM_REPOSITORY}{}` | {} | {} | {} |",
                u.app,
                u.tags
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                u.does,
                if settings.is_empty() {
                    "—".to_owned()
                } else {
                    settings.join(" ")
                }
            )
        })
        .collect();
    assert_eq!(
        shown,
        wanted,
        "docs/LOCAL-MESH.md's upstream images differ from UPSTREAM; paste:\n{}",
        wanted.join("\n")
    );
}

#[test]
fn upstreams_local_builds_are_refused_naming_the_published_image_instead_of_running_as_ours() {
    // `example/recommendation:v2` is upstream's v2 built from its source: run as this repository's
    // recommendation it would answer v1, so it is refused, naming what to use instead.
    let err = program("example/recommendation:v2").unwrap_err();
    assert!(
        err.starts_with(
            "image \"example/recommendation:v2\" is the upstream tutorial's local build of its own source, \
             which the local mesh cannot run; use the image upstream publishes for that version \
             (quay.io/rhdevelopers/istio-tutorial-recommendation:TAG, below) or this repository's \
             recommendation:0.1.0 configured by the Deployment's environment"
        ),
        "{err}"
    );
    assert!(
        err.contains("istio-tutorial-recommendation:v2|v2.1|v2.2"),
        "{err}"
    );
    assert!(program("example/customer").is_err());
    // This repository's own images, at any registry, still run.
    assert_eq!(
        program("registry.local/recommendation:0.1.0").unwrap().app,
        "recommendation"
    );
}
