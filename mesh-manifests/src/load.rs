//! Reading YAML files into typed [`Document`]s; unknown kinds and unknown fields are errors.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_yaml_ng::Value;

use crate::api::Refusal;
use crate::resource::{Document, Parse, Resource};

/// Why a file or one of its documents did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: document {index}: not valid YAML: {message}", file.display())]
    Yaml {
        file: PathBuf,
        index: usize,
        message: String,
    },
    #[error("{}: document {index}: missing or non-string `{field}`", file.display())]
    MissingTypeField {
        file: PathBuf,
        index: usize,
        field: &'static str,
    },
    /// The document's `apiVersion`/`kind` pair is not in the kinds' table ([`crate::KINDS`]); the refusal
    /// says what is taken instead, or which Istio release removed that API.
    #[error("{}: document {index}: {refusal}", file.display())]
    UnknownKind {
        file: PathBuf,
        index: usize,
        refusal: Refusal,
    },
    #[error(
        "{}: document {index} ({kind}): unknown field `{path}`{}{}",
        file.display(),
        line.map(|l| format!(" (line {l})")).unwrap_or_default(),
        did_you_mean.as_ref().map(|f| format!("; did you mean `{f}`?")).unwrap_or_default()
    )]
    UnknownField {
        file: PathBuf,
        index: usize,
        kind: String,
        /// Dotted path from the document root, sequence items by index: `spec.http.0.timeout2`.
        path: String,
        /// The file's line (from 1) where the field is written, when it can be found.
        line: Option<usize>,
        /// The field the type takes there whose name is closest, when one is close enough.
        did_you_mean: Option<String>,
    },
    #[error("{}: document {index} ({kind}): {message}", file.display())]
    Invalid {
        file: PathBuf,
        index: usize,
        kind: String,
        message: String,
    },
}

impl LoadError {
    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            LoadError::Io { file, .. }
            | LoadError::Yaml { file, .. }
            | LoadError::MissingTypeField { file, .. }
            | LoadError::UnknownKind { file, .. }
            | LoadError::UnknownField { file, .. }
            | LoadError::Invalid { file, .. } => file,
        }
    }
}

/// Parse YAML text already in memory; `file` is only used to name documents and errors.
/// Stops at the first error.
pub fn parse_str(file: &Path, text: &str) -> Result<Vec<Document>, LoadError> {
    let mut docs = Vec::new();
    for (index, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(de).map_err(|e| LoadError::Yaml {
            file: file.to_path_buf(),
            index,
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        let (api_version, resource) = parse_value(file, index, value).map_err(|e| match e {
            LoadError::UnknownField {
                file,
                index,
                kind,
                path,
                line: None,
                did_you_mean,
            } => LoadError::UnknownField {
                line: line_of(text, index, &path),
                file,
                index,
                kind,
                path,
                did_you_mean,
            },
            e => e,
        })?;
        docs.push(Document {
            file: file.to_path_buf(),
            index,
            api_version,
            resource,
        });
    }
    Ok(docs)
}

/// Load every document of one file. Stops at the first error.
pub fn load_file(path: impl AsRef<Path>) -> Result<Vec<Document>, LoadError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    parse_str(path, &text)
}

/// Load files and directories (recursively, `.yml`/`.yaml`, sorted). Stops at the first error.
pub fn load_paths<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
) -> Result<Vec<Document>, LoadError> {
    let mut docs = Vec::new();
    for file in yaml_files(paths)? {
        docs.extend(load_file(&file)?);
    }
    Ok(docs)
}

/// Like [`load_paths`] but goes on after errors: every file that loads contributes its documents
/// and every file that does not contributes one error, so a test can report them all at once.
pub fn load_paths_collecting<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
) -> (Vec<Document>, Vec<LoadError>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let files = match yaml_files(paths) {
        Ok(files) => files,
        Err(e) => return (docs, vec![e]),
    };
    for file in files {
        match load_file(&file) {
            Ok(d) => docs.extend(d),
            Err(e) => errors.push(e),
        }
    }
    (docs, errors)
}

/// The YAML files named by `paths`: files as given, directories walked recursively and sorted.
fn yaml_files<P: AsRef<Path>>(
    paths: impl IntoIterator<Item = P>,
) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |source| LoadError::Io {
        file: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_yaml(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// `.yml` or `.yaml`.
pub(crate) fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

/// The document's `apiVersion` and its typed object.
fn parse_value(file: &Path, index: usize, value: Value) -> Result<(String, Resource), LoadError> {
    let field = |name: &'static str| -> Result<String, LoadError> {
        value
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(LoadError::MissingTypeField {
                file: file.to_path_buf(),
                index,
                field: name,
            })
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    let refused = |refusal| LoadError::UnknownKind {
        file: file.to_path_buf(),
        index,
        refusal,
    };
    let row = Refusal::check(&api_version, &kind).map_err(refused)?;
    let ctx = Ctx {
        file,
        index,
        kind: &kind,
    };
    let resource =
        Resource::from_value(&ctx, row.kind, value).expect("every kind of the table parses")?;
    Ok((api_version, resource))
}

struct Ctx<'a> {
    file: &'a Path,
    index: usize,
    kind: &'a str,
}

impl Parse for Ctx<'_> {
    type Error = LoadError;

    /// Deserialize `value` into `T`, turning every field `T` ignores into an error.
    fn typed<T: DeserializeOwned>(&self, value: Value) -> Result<Box<T>, LoadError> {
        let mut unknown = Vec::new();
        let parsed: Result<T, _> = serde_ignored::deserialize(value, |path| {
            let path = dotted(&path);
            // The kube-derived Istio types take apiVersion/kind from the type, not the document (the
            // apiVersion was checked against the kinds' table before).
            if path != "apiVersion" && path != "kind" {
                unknown.push(path);
            }
        });
        let parsed = parsed.map_err(|e| LoadError::Invalid {
            file: self.file.to_path_buf(),
            index: self.index,
            kind: self.kind.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(path) = unknown.into_iter().next() {
            return Err(LoadError::UnknownField {
                file: self.file.to_path_buf(),
                index: self.index,
                kind: self.kind.to_owned(),
                did_you_mean: crate::suggest::did_you_mean::<T>(&path),
                path,
                line: None,
            });
        }
        Ok(Box::new(parsed))
    }
}

/// The line (from 1) of document `index` of `text` where the last field of `path` is written: the first
/// line of that document whose key it is (`key:` or `- key:`), the path's parents not being followed. YAML
/// documents are split at `---` lines, a leading one opening the first.
fn line_of(text: &str, index: usize, path: &str) -> Option<usize> {
    let key = path.rsplit('.').next()?;
    let mut doc = 0;
    let mut content = false;
    for (n, line) in text.lines().enumerate() {
        if line == "---" || line.starts_with("--- ") {
            if content {
                doc += 1;
                content = false;
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        content = true;
        let item = trimmed.strip_prefix("- ").unwrap_or(trimmed).trim_start();
        let written = item
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'));
        if doc == index && written {
            return Some(n + 1);
        }
    }
    None
}

/// `spec.ports.0.targetPortt`: serde_ignored's path without its `?` (Option) and newtype steps.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    let (parent, segment) = match path {
        Path::Root => return String::new(),
        Path::Seq { parent, index } => (*parent, index.to_string()),
        Path::Map { parent, key } => (*parent, key.clone()),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => {
            return dotted(parent);
        }
    };
    let prefix = dotted(parent);
    if prefix.is_empty() {
        segment
    } else {
        format!("{prefix}.{segment}")
    }
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn a_misspelt_field_is_found_on_its_line_in_its_document() {
        let text =
            "# c\n---\nkind: A\nspec:\n  wieght: 1\n---\nkind: B\nspec:\n  http:\n  - wieght: 2\n";
        assert_eq!(line_of(text, 0, "spec.wieght"), Some(5));
        assert_eq!(line_of(text, 1, "spec.http.0.wieght"), Some(10));
        assert_eq!(line_of(text, 2, "spec.wieght"), None);
        assert_eq!(line_of(text, 0, "spec.nothere"), None);
    }

    #[test]
    fn a_loaded_file_names_the_line_and_the_field_meant() {
        let text = "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n      wieght: 100\n";
        let err = parse_str(Path::new("vs.yml"), text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vs.yml: document 0 (VirtualService): unknown field `spec.http.0.route.0.wieght` (line 9); did you \
             mean `weight`?"
        );
    }
}
