//! The translation's resources as Envoy's own API types: each JSON resource (Envoy's canonical proto3 JSON,
//! as `mesh-istiod` builds it) is read against the descriptor of its type from the `envoy-types` crate and
//! encoded as the `google.protobuf.Any` a `DiscoveryResponse` carries. An unknown field, a wrong type or an
//! unknown `@type` fails here, naming the resource, before any Envoy sees it.

use envoy_types::pb::google::protobuf::Any;
use mesh_istiod::util::protomarshal::{descriptors, message_name};
use prost::Message;
use prost_reflect::DynamicMessage;
use serde_json::Value;

/// `resource` (its `@type`, if any, left out) as an `Any` of `type_url`.
pub fn to_any(type_url: &str, resource: &Value) -> Result<Any, String> {
    let name = resource["name"].as_str().unwrap_or("(unnamed)");
    let descriptor = descriptors()
        .get_message_by_name(message_name(type_url))
        .ok_or_else(|| format!("no Envoy type {type_url}"))?;
    let mut body = resource.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("@type");
    }
    let message = DynamicMessage::deserialize(descriptor, body).map_err(|e| {
        format!(
            "{} {name:?} is not Envoy's API: {e}",
            message_name(type_url)
        )
    })?;
    Ok(Any {
        type_url: type_url.to_owned(),
        value: message.encode_to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An encoded resource decoded again, as JSON.
    fn decoded(any: &Any) -> Value {
        let descriptor = descriptors()
            .get_message_by_name(message_name(&any.type_url))
            .unwrap();
        let message = DynamicMessage::decode(descriptor, any.value.as_slice()).unwrap();
        serde_json::to_value(&message).unwrap()
    }

    const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

    #[test]
    fn a_resource_with_typed_extensions_round_trips() {
        let cluster = json!({
            "@type": CLUSTER,
            "name": "outbound|8080||preference.tutorial.svc.cluster.local",
            "type": "STATIC",
            "connect_timeout": "10s",
            "typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}
            }}
        });
        let any = to_any(CLUSTER, &cluster).unwrap();
        assert_eq!(any.type_url, CLUSTER);
        let back = decoded(&any);
        assert_eq!(back["name"], cluster["name"]);
        assert_eq!(back["connectTimeout"], "10s");
        assert_eq!(back["type"], "STATIC");
    }

    #[test]
    fn an_unknown_field_is_refused_naming_the_resource_and_field() {
        let err = to_any(CLUSTER, &json!({"name": "c", "conect_timeout": "1s"})).unwrap_err();
        assert!(err.contains("Cluster \"c\""), "{err}");
        assert!(err.contains("conect_timeout"), "{err}");
    }

    #[test]
    fn a_wrong_type_and_an_unknown_type_url_are_refused() {
        let err = to_any(CLUSTER, &json!({"name": "c", "connect_timeout": 5})).unwrap_err();
        assert!(err.contains("Cluster \"c\""), "{err}");
        let err = to_any(
            "type.googleapis.com/envoy.config.cluster.v3.Clustr",
            &json!({}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            "no Envoy type type.googleapis.com/envoy.config.cluster.v3.Clustr"
        );
    }
}
