//! The expectations follow istiod's pilot/pkg/networking/core/route/retry/retry.go (`DefaultPolicy`,
//! `ConvertPolicy`, `parseRetryOn`), not this module.

use serde_json::{Value, json};

use super::*;
use crate::networking::core::route::tests::{
    TO_SERVICE, istiod_default_retry, route_action, routes_of,
};

#[test]
fn the_default_retry_policy_is_istiods_without_503() {
    assert_eq!(default_retry_policy(), istiod_default_retry());
    assert_eq!(retry_policy(None), Ok(Some(istiod_default_retry())));
}

/// retry.go `ConvertPolicy` and `parseRetryOn`.
#[test]
fn retries_convert_like_convert_policy() {
    let default = istiod_default_retry();
    let set = |pairs: &[(&str, Value)]| {
        let mut v = istiod_default_retry();
        for (k, x) in pairs {
            v[*k] = x.clone();
        }
        Some(v)
    };
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("no retries: the default policy", "", Some(default.clone())),
        (
            "attempts 0 disables retries",
            "retries: {attempts: 0}, ",
            None,
        ),
        (
            "negative attempts disable retries too",
            "retries: {attempts: -1}, ",
            None,
        ),
        (
            "attempts alone keeps the default retry_on",
            "retries: {attempts: 5}, ",
            set(&[("num_retries", json!(5))]),
        ),
        (
            "status codes move to retriable_status_codes and retriable-status-codes is appended",
            "retries: {attempts: 3, retryOn: 'gateway-error,503,504'}, ",
            set(&[
                ("num_retries", json!(3)),
                ("retry_on", json!("gateway-error,retriable-status-codes")),
                ("retriable_status_codes", json!([503, 504])),
            ]),
        ),
        (
            "retriable-status-codes already named is not appended twice",
            "retries: {attempts: 3, retryOn: 'retriable-status-codes,503'}, ",
            set(&[
                ("num_retries", json!(3)),
                ("retry_on", json!("retriable-status-codes")),
                ("retriable_status_codes", json!([503])),
            ]),
        ),
        (
            "codes only: istiod appends to an empty string, leaving a leading comma",
            "retries: {attempts: 2, retryOn: '503'}, ",
            set(&[
                ("retry_on", json!(",retriable-status-codes")),
                ("retriable_status_codes", json!([503])),
            ]),
        ),
        (
            "parts are trimmed and empty parts dropped",
            "retries: {attempts: 2, retryOn: ' 5xx , ,reset '}, ",
            set(&[("retry_on", json!("5xx,reset"))]),
        ),
        (
            "perTryTimeout in Envoy's duration form",
            "retries: {attempts: 2, perTryTimeout: 500ms}, ",
            set(&[("per_try_timeout", json!("0.5s"))]),
        ),
        (
            "retryRemoteLocalities adds istiod's previous_priorities retry priority",
            "retries: {attempts: 2, retryRemoteLocalities: true}, ",
            set(&[(
                "retry_priority",
                json!({
                    "name": "envoy.retry_priorities.previous_priorities",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
                        "update_frequency": 2
                    }
                }),
            )]),
        ),
        (
            "retryRemoteLocalities false changes nothing",
            "retries: {attempts: 2, retryRemoteLocalities: false}, ",
            Some(default.clone()),
        ),
    ];
    for (why, retries, want) in cases {
        let action = route_action(&format!("{retries}{TO_SERVICE}"));
        assert_eq!(action.get("retry_policy").cloned(), want, "{why}");
    }
    let err = routes_of(&format!(
        "retries: {{attempts: 2, perTryTimeout: x}}, {TO_SERVICE}"
    ))
    .unwrap_err();
    assert!(err.starts_with("retries.perTryTimeout: "), "{err}");
}
