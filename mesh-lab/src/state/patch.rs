//! `kubectl patch`'s three patch types on a Deployment as JSON: the strategic merge patch (kubectl's default;
//! a list whose field k8s.io/api tags `patchStrategy:"merge"` is merged item by item by its
//! `patchMergeKey`, e.g. containers and env by `name`; apimachinery's pkg/util/strategicpatch), the JSON merge
//! patch (RFC 7386) and the JSON patch (RFC 6902).

use std::str::FromStr;

use json_patch::{PatchErrorKind, PatchOperation};
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

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else replaces (the
/// `json-patch` crate's `merge`).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    json_patch::merge(target, patch);
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

/// RFC 6902 JSON patch: an array of operations applied in order, by the `json-patch` crate; the error
/// names the operation as it was written.
fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops: json_patch::Patch = serde_json::from_value(ops.clone()).map_err(|e| {
        format!("a JSON patch (--type json) is an array of RFC 6902 operations: {e}")
    })?;
    json_patch::patch(doc, &ops).map_err(|e| {
        let op = &ops.0[e.operation];
        let (name, why) = match (op, &e.kind) {
            (PatchOperation::Test(t), PatchErrorKind::TestFailed) => (
                "test",
                format!(
                    "test operation failed: the value at the path is not {}",
                    t.value
                ),
            ),
            (_, PatchErrorKind::InvalidPointer) => (
                op_name(op),
                "the path does not exist in the Deployment".to_owned(),
            ),
            (_, PatchErrorKind::InvalidFromPointer) => (
                op_name(op),
                "its from does not exist in the Deployment".to_owned(),
            ),
            (_, kind) => (op_name(op), kind.to_string()),
        };
        format!("operation {} ({name} {}): {why}", e.operation, e.path)
    })
}

/// An operation's `op`, as written.
fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

#[cfg(test)]
mod tests;
