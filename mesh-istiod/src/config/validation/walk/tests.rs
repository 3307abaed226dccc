//! The walk itself, and checks of its machinery.

use super::*;

#[test]
fn every_field_of_every_kind_is_translated_or_refused_by_name() {
    let problems = problems(&registry());
    assert!(
        problems.is_empty(),
        "{} fields are neither translated nor refused by name:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn leaf(path: &[&str]) -> Leaf {
    Leaf {
        path: path
            .iter()
            .map(|p| match *p {
                "0" => Seg::Index,
                f => Seg::Field(f.to_owned()),
            })
            .collect(),
        format: Format::Str,
        map: false,
        fills: vec![(
            vec![
                Seg::Field("http".into()),
                Seg::Index,
                Seg::Field("route".into()),
            ],
            json!([]),
        )],
    }
}

#[test]
fn a_refusal_names_the_field_or_a_block_holding_it() {
    let l = leaf(&["http", "0", "corsPolicy", "maxAge"]);
    assert_eq!(l.dotted(), "spec.http.0.corsPolicy.maxAge");
    assert!(names_field(
        "field spec.http.0.corsPolicy is not supported",
        &l
    ));
    assert!(names_field("spec.http.0.corsPolicy.maxAge: bad", &l));
    assert!(!names_field("spec.http.0.cors is not supported", &l));
    assert!(!names_field("field spec is not supported", &l));
    let hosts = leaf(&["host"]);
    assert!(!names_field("spec.hosts.0 \"x\": no", &hosts));
}

#[test]
fn a_field_is_set_in_the_first_element_and_required_fields_are_filled_where_missing() {
    let base = json!({"spec": {"http": [{"route": [{"weight": 1}]}, {"name": "second"}]}});
    let doc = with_field(&base, &leaf(&["http", "0", "timeout"]), json!("3s"));
    assert_eq!(
        doc,
        json!({"spec": {"http": [{"route": [{"weight": 1}], "timeout": "3s"}, {"name": "second"}]}})
    );
    let empty = json!({"spec": {}});
    let doc = with_field(&empty, &leaf(&["http", "0", "timeout"]), json!("3s"));
    assert_eq!(
        doc,
        json!({"spec": {"http": [{"route": [], "timeout": "3s"}]}})
    );
}

#[test]
fn every_kind_the_lab_runs_from_the_istio_apis_is_walked() {
    use crate::config::validation::kinds::{Does, LAB_KINDS};
    let walked: BTreeSet<&str> = kinds::KINDS
        .iter()
        .map(|k| k.spec.trim_end_matches("Spec"))
        .collect();
    // The Kubernetes kinds the lab runs: their fields are the pod's, checked by registry.rs.
    let kubernetes = ["Deployment", "Service", "ServiceAccount"];
    for k in LAB_KINDS {
        if matches!(k.does, Does::Runs { .. }) && !kubernetes.contains(&k.kind) {
            assert!(walked.contains(k.kind), "{} is not walked", k.kind);
        }
    }
}
