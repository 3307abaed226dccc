//! The expectations follow istiod's pilot/pkg/networking/core/route/retry/retry.go (`DefaultPolicy`,
//! `ConvertPolicy`, `parseRetryOn`), not this module.

use crate::model::release::IstioRelease;
use serde_json::{Value, json};

use super::*;
use crate::networking::core::route::tests::{
    TO_SERVICE, istiod_default_retry, route_action, routes_in, routes_of,
};
use crate::util::protomarshal::to_json;

#[test]
fn the_default_retry_policy_is_istiods_without_503() {
    assert_eq!(
        to_json(&default_retry_policy(IstioRelease::CURRENT)),
        istiod_default_retry()
    );
    assert_eq!(
        retry_policy(None, IstioRelease::CURRENT).map(|p| p.map(|p| to_json(&p))),
        Ok(Some(istiod_default_retry()))
    );
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
            set(&[("per_try_timeout", json!("0.500s"))]),
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

/// Istio 1.20's pilot/pkg/networking/core/v1alpha3/route/retry/retry.go: `DefaultPolicy` also sets
/// `RetriableStatusCodes: [503]`; `ConvertPolicy` keeps it unless `retryOn` is given, whose
/// `parseRetryOn` then replaces the codes.
#[test]
fn before_1_24_the_default_policy_retries_503_until_retry_on_replaces_it() {
    let old: IstioRelease = "1.20".parse().unwrap();
    let mut with_503 = istiod_default_retry();
    with_503["retriable_status_codes"] = json!([503]);
    assert_eq!(to_json(&default_retry_policy(old)), with_503);
    for release in ["1.20.8", "1.23"] {
        assert_eq!(
            to_json(&default_retry_policy(release.parse().unwrap())),
            with_503,
            "{release}"
        );
    }
    for release in ["1.24", "1.26", "current"] {
        assert_eq!(
            to_json(&default_retry_policy(release.parse().unwrap())),
            istiod_default_retry(),
            "{release}"
        );
    }
    let action = |retries: &str| {
        let routes = routes_in(&format!("{retries}{TO_SERVICE}"), old).unwrap();
        routes[0]["route"]["retry_policy"].clone()
    };
    assert_eq!(action(""), with_503, "no retries: the default");
    let mut three = with_503.clone();
    three["num_retries"] = json!(3);
    assert_eq!(action("retries: {attempts: 3}, "), three, "attempts only");
    let mut reset = istiod_default_retry();
    reset["num_retries"] = json!(3);
    reset["retry_on"] = json!("reset");
    assert_eq!(
        action("retries: {attempts: 3, retryOn: reset}, "),
        reset,
        "retryOn without codes drops the 503"
    );
    reset["retry_on"] = json!("reset,retriable-status-codes");
    reset["retriable_status_codes"] = json!([502]);
    assert_eq!(
        action("retries: {attempts: 3, retryOn: 'reset,502'}, "),
        reset,
        "retryOn's codes replace the 503"
    );
}

/// route.go `TranslateRequestMirrorPolicy`: `DisableShadowHostSuffixAppend` from
/// `DISABLE_SHADOW_HOST_SUFFIX`, on by default from 1.28; before, Envoy appends `-shadow` to the Host.
#[test]
fn mirrors_keep_the_shadow_suffix_before_1_28() {
    let mirror = |istio: &str| {
        let fields = format!("mirror: {{host: recommendation, subset: v2}}, {TO_SERVICE}");
        let routes = routes_in(&fields, istio.parse().unwrap()).unwrap();
        routes[0]["route"]["request_mirror_policies"][0]
            .get("disable_shadow_host_suffix_append")
            .cloned()
    };
    assert_eq!(mirror("1.20"), None);
    assert_eq!(mirror("1.27"), None);
    assert_eq!(mirror("1.28"), Some(json!(true)));
    assert_eq!(mirror("current"), Some(json!(true)));
}
