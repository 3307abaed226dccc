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
