//! What the security kinds (AuthorizationPolicy, RequestAuthentication, PeerAuthentication) share: which
//! pods a policy selects (pilot/pkg/model/authorization.go `ListAuthorizationPolicies`, authentication.go:
//! the namespace's policies, no selector = every workload, else `matchLabels` ⊆ the pod's labels) and how
//! the lab refuses what it does not translate.

use std::collections::BTreeMap;

use crate::model::registry::NAMESPACE;

/// The refusal of one field, naming it.
pub fn refuse(field: &str, why: &str) -> String {
    format!(
        "field {field} is not supported by the local mesh ({why}); remove it or run this step on a cluster"
    )
}

/// Is a policy of namespace `ns` (none: the one it is applied to) one of the lab's namespace?
pub fn in_namespace(ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| ns == NAMESPACE)
}

/// `Err` naming `metadata.namespace` when it is another namespace than the lab's.
pub fn check_namespace(ns: Option<&str>) -> Result<(), String> {
    match ns {
        Some(ns) if !in_namespace(Some(ns)) => Err(format!(
            "metadata.namespace {ns:?}: the lab plays namespace {:?} only",
            NAMESPACE
        )),
        _ => Ok(()),
    }
}

/// `Err` naming `spec.exportTo` when it hides the object from the lab's namespace. istiod makes an object
/// visible to the namespaces its `exportTo` names: `.` (its own), `*` (all), a namespace's name; `~`
/// none (pilot/pkg/model/push_context.go, `exportTo` visibility). Every proxy of the lab is in one
/// namespace, so a list that names it is the same as no list, and one that does not would leave the object
/// applied and unused: the lab refuses it instead.
pub fn check_export_to(export_to: &serde_json::Value) -> Result<(), String> {
    let Some(list) = export_to.as_array() else {
        return Ok(());
    };
    let visible =
        |e: &serde_json::Value| matches!(e.as_str(), Some(".") | Some("*")) || e == NAMESPACE;
    if list.is_empty() || list.iter().any(visible) {
        return Ok(());
    }
    Err(format!(
        "spec.exportTo {list:?}: this hides the object from namespace {NAMESPACE:?}, where every proxy of \
         the lab is, so istiod would apply it to none of them; export it to \".\" or \"*\", or remove exportTo",
        list = list.iter().filter_map(|e| e.as_str()).collect::<Vec<_>>()
    ))
}

/// Does a policy of namespace `ns` with `match_labels` (none = the whole namespace) select a pod with these
/// labels?
pub fn selects(
    ns: Option<&str>,
    match_labels: Option<&BTreeMap<String, String>>,
    pod_labels: &BTreeMap<String, String>,
) -> bool {
    in_namespace(ns) && match_labels.is_none_or(|m| labels_match(m, pod_labels))
}

/// Are `match_labels` ⊆ `pod_labels` (a selector's `matchLabels`; empty selects every pod)?
pub fn labels_match(
    match_labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> bool {
    match_labels
        .iter()
        .all(|(k, v)| pod_labels.get(k) == Some(v))
}

/// `Err` for `targetRef` / a non-empty `targetRefs` (Gateway API attachment), which the lab has no
/// targets for.
pub fn check_no_targets<R, S>(
    target_ref: &Option<R>,
    target_refs: &Option<Vec<S>>,
) -> Result<(), String> {
    let why = "policies attach to pods by spec.selector; there are no Gateway API targets";
    if target_ref.is_some() {
        return Err(refuse("spec.targetRef", why));
    }
    if target_refs.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(refuse("spec.targetRefs", why));
    }
    Ok(())
}
