//! Istio's duration forms in, protobuf JSON durations out.

use super::*;

#[test]
fn durations_parse_istio_forms_and_print_protobuf_json() {
    let ok = [
        ("3s", "3s"),
        ("0.5s", "0.5s"),
        ("500ms", "0.5s"),
        ("1m30s", "90s"),
        ("1h", "3600s"),
        ("2m", "120s"),
        ("250us", "0.00025s"),
        ("10ns", "0.00000001s"),
        ("0s", "0s"),
    ];
    for (istio, envoy) in ok {
        assert_eq!(
            parse_duration(istio).map(envoy_duration).as_deref(),
            Ok(envoy),
            "{istio}"
        );
    }
    for bad in ["", "5", "5x", "-1s", "s", "soon"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
    }
    assert_eq!(
        duration_field("timeout", "x").unwrap_err(),
        "timeout: \"x\" is not a duration (e.g. 3s, 500ms, 1m)"
    );
}

#[test]
fn a_duration_field_is_protobufs_duration() {
    use envoy_types::pb::google::protobuf::Duration as Proto;
    assert_eq!(
        duration("timeout", "1.5s"),
        Ok(Proto {
            seconds: 1,
            nanos: 500_000_000
        })
    );
    assert_eq!(
        duration("timeout", "250ms"),
        Ok(Proto {
            seconds: 0,
            nanos: 250_000_000
        })
    );
    assert_eq!(
        duration("timeout", "x").unwrap_err(),
        "timeout: \"x\" is not a duration (e.g. 3s, 500ms, 1m)"
    );
}
