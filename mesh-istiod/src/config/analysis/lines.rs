//! Where a file's object and field were written, for the `FILE:LINE` istioctl prints after an object read
//! from a file: the line of the field a message names (pilot/pkg/config/file/store.go `BuildFieldPathMap`,
//! read by analyzers/util/find_errorline_utils.go `ErrorLine`), else the document's first line. Block-style
//! YAML is followed; a field inside flow style (`[a, b]`) falls back to the document's line.

use std::path::Path;

use super::{Message, Object, sort};

/// A file given to analyze, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The name as given (`-f istio/x.yml` prints `istio/x.yml`).
    pub file: String,
    pub text: String,
}

/// One content line: its number (from 1), the indent of its `- ` if it is a sequence item, the indent of
/// what follows, and the mapping key it writes, if any.
struct Line<'a> {
    no: usize,
    dash: Option<usize>,
    indent: usize,
    key: Option<&'a str>,
}

fn line(no: usize, text: &str) -> Option<Line<'_>> {
    let rest = text.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return None;
    }
    let ws = text.len() - rest.len();
    let (dash, indent, rest) = match rest
        .strip_prefix('-')
        .filter(|r| r.is_empty() || r.starts_with(' '))
    {
        Some(r) => {
            let item = r.trim_start();
            (Some(ws), text.len() - item.len(), item)
        }
        None => (None, ws, rest),
    };
    let key = rest
        .split_once(':')
        .filter(|(k, v)| (v.is_empty() || v.starts_with(' ')) && !k.contains(' '))
        .map(|(k, _)| k.trim_matches('"'));
    Some(Line {
        no,
        dash,
        indent,
        key,
    })
}

/// The documents of `text`, split at `---` lines as the loader splits them (a leading one opens the first).
fn documents(text: &str) -> Vec<Vec<Line<'_>>> {
    let mut docs = vec![Vec::new()];
    for (n, l) in text.lines().enumerate() {
        if l.trim_end() == "---" || l.starts_with("--- ") {
            if docs.last().is_some_and(|d| !d.is_empty()) {
                docs.push(Vec::new());
            }
            continue;
        }
        if let (Some(parsed), Some(doc)) = (line(n + 1, l), docs.last_mut()) {
            doc.push(parsed);
        }
    }
    docs
}

/// `{.spec.http[0].route[1].destination.host}` as keys and indexes.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(field: &str) -> Vec<Step<'_>> {
    let inner = field.trim_start_matches("{.").trim_end_matches('}');
    let mut out = Vec::new();
    for part in inner.split('.') {
        let mut pieces = part.split('[');
        out.extend(pieces.next().filter(|k| !k.is_empty()).map(Step::Key));
        for idx in pieces {
            out.extend(idx.trim_end_matches(']').parse().ok().map(Step::Index));
        }
    }
    out
}

/// The line of `field` in a document's lines.
fn field_line(lines: &[Line<'_>], field: &str) -> Option<usize> {
    let (mut a, mut b, mut found) = (0, lines.len(), None);
    for step in steps(field) {
        match step {
            Step::Key(k) => {
                let indent = lines.get(a)?.indent;
                let i = (a..b).find(|&i| {
                    let l = &lines[i];
                    l.indent == indent && l.key == Some(k) && (i == a || l.dash.is_none())
                })?;
                let own = lines[i].indent;
                let end = (i + 1..b)
                    .find(|&j| lines[j].dash.map_or(lines[j].indent <= own, |d| d < own))
                    .unwrap_or(b);
                (found, a, b) = (Some(lines[i].no), i + 1, end);
            }
            Step::Index(n) => {
                let d = lines.get(a)?.dash?;
                let items: Vec<usize> = (a..b).filter(|&j| lines[j].dash == Some(d)).collect();
                let i = *items.get(n)?;
                let end = items.get(n + 1).copied().unwrap_or(b);
                (found, a, b) = (Some(lines[i].no), i, end);
            }
        }
    }
    found
}

/// Each message on an object of `sources` gets `FILE:LINE` (the last file defining the object, as its
/// object is the one analysed); the messages sorted again, the line being part of istioctl's order.
pub fn locate(messages: &mut Vec<Message>, sources: &[Source]) {
    let texts: Vec<Vec<Vec<Line<'_>>>> = sources.iter().map(|s| documents(&s.text)).collect();
    let mut written = Vec::new();
    for (s, docs_lines) in sources.iter().zip(&texts) {
        let Ok(docs) = mesh_manifests::parse_str(Path::new(&s.file), &s.text) else {
            continue;
        };
        for d in docs {
            if let (Some(o), Some(lines)) = (Object::of(&d.resource), docs_lines.get(d.index)) {
                written.push((o, &s.file, lines));
            }
        }
    }
    for m in messages.iter_mut() {
        let Some((_, file, lines)) = written
            .iter()
            .rev()
            .find(|(o, _, _)| (o.kind, &o.namespace, &o.name) == (m.kind, &m.namespace, &m.name))
        else {
            continue;
        };
        let at = m.field.as_deref().and_then(|f| field_line(lines, f));
        if let Some(no) = at.or_else(|| lines.first().map(|l| l.no)) {
            m.reference = Some(format!("{file}:{no}"));
        }
    }
    sort(messages);
}
