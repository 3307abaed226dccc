//! Images a cluster can pull. The services' containers name `<service>:<tag>` with a pinned tag (never
//! `latest`, which `IfNotPresent` never re-pulls); on OpenShift each such name resolves to an
//! ImageStream with `lookupPolicy.local: true` that a BuildConfig fills (`oc start-build --from-dir`).
//! A kustomization's `images:` may point the same names at another registry.

use std::collections::{BTreeMap, BTreeSet};

use crate::resource::{Document, Resource, containers};

/// The services whose containers are "app containers" (the image's last path segment).
pub const APP_SERVICES: &[&str] = &["customer", "preference", "recommendation"];

/// The image without tag or digest: `istio-tutorial-rs/customer:latest` → `istio-tutorial-rs/customer`.
pub fn image_name(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// Kind of a BuildConfig output that an ImageStream resolves.
const IMAGE_STREAM_TAG: &str = "ImageStreamTag";

/// Does `image` run one of the three services (`customer:0.1.0`, `quay.io/you/customer:0.1.0`)?
pub fn is_app_image(image: &str) -> bool {
    let name = image_name(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    APP_SERVICES.contains(&last)
}

/// The tag of `image`, when it has one (`customer:0.1.0` → `0.1.0`; a digest is pinned too).
pub fn image_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return image.rsplit('@').next();
    }
    let name = image_name(image);
    image.strip_prefix(name)?.strip_prefix(':')
}

/// Every image problem, as (document, message).
pub(crate) fn check(docs: &[Document]) -> Vec<(&Document, String)> {
    let mut out = Vec::new();
    let mut streams: BTreeMap<&str, bool> = BTreeMap::new();
    let mut built: BTreeSet<String> = BTreeSet::new();
    for d in docs {
        match &d.resource {
            Resource::ImageStream(is) => {
                let name = is.metadata.name.as_deref().unwrap_or_default();
                streams.insert(name, is.spec.lookup_policy.local);
                if !is.spec.lookup_policy.local {
                    out.push((d, format!("ImageStream {name} has no `lookupPolicy.local: true`: pods naming `{name}:<tag>` would not resolve to it")));
                }
            }
            Resource::BuildConfig(bc) => match &bc.spec.output.to {
                Some(to) if to.kind.as_deref() == Some(IMAGE_STREAM_TAG) => {
                    built.insert(to.name.clone().unwrap_or_default());
                }
                _ => out.push((
                    d,
                    format!(
                        "BuildConfig {} does not output to an ImageStreamTag",
                        d.resource.name().unwrap_or_default()
                    ),
                )),
            },
            _ => {}
        }
    }
    for d in docs {
        match &d.resource {
            Resource::BuildConfig(bc) => {
                let Some(to) = bc.spec.output.to.as_ref().and_then(|t| t.name.as_deref()) else {
                    continue;
                };
                if !streams.contains_key(image_name(to)) {
                    out.push((
                        d,
                        format!(
                            "BuildConfig {} outputs to `{to}`, but no ImageStream `{}` is defined",
                            d.resource.name().unwrap_or_default(),
                            image_name(to)
                        ),
                    ));
                }
            }
            Resource::Deployment(dep) => {
                for c in containers(dep) {
                    let image = c.image.as_deref().unwrap_or_default();
                    if image == "auto" {
                        continue; // the gateway injection template sets the proxy's image
                    }
                    for msg in container_image(image, &streams, &built) {
                        out.push((d, format!("container {}: {msg}", c.name)));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn container_image(
    image: &str,
    streams: &BTreeMap<&str, bool>,
    built: &BTreeSet<String>,
) -> Vec<String> {
    let mut out = Vec::new();
    match image_tag(image) {
        None | Some("latest") => out.push(format!(
            "image `{image}` has no pinned tag: with imagePullPolicy IfNotPresent a rebuilt `latest` is never pulled again"
        )),
        Some(_) => {}
    }
    let name = image_name(image);
    if !name.contains('/') {
        if !streams.contains_key(name) {
            out.push(format!("image `{image}` names no registry and no ImageStream `{name}` is defined: the pod would end in ImagePullBackOff"));
        } else if !built.contains(image) {
            out.push(format!(
                "image `{image}`: no BuildConfig outputs to ImageStreamTag `{image}`"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_images_are_known_by_their_last_segment_and_tags_are_read() {
        assert!(is_app_image("customer:0.1.0"));
        assert!(is_app_image("quay.io/you/recommendation:0.1.0"));
        assert!(!is_app_image("worldclock-standin:0.1.0"));
        assert_eq!(image_tag("customer:0.1.0"), Some("0.1.0"));
        assert_eq!(image_tag("registry:5000/x/customer"), None);
        assert_eq!(image_tag("x/customer@sha256:abc"), Some("sha256:abc"));
    }

    #[test]
    fn image_name_strips_tag_and_digest_but_not_registry_port() {
        assert_eq!(
            image_name("istio-tutorial-rs/customer:latest"),
            "istio-tutorial-rs/customer"
        );
        assert_eq!(
            image_name("registry:5000/x/customer"),
            "registry:5000/x/customer"
        );
        assert_eq!(image_name("x/customer@sha256:abc"), "x/customer");
    }
}
