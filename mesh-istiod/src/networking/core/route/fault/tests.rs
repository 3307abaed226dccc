//! The expectations follow istiod's pilot/pkg/networking/core/route/route.go `TranslateFault`, not this
//! module.

use serde_json::json;

use crate::networking::core::route::tests::{TO_SERVICE, route_action, routes_of};

/// `TranslateFault`: percentages as millionths (`percentage`) or hundredths (the deprecated integer
/// `percent`, 0 when neither is given); an abort has a percentage only when one is given.
#[test]
fn faults_translate_like_translate_fault() {
    let million = |n: u32| json!({"numerator": n, "denominator": "MILLION"});
    // HUNDRED is the default denominator, and 0 the default numerator: Envoy's JSON leaves them out.
    let hundred = |n: u32| json!({"numerator": n});
    let cases = [
        (
            "delay with percentage",
            "{delay: {fixedDelay: 7s, percentage: {value: 50}}}",
            json!({"delay": {"fixed_delay": "7s", "percentage": million(500_000)}}),
        ),
        (
            "delay with the integer percent",
            "{delay: {fixedDelay: 500ms, percent: 30}}",
            json!({"delay": {"fixed_delay": "0.500s", "percentage": hundred(30)}}),
        ),
        (
            "delay with no percentage at all: translateIntegerToFractionalPercent(0)",
            "{delay: {fixedDelay: 1s}}",
            json!({"delay": {"fixed_delay": "1s", "percentage": {}}}),
        ),
        (
            "a fraction of a percent",
            "{abort: {httpStatus: 500, percentage: {value: 0.1}}}",
            json!({"abort": {"http_status": 500, "percentage": million(1_000)}}),
        ),
        (
            "delay and abort together",
            "{abort: {httpStatus: 503, percentage: {value: 10}}, delay: {fixedDelay: 2s, percentage: {value: 100}}}",
            json!({"abort": {"http_status": 503, "percentage": million(100_000)},
                   "delay": {"fixed_delay": "2s", "percentage": million(1_000_000)}}),
        ),
    ];
    for (why, fault, want) in cases {
        let routes = routes_of(&format!("fault: {fault}, {TO_SERVICE}")).unwrap();
        let mut want = want;
        want["@type"] =
            json!("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault");
        assert_eq!(
            routes[0]["typed_per_filter_config"],
            json!({"envoy.filters.http.fault": want}),
            "{why}"
        );
    }
    for (fault, error) in [
        (
            "{delay: {percentage: {value: 5}}}",
            "fault.delay needs fixedDelay",
        ),
        (
            "{abort: {percentage: {value: 5}}}",
            "fault.abort needs httpStatus",
        ),
        ("{delay: {fixedDelay: later}}", "fault.delay.fixedDelay: "),
    ] {
        let err = routes_of(&format!("fault: {fault}, {TO_SERVICE}")).unwrap_err();
        assert!(err.starts_with(error), "{fault}: {err}");
    }
    assert!(
        route_action(TO_SERVICE)
            .get("typed_per_filter_config")
            .is_none()
            && routes_of(TO_SERVICE).unwrap()[0]
                .get("typed_per_filter_config")
                .is_none(),
        "no fault: no per-route fault config"
    );
}
