//! The kinds' table against the loader's kinds, the scope text, docs/LOCAL-MESH.md and the loader's refusals.

use super::*;

/// The table names every kind the loader takes, once, and no other.
#[test]
fn the_table_is_the_loader_s_kinds_each_once() {
    for k in mesh_manifests::KINDS {
        let rows = LAB_KINDS.iter().filter(|l| l.kind == k.kind).count();
        assert_eq!(rows, 1, "{} has {rows} rows in LAB_KINDS", k.kind);
    }
    for l in LAB_KINDS {
        assert!(
            mesh_manifests::KINDS.iter().any(|k| k.kind == l.kind),
            "{} is not a kind the loader takes",
            l.kind
        );
    }
}

/// The kinds the words of `text` name (a kind or its plural, as a whole word).
fn kinds_named(text: &str) -> Vec<&'static str> {
    let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    LAB_KINDS
        .iter()
        .map(|k| k.kind)
        .filter(|kind| {
            words
                .iter()
                .any(|w| w == kind || w.strip_suffix('s') == Some(kind))
        })
        .collect()
}

/// The scope every refused field quotes names every kind the lab takes — those it runs, the mesh-config
/// kinds and those it notes — and none it refuses.
#[test]
fn the_scope_names_every_kind_the_lab_takes() {
    let scope = scope();
    let named = kinds_named(&scope);
    for k in LAB_KINDS {
        let refused = matches!(k.does, Does::Refuses { .. });
        assert_eq!(named.contains(&k.kind), !refused, "{}: {scope}", k.kind);
    }
}

/// What a row of docs/LOCAL-MESH.md's list says the lab does, by its first word.
fn does_in_words(words: &str) -> &'static str {
    match words.split_whitespace().next() {
        Some("runs") => "runs",
        Some("takes") => "mesh config",
        Some("notes") => "notes",
        Some("refuses") => "refuses",
        other => panic!("docs/LOCAL-MESH.md's kinds list says {other:?}"),
    }
}

fn does_name(does: &Does) -> &'static str {
    match does {
        Does::Runs { .. } => "runs",
        Does::MeshConfig { .. } => "mesh config",
        Does::Notes { .. } => "notes",
        Does::Refuses { .. } => "refuses",
    }
}

/// docs/LOCAL-MESH.md's *Kinds* list names each kind of the table once, saying what the table says.
#[test]
fn the_docs_list_of_kinds_is_the_table() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/LOCAL-MESH.md"
    ))
    .expect("docs/LOCAL-MESH.md");
    let start = doc.find("| kinds | the lab |").expect("the kinds list");
    let end = start + doc[start..].find("\n\n").expect("its end");
    let mut listed: Vec<(String, &str)> = Vec::new();
    for row in doc[start..end].lines().skip(2) {
        let cells: Vec<&str> = row.split('|').collect();
        let does = does_in_words(cells[2]);
        listed.extend(cells[1].split(',').map(|k| (k.trim().to_owned(), does)));
    }
    let table: Vec<(String, &str)> = LAB_KINDS
        .iter()
        .map(|k| (k.kind.to_owned(), does_name(&k.does)))
        .collect();
    assert_eq!(listed, table);
}

/// Where the loader refuses a kind it does not take (or an API Istio removed), the kinds it tells the
/// learner to write instead are kinds the lab runs (or a mesh-config file): never one it refuses or
/// keeps without effect.
#[test]
fn the_loader_s_refusals_point_at_kinds_the_lab_runs() {
    let insteads = mesh_manifests::api::NOT_RUN
        .iter()
        .map(|r| r.instead)
        .chain(mesh_manifests::api::REMOVED.iter().map(|r| r.instead));
    for instead in insteads {
        for kind in kinds_named(instead) {
            assert!(
                matches!(does(kind), Does::Runs { .. } | Does::MeshConfig { .. }),
                "{kind}: {instead}"
            );
        }
    }
}

/// A kind the lab does not take is refused naming what it runs and its mesh-config kinds, with the fix.
#[test]
fn a_kind_the_lab_refuses_is_told_what_it_runs_and_the_fix() {
    assert_eq!(
        refusal("Route", ON_A_CLUSTER),
        "kind Route is not part of the local mesh: it runs Deployment, ServiceEntry, VirtualService, \
         DestinationRule, Gateway, Sidecar, PeerAuthentication, AuthorizationPolicy, RequestAuthentication and \
         takes the mesh mode from the mesh-config files of istio/ (ServiceMeshControlPlane, Istio); apply it on a \
         cluster"
    );
    assert_eq!(does("Route"), Does::Refuses { fix: ON_A_CLUSTER });
    assert_eq!(does("Widget"), Does::Refuses { fix: ON_A_CLUSTER });
}
