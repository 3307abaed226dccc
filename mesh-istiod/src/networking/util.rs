//! pilot/pkg/networking/util/util.go: what the translation attaches to Envoy's resources to say which Istio
//! object made them (`AddConfigInfoMetadata`), which `istioctl proxy-config` reads back for its VIRTUAL
//! SERVICE and DESTINATION RULE columns; protobuf `Struct`s of strings; and the ADS config source every
//! dynamic resource names.

use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, Metadata, config_source,
};
use envoy_types::pb::google::protobuf::{Duration, Struct, Value, value::Kind};

use crate::model::registry::NAMESPACE;

/// The filter metadata namespace istiod writes its own keys under (`util.IstioMetadataKey`).
pub const ISTIO_METADATA_KEY: &str = "istio";

/// `filter_metadata.istio.config` naming the object `kind` (`VirtualService`, `DestinationRule`) `name`:
/// `/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/NAME`. The version is istiod's stored
/// one (pkg/config/schema/gvk: v1), whatever apiVersion the file was written in; the kind in kebab case
/// (`gvk.KebabKind`).
pub fn config_info_metadata(kind: &str, name: &str) -> Metadata {
    let config = format!(
        "/apis/networking.istio.io/v1/namespaces/{NAMESPACE}/{}/{name}",
        kebab(kind)
    );
    Metadata {
        filter_metadata: [(
            ISTIO_METADATA_KEY.to_owned(),
            string_struct(&[("config", &config)]),
        )]
        .into(),
        ..Metadata::default()
    }
}

/// A config source that is the ADS stream (`"ads": {}`), with istiod's `initial_fetch_timeout` of 0
/// (wait for the first response however long it takes): RDS, ECDS and EDS (cluster_builder.go
/// `maybeApplyEdsConfig`), and the bootstrap's CDS and LDS.
pub fn ads_config_source() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource::default(),
        )),
        initial_fetch_timeout: Some(Duration::default()),
        resource_api_version: ApiVersion::V3.into(),
        ..ConfigSource::default()
    }
}

/// A protobuf `Struct` of string fields.
pub fn string_struct(fields: &[(&str, &str)]) -> Struct {
    Struct {
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), string_value(v)))
            .collect(),
    }
}

/// A protobuf `Value` holding a string.
pub fn string_value(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_owned())),
    }
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
    use serde_json::json;

    use super::*;
    use crate::util::protomarshal::to_json;

    #[test]
    fn the_config_is_named_as_istiod_names_it() {
        assert_eq!(
            to_json(&config_info_metadata("VirtualService", "recommendation")),
            json!({"filter_metadata": {"istio": {"config":
                "/apis/networking.istio.io/v1/namespaces/tutorial/virtual-service/recommendation"}}})
        );
        assert_eq!(kebab("DestinationRule"), "destination-rule");
    }
}
