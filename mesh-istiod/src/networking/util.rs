//! pilot/pkg/networking/util/util.go: what the translation attaches to Envoy's resources to say which Istio
//! object made them (`AddConfigInfoMetadata`), which `istioctl proxy-config` reads back for its VIRTUAL
//! SERVICE and DESTINATION RULE columns.

use serde_json::{Value, json};

use crate::model::registry::NAMESPACE;

/// `filter_metadata.istio.config` naming the object `kind` (`VirtualService`, `DestinationRule`) `name`:
/// `/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/NAME`. The version is istiod's stored
/// one (pkg/config/schema/gvk: v1), whatever apiVersion the file was written in; the kind in kebab case
/// (`gvk.KebabKind`).
pub fn config_info_metadata(kind: &str, name: &str) -> Value {
    json!({"filter_metadata": {"istio": {"config": format!(
        "/apis/networking.istio.io/v1/namespaces/{NAMESPACE}/{}/{name}",
        kebab(kind)
    )}}})
}

/// `VirtualService` → `virtual-service`.
fn kebab(kind: &str) -> String {
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_is_named_as_istiod_names_it() {
        assert_eq!(
            config_info_metadata("VirtualService", "recommendation"),
            json!({"filter_metadata": {"istio": {"config":
                "/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/recommendation"}}})
        );
        assert_eq!(kebab("DestinationRule"), "destination-rule");
    }
}
