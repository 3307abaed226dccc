//! pkg/util/protomarshal: Envoy's messages as JSON, the form `istioctl proxy-config -o json` and Envoy's
//! config dump print them. The translation builds Envoy's own API types (`envoy-types`); this module reads
//! them back through the descriptor set those types were generated from (copied by `build.rs`), for the
//! lab's explanations and for tests that compare whole resources.
//!
//! The JSON keeps the protos' own field names (`connect_timeout`, as Envoy's docs and config dumps write
//! them), leaves default values out (proto3's canonical mapping), writes 64-bit integers as numbers and
//! expands every `Any` with its `@type`.

use std::sync::LazyLock;

use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};
use serde_json::Value;

/// The descriptor set `envoy-types` generates its types from.
static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(
        include_bytes!(concat!(env!("OUT_DIR"), "/envoy-descriptors.bin")).as_slice(),
    )
    .expect("envoy-types' descriptor set decodes")
});

/// The message name in a type URL (`type.googleapis.com/envoy.config.cluster.v3.Cluster`).
fn message_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

fn options() -> SerializeOptions {
    SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(true)
}

/// `message` as JSON (without its own `@type`).
pub fn to_json<M: Message + Name>(message: &M) -> Value {
    decoded(&M::full_name(), &message.encode_to_vec())
        .expect("a message of envoy-types has its descriptor in envoy-types' set")
}

/// Each of `messages` as JSON.
pub fn all_json<M: Message + Name>(messages: &[M]) -> Vec<Value> {
    messages.iter().map(to_json).collect()
}

/// The message an `Any` holds, as JSON with its `@type` first.
pub fn any_to_json(any: &Any) -> Result<Value, String> {
    let mut body = decoded(message_name(&any.type_url), &any.value)?;
    let mut out = serde_json::Map::new();
    out.insert("@type".to_owned(), any.type_url.clone().into());
    if let Value::Object(fields) = &mut body {
        out.append(fields);
    }
    Ok(Value::Object(out))
}

/// The message `M` written as JSON (a top-level `@type` is skipped), read against its descriptor: an
/// unknown field, a wrong type or an unknown `@type` inside is refused, naming the message and the field.
pub fn from_json<M: Message + Name + Default>(json: &Value) -> Result<M, String> {
    let name = json["name"].as_str().unwrap_or("(unnamed)");
    let full = M::full_name();
    let descriptor = POOL
        .get_message_by_name(&full)
        .ok_or_else(|| format!("no Envoy type {full}"))?;
    let mut body = json.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("@type");
    }
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        body,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| format!("{} {name:?} is not Envoy's API: {e}", M::NAME))?;
    M::decode(message.encode_to_vec().as_slice()).map_err(|e| format!("{full}: {e}"))
}

fn decoded(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let descriptor = POOL
        .get_message_by_name(name)
        .ok_or_else(|| format!("no Envoy type {name}"))?;
    let message = DynamicMessage::decode(descriptor, bytes).map_err(|e| format!("{name}: {e}"))?;
    message
        .serialize_with_options(serde_json::value::Serializer, &options())
        .map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::extensions::upstreams::http::v3::HttpProtocolOptions;
    use envoy_types::pb::google::protobuf::Duration;
    use envoy_types::util::pack_any;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_reads_with_envoys_field_names_and_its_anys_expanded() {
        let cluster = Cluster {
            name: "outbound|8080||preference.tutorial.svc.cluster.local".into(),
            connect_timeout: Some(Duration {
                seconds: 10,
                nanos: 0,
            }),
            typed_extension_protocol_options: [(
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions".to_owned(),
                pack_any(HttpProtocolOptions::default()),
            )]
            .into(),
            ..Default::default()
        };
        assert_eq!(
            to_json(&cluster),
            json!({
                "name": "outbound|8080||preference.tutorial.svc.cluster.local",
                "connect_timeout": "10s",
                "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
                    }
                }
            })
        );
        let any = any_to_json(&pack_any(cluster)).unwrap();
        assert_eq!(
            any["@type"],
            "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        );
        assert_eq!(any["connect_timeout"], "10s");
    }

    #[test]
    fn json_reads_into_the_type_and_an_unknown_or_mistyped_field_is_refused_by_name() {
        let c: Cluster = from_json(&json!({
            "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "name": "c",
            "connect_timeout": "1.5s"
        }))
        .unwrap();
        assert_eq!(c.name, "c");
        assert_eq!(
            c.connect_timeout,
            Some(Duration {
                seconds: 1,
                nanos: 500_000_000
            })
        );
        let err = from_json::<Cluster>(&json!({"name": "c", "conect_timeout": "1s"})).unwrap_err();
        assert!(err.starts_with("Cluster \"c\" is not Envoy's API"), "{err}");
        assert!(err.contains("conect_timeout"), "{err}");
        let err = from_json::<Cluster>(&json!({"name": "c", "connect_timeout": 5})).unwrap_err();
        assert!(err.starts_with("Cluster \"c\""), "{err}");
    }

    #[test]
    fn an_unknown_type_is_named() {
        let any = Any {
            type_url: "type.googleapis.com/envoy.config.cluster.v3.Clustr".into(),
            value: Vec::new(),
        };
        assert_eq!(
            any_to_json(&any).unwrap_err(),
            "no Envoy type envoy.config.cluster.v3.Clustr"
        );
    }
}
