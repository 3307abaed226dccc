//! A pod template whose `sidecar.istio.io/inject` label and annotation disagree. istio's webhook
//! (pkg/kube/inject/inject.go `injectRequired`) reads the label when it is there and the annotation only
//! when it is not, so the annotation of such a template changes nothing: a patch of it (the blog's
//! `oc patch … annotations … "true"`) leaves the pod as the label says. The lab says so aloud, in `patch`'s
//! answer and in `show`'s notes, from this one sentence.

use std::collections::BTreeMap;

use mesh_istiod::model::registry::INJECT;
use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::apps::v1::Deployment;

use super::LabState;

/// Why the annotation does not decide, when the template's label and annotation disagree.
pub fn label_wins(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Option<String> {
    let (label, annotation) = (labels.get(INJECT)?, annotations.get(INJECT)?);
    (label != annotation).then(|| {
        format!(
            "the pod label {INJECT}: \"{label}\" wins over the annotation \"{annotation}\" (istio's \
             pkg/kube/inject/inject.go injectRequired): remove the label to let the annotation decide"
        )
    })
}

/// [`label_wins`] for a Deployment's pod template.
pub fn template_label_wins(d: &Deployment) -> Option<String> {
    let meta = d.spec.as_ref()?.template.metadata.as_ref()?;
    label_wins(meta.labels.as_ref()?, meta.annotations.as_ref()?)
}

impl LabState {
    /// The applied Deployment `name`'s [`template_label_wins`].
    pub fn label_wins_in(&self, name: &str) -> Option<String> {
        self.deployments().find_map(|o| match &o.resource {
            Resource::Deployment(d) if o.name == name => template_label_wins(d),
            _ => None,
        })
    }

    /// One note per applied Deployment whose pod template's label overrides its annotation.
    pub fn label_wins_notes(&self) -> Vec<String> {
        self.deployments()
            .filter_map(|o| {
                let why = self.label_wins_in(&o.name)?;
                Some(format!("deployment {}: {why}.", o.name))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn only_a_label_and_an_annotation_that_disagree_are_said() {
        let cases = [
            (
                map(&[(INJECT, "false")]),
                map(&[(INJECT, "true")]),
                Some(("false", "true")),
                "the blog's patch under a false label",
            ),
            (
                map(&[(INJECT, "true")]),
                map(&[(INJECT, "false")]),
                Some(("true", "false")),
                "the reverse",
            ),
            (
                map(&[(INJECT, "true")]),
                map(&[(INJECT, "true")]),
                None,
                "they agree",
            ),
            (
                map(&[]),
                map(&[(INJECT, "true")]),
                None,
                "no label: the annotation decides",
            ),
            (
                map(&[(INJECT, "false")]),
                map(&[]),
                None,
                "no annotation to override",
            ),
        ];
        for (labels, annotations, want, why) in cases {
            let want = want.map(|(l, a)| {
                format!(
                    "the pod label sidecar.istio.io/inject: \"{l}\" wins over the annotation \"{a}\" (istio's \
                     pkg/kube/inject/inject.go injectRequired): remove the label to let the annotation decide"
                )
            });
            assert_eq!(label_wins(&labels, &annotations), want, "{why}");
        }
    }
}
