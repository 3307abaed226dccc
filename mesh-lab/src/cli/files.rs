//! `-f FILE|DIR|-` and `-R` as kubectl reads them (k8s.io/cli-runtime pkg/resource: `Builder.Path`,
//! `ExpandPathsToFileVisitors`): a file is taken whatever its name; a directory gives its `.json`, `.yaml` and
//! `.yml` files in lexical order (`filepath.Walk`), its subdirectories' only with `-R`; `-` is the standard
//! input. Any bad path fails the
//! whole command before anything is sent, in kubectl's words.

use std::path::{Path, PathBuf};

/// The extensions kubectl takes in a directory (`resource.FileExtensions`).
const FILE_EXTENSIONS: [&str; 3] = [".json", ".yaml", ".yml"];

/// The files `-f` names, in kubectl's order; `Err` with kubectl's message (`error: …`, or one line per
/// error when there are several).
pub fn expand(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p == Path::new("-") {
            // The standard input, read by the client.
            files.push(p.clone());
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                errors.push(format!(
                    "the path {:?} does not exist",
                    p.display().to_string()
                ));
            }
            Err(e) => errors.push(format!(
                "the path {:?} cannot be accessed: {e}",
                p.display().to_string()
            )),
            Ok(m) if m.is_dir() => {
                let before = files.len();
                if let Err(e) = walk(p, recursive, &mut files) {
                    errors.push(format!("error reading {:?}: {e}", p.display().to_string()));
                } else if files.len() == before {
                    errors.push(format!(
                        "error reading [{}]: recognized file extensions are [{}]",
                        p.display(),
                        FILE_EXTENSIONS.join(" ")
                    ));
                }
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    match errors.as_slice() {
        [] => Ok(files),
        [one] => Err(format!("error: {one}")),
        many => Err(many.join("\n")),
    }
}

/// The directory's files with a taken extension, in `filepath.Walk`'s lexical order.
fn walk(dir: &Path, recursive: bool, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if recursive {
                walk(&path, recursive, files)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FILE_EXTENSIONS.contains(&format!(".{e}").as_str()))
        {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::expand;

    fn tree() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mesh-lab-cli-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in [
            "b.yml",
            "a.yaml",
            "c.json",
            "notes.txt",
            "README",
            "sub/d.yml",
            "sub/deeper/e.yaml",
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::create_dir_all(dir.join("none")).unwrap();
        std::fs::write(dir.join("none/x.txt"), "").unwrap();
        dir
    }

    fn names(dir: &std::path::Path, files: Vec<PathBuf>) -> Vec<String> {
        files
            .iter()
            .map(|f| f.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    /// A directory gives its YAML and JSON files sorted, not its subdirectories' unless -R; a file named
    /// explicitly is taken whatever its extension, `-` as the standard input; a bad path is kubectl's error.
    #[test]
    fn a_directory_is_read_as_kubectl_reads_it() {
        let dir = tree();
        let flat = expand(std::slice::from_ref(&dir), false).unwrap();
        let deep = expand(std::slice::from_ref(&dir), true).unwrap();
        let explicit = expand(
            &[dir.join("notes.txt"), "-".into(), dir.join("b.yml")],
            false,
        )
        .unwrap();
        let empty = expand(&[dir.join("none")], false).unwrap_err();
        let missing = expand(&[dir.join("gone.yml")], false).unwrap_err();
        let two = expand(&[dir.join("gone.yml"), dir.join("none")], true).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names(&dir, flat), ["a.yaml", "b.yml", "c.json"]);
        assert_eq!(
            names(&dir, deep),
            [
                "a.yaml",
                "b.yml",
                "c.json",
                "sub/d.yml",
                "sub/deeper/e.yaml"
            ]
        );
        assert_eq!(explicit[1], PathBuf::from("-"), "the standard input");
        assert_eq!(
            names(&dir, [&explicit[..1], &explicit[2..]].concat()),
            ["notes.txt", "b.yml"]
        );
        let none = dir.join("none").display().to_string();
        assert_eq!(
            empty,
            format!(
                "error: error reading [{none}]: recognized file extensions are [.json .yaml .yml]"
            )
        );
        let gone = dir.join("gone.yml").display().to_string();
        assert_eq!(
            missing,
            format!("error: the path \"{gone}\" does not exist")
        );
        assert_eq!(
            two,
            format!(
                "the path \"{gone}\" does not exist\nerror reading [{none}]: recognized file extensions are [.json .yaml .yml]"
            )
        );
    }
}
