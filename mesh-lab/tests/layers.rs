//! The layers a newcomer sees in the folders hold in the code: in mesh-lab no module uses one from a
//! layer above its own (state → xds → dataplane → lab → observe → guided → cli), and in mesh-istiod no two
//! modules use each other, directly or through others. Read from the sources' `crate::` paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// mesh-lab's layers, lowest first.
const LAYERS: &[&str] = &[
    "state",
    "xds",
    "dataplane",
    "lab",
    "observe",
    "guided",
    "cli",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source folder reads") {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A source file's module path under `src` (`networking/core/egress/tests.rs` → `networking::core::egress`,
/// a `mod.rs` names its folder, a `tests.rs` its parent module). The binary's own modules (`main/`, beside
/// `main.rs`) sit above every layer with it: empty, as `main.rs`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("the file is under src");
    if rel.starts_with("main") {
        return Vec::new();
    }
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    while parts
        .last()
        .is_some_and(|p| p == "mod" || p == "tests" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// Every `crate::a::b::…` path a file's code names (comments aside: a doc link is no use), as its
/// segments (lowercase ones only: modules).
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let mut segs = Vec::new();
        let mut s = rest;
        loop {
            let end = s
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(s.len());
            let seg = &s[..end];
            if seg.is_empty() || !seg.starts_with(|c: char| c.is_ascii_lowercase()) {
                break;
            }
            segs.push(seg.to_owned());
            s = &s[end..];
            match s.strip_prefix("::") {
                Some(next) => s = next,
                None => break,
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

#[test]
fn no_mesh_lab_module_uses_a_layer_above_its_own() {
    let src = crate_src("mesh-lab");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let rank = |m: &[String]| m.first().and_then(|l| LAYERS.iter().position(|x| x == l));
    let mut wrong = Vec::new();
    for file in &files {
        let me = module_of(&src, file);
        let Some(mine) = rank(&me) else {
            continue; // lib.rs and main.rs sit above every layer
        };
        let text = std::fs::read_to_string(file).unwrap();
        for path in crate_paths(&text) {
            if rank(&path).is_some_and(|theirs| theirs > mine) {
                wrong.push(format!(
                    "{} uses crate::{}",
                    file.display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a lower layer uses a higher one:\n{}",
        wrong.join("\n")
    );
    // Every folder of src/ is a layer of the list (a new one is placed in it on purpose).
    for file in &files {
        let me = module_of(&src, file);
        assert!(
            me.is_empty() || rank(&me).is_some(),
            "{} is in no layer of {LAYERS:?}",
            file.display()
        );
    }
}

#[test]
fn mesh_istiod_modules_form_no_cycle() {
    let src = crate_src("mesh-istiod");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    for file in &files {
        modules.insert(module_of(&src, file));
    }
    // The module a path names: its longest prefix that is a module of the crate.
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let mut uses: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let me = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for path in crate_paths(text) {
            if let Some(m) = resolve(&path) {
                // A parent re-exporting its children is not a use; neither is the helpers module.
                if m != me && !m.starts_with(&me) && m != ["fixtures"] {
                    uses.entry(me.clone()).or_default().insert(m);
                }
            }
        }
    }
    // Depth-first search for a path back to where it started.
    fn cycle_from(
        start: &Vec<String>,
        at: &Vec<String>,
        uses: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        trail: &mut Vec<Vec<String>>,
        seen: &mut BTreeSet<Vec<String>>,
    ) -> bool {
        for next in uses.get(at).into_iter().flatten() {
            trail.push(next.clone());
            if next == start
                || (seen.insert(next.clone()) && cycle_from(start, next, uses, trail, seen))
            {
                return true;
            }
            trail.pop();
        }
        false
    }
    for m in uses.keys() {
        let mut trail = vec![m.clone()];
        if cycle_from(m, m, &uses, &mut trail, &mut BTreeSet::new()) {
            let names: Vec<String> = trail.iter().map(|p| p.join("::")).collect();
            panic!("a module cycle in mesh-istiod: {}", names.join(" → "));
        }
    }
}
