//! Istio's duration forms in, protobuf Durations out.

use super::*;

#[test]
fn durations_parse_istio_forms() {
    let ok = [
        ("3s", Duration::from_secs(3)),
        ("0.5s", Duration::from_millis(500)),
        ("500ms", Duration::from_millis(500)),
        ("1m30s", Duration::from_secs(90)),
        ("1h", Duration::from_secs(3600)),
        ("2m", Duration::from_secs(120)),
        ("250us", Duration::from_micros(250)),
        ("10ns", Duration::from_nanos(10)),
        ("0s", Duration::ZERO),
    ];
    for (istio, want) in ok {
        assert_eq!(parse_duration(istio), Ok(want), "{istio}");
    }
    for bad in ["", "5", "5x", "-1s", "s", "soon"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
    }
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
