//! `kubectl patch`'s three patch types on a Deployment as JSON: the strategic merge patch (kubectl's default;
//! a list whose field k8s.io/api tags `patchStrategy:"merge"` is merged item by item by its
//! `patchMergeKey`, e.g. containers and env by `name`; apimachinery's pkg/util/strategicpatch), the JSON merge
//! patch (RFC 7386) and the JSON patch (RFC 6902).

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `kubectl patch --type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    #[default]
    Strategic,
    Merge,
    Json,
}

impl FromStr for PatchType {
    type Err = String;

    /// kubectl's names, and its refusal of any other.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "strategic" => Ok(Self::Strategic),
            "merge" => Ok(Self::Merge),
            "json" => Ok(Self::Json),
            _ => Err(format!(
                "error: --type must be one of [json merge strategic], not {s:?}"
            )),
        }
    }
}

/// `target` with `patch` (JSON text) applied as `how` says; `target` is untouched on an error.
pub fn apply_patch(target: &mut Value, patch: &str, how: PatchType) -> Result<(), String> {
    let patch: Value =
        serde_json::from_str(patch).map_err(|e| format!("the patch is not JSON: {e}"))?;
    let mut next = target.clone();
    match how {
        PatchType::Strategic => strategic_merge(&mut next, &patch, &mut Vec::new())?,
        PatchType::Merge => merge_patch(&mut next, &patch),
        PatchType::Json => json_patch(&mut next, &patch)?,
    }
    *target = next;
    Ok(())
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = serde_json::json!({});
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The `patchMergeKey` of the list at `path` (field names from the Deployment's root) as k8s.io/api tags it
/// (apps/v1 and core/v1 types.go); `None`: the list is replaced whole.
fn merge_key(path: &[String]) -> Option<&'static str> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match path.as_slice() {
        [.., "metadata", "ownerReferences"] => Some("uid"),
        ["spec", "template", "spec", list] => match *list {
            "containers"
            | "initContainers"
            | "ephemeralContainers"
            | "volumes"
            | "imagePullSecrets"
            | "resourceClaims"
            | "schedulingGates" => Some("name"),
            "hostAliases" => Some("ip"),
            "topologySpreadConstraints" => Some("topologyKey"),
            _ => None,
        },
        [
            "spec",
            "template",
            "spec",
            "containers" | "initContainers" | "ephemeralContainers",
            field,
        ] => match *field {
            "env" => Some("name"),
            "ports" => Some("containerPort"),
            "volumeMounts" => Some("mountPath"),
            "volumeDevices" => Some("devicePath"),
            _ => None,
        },
        _ => None,
    }
}

/// The `$patch` directive of a patch object, if any; the only ones taken are `delete` and `replace`.
fn directive(patch: &serde_json::Map<String, Value>) -> Result<Option<&str>, String> {
    if let Some(key) = patch.keys().find(|k| k.starts_with('$') && *k != "$patch") {
        return Err(format!(
            "the local mesh's strategic merge patch takes the directive $patch (delete, replace) only, not {key}"
        ));
    }
    match patch.get("$patch") {
        None => Ok(None),
        Some(Value::String(d)) if d == "delete" || d == "replace" => Ok(Some(d)),
        Some(other) => Err(format!(
            "the local mesh's strategic merge patch takes $patch: delete or replace, not {other}"
        )),
    }
}

/// The patch object without its `$patch` directive.
fn without_directive(patch: &serde_json::Map<String, Value>) -> Value {
    let mut p = patch.clone();
    p.remove("$patch");
    Value::Object(p)
}

/// Strategic merge patch: as the merge patch, except that a list with a merge key keeps the items the
/// patch does not name, merges those it names (by the key) and appends the new ones; an item
/// `{"<key>": …, "$patch": "delete"}` removes that item; in an object, `"$patch": "delete"` removes it and
/// `"$patch": "replace"` replaces it whole.
fn strategic_merge(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
) -> Result<(), String> {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    if directive(p)? == Some("replace") {
        *target = without_directive(p);
        return Ok(());
    }
    if !target.is_object() {
        *target = serde_json::json!({});
    }
    let t = target.as_object_mut().expect("an object");
    for (k, v) in p.iter().filter(|(k, _)| *k != "$patch") {
        path.push(k.clone());
        let key = merge_key(path);
        let deletes = match v {
            Value::Object(o) => directive(o)? == Some("delete"),
            _ => false,
        };
        match (v, key, t.get_mut(k)) {
            (Value::Null, _, _) => {
                t.remove(k);
            }
            _ if deletes => {
                t.remove(k);
            }
            (Value::Array(items), Some(key), Some(Value::Array(list))) => {
                merge_list(list, items, key, path)?;
            }
            (Value::Array(items), Some(key), _) => {
                let mut list = Vec::new();
                merge_list(&mut list, items, key, path)?;
                t.insert(k.clone(), Value::Array(list));
            }
            _ => strategic_merge(t.entry(k.clone()).or_insert(Value::Null), v, path)?,
        }
        path.pop();
    }
    Ok(())
}

/// Merges the patch's `items` into `list` by `key`.
fn merge_list(
    list: &mut Vec<Value>,
    items: &[Value],
    key: &str,
    path: &mut Vec<String>,
) -> Result<(), String> {
    for item in items {
        let Some(p) = item.as_object() else {
            return Err(format!(
                "{}: the strategic merge patch's items are objects with a {key}, not {item}",
                path.join(".")
            ));
        };
        let Some(id) = p.get(key) else {
            return Err(format!(
                "map: {item} does not contain declared merge key: {key}"
            ));
        };
        let at = list.iter().position(|e| e.get(key) == Some(id));
        match (directive(p)?, at) {
            (Some("delete"), Some(i)) => {
                list.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic_merge(&mut list[i], item, path)?,
            (_, None) => {
                let mut new = Value::Null;
                strategic_merge(&mut new, item, path)?;
                list.push(new);
            }
        }
    }
    Ok(())
}

/// RFC 6901: the reference tokens of a JSON pointer.
fn pointer_tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "{pointer:?} is not a JSON pointer (RFC 6901): it starts with /"
        ));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// The value at `pointer`, to change.
fn at_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |v, t| match v {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

/// Removes and returns the value at `tokens`.
fn remove(doc: &mut Value, tokens: &[String]) -> Option<Value> {
    let (last, parent) = tokens.split_last()?;
    match at_mut(doc, parent)? {
        Value::Object(m) => m.remove(last),
        Value::Array(a) => {
            let i = last.parse::<usize>().ok().filter(|i| *i < a.len())?;
            Some(a.remove(i))
        }
        _ => None,
    }
}

/// Adds `value` at `tokens` (an object member is set, an array index inserts, `-` appends).
fn add(doc: &mut Value, tokens: &[String], value: Value) -> Option<()> {
    let Some((last, parent)) = tokens.split_last() else {
        *doc = value;
        return Some(());
    };
    match at_mut(doc, parent)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => {
            let i = last.parse::<usize>().ok().filter(|i| *i <= a.len())?;
            a.insert(i, value);
        }
        _ => return None,
    }
    Some(())
}

/// One RFC 6902 operation; `None`: its path (or `from`) does not apply to the document.
fn json_patch_op(
    doc: &mut Value,
    op: &str,
    path: &[String],
    o: &Value,
) -> Result<Option<()>, String> {
    let value = || {
        o.get("value")
            .cloned()
            .ok_or_else(|| format!("operation {op} needs a value"))
    };
    let from = || {
        o.get("from")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("operation {op} needs a from"))
            .and_then(pointer_tokens)
    };
    Ok(match op {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let new = value()?;
            at_mut(doc, path).map(|v| *v = new)
        }
        "move" => {
            let from = from()?;
            remove(doc, &from).and_then(|v| add(doc, path, v))
        }
        "copy" => {
            let from = from()?;
            at_mut(doc, &from)
                .map(|v| v.clone())
                .and_then(|v| add(doc, path, v))
        }
        "test" => {
            let want = value()?;
            if at_mut(doc, path).is_some_and(|v| *v == want) {
                Some(())
            } else {
                return Err(format!(
                    "test operation failed: the value at the path is not {want}"
                ));
            }
        }
        _ => {
            return Err(format!(
                "unknown operation {op:?} (RFC 6902: add, remove, replace, move, copy, test)"
            ));
        }
    })
}

/// RFC 6902 JSON patch: an array of operations applied in order.
fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let Some(ops) = ops.as_array() else {
        return Err("a JSON patch (--type json) is an array of operations".into());
    };
    for (i, o) in ops.iter().enumerate() {
        let op = o.get("op").and_then(Value::as_str).unwrap_or_default();
        let path_text = o.get("path").and_then(Value::as_str).unwrap_or_default();
        let path = pointer_tokens(path_text)?;
        json_patch_op(doc, op, &path, o)
            .map_err(|e| format!("operation {i} ({op} {path_text}): {e}"))?
            .ok_or_else(|| {
                format!(
                    "operation {i} ({op} {path_text}): the path does not exist in the Deployment"
                )
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
