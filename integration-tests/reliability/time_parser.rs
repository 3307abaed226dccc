//! Property test of recommendation v3's time parser: whatever the time API answers, `parse_time` never panics and
//! gives either the time as `YYYY-MM-DDTHH:MM±hh:mm` or a one-line reason (the 500 the chain shows).

use proptest::prelude::*;
use recommendation::time_api::parse_time;
use tutorial_common::chain_error::MAX_EMBEDDED_BODY;

/// `YYYY-MM-DDTHH:MM+hh:mm` or `-hh:mm`, nothing else.
fn well_formed(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 22
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && (b[16] == b'+' || b[16] == b'-')
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
}

fn check(body: &[u8]) -> Result<(), TestCaseError> {
    match parse_time(body) {
        Ok(time) => prop_assert!(well_formed(&time), "bad shape {time:?} from {body:?}"),
        Err(why) => {
            prop_assert!(
                !why.is_empty() && !why.chars().any(char::is_control),
                "the reason must fit on one line: {why:?}"
            );
            prop_assert!(
                why.len() <= MAX_EMBEDDED_BODY + 200,
                "reason too long: {}",
                why.len()
            );
        }
    }
    Ok(())
}

/// Timestamps near and past the edges: any digits count, odd offsets, leap seconds, fractions, `Z`, junk.
fn timestamp() -> impl Strategy<Value = String> {
    (
        prop_oneof![0i64..=9999, -99999i64..=999_999, Just(i64::MAX)],
        0u32..=13,
        0u32..=32,
        0u32..=25,
        0u32..=61,
        prop::option::of(0u32..=61),
        prop::option::of("[0-9]{0,12}"),
        prop_oneof![
            Just("Z".to_owned()),
            (any::<bool>(), 0u32..=99, 0u32..=99)
                .prop_map(|(neg, h, m)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' })),
            "[+-][0-9]{1,6}",
            Just(String::new()),
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            let mut t = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}");
            if let Some(s) = s {
                t.push_str(&format!(":{s:02}"));
                if let Some(f) = frac {
                    t.push('.');
                    t.push_str(&f);
                }
            }
            t + &off
        })
}

/// JSON values: huge numbers, nesting, strings that are and aren't times.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|n| serde_json::json!(n)),
        timestamp().prop_map(serde_json::Value::String),
        ".{0,40}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-zA-Z$]{1,16}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("currentDateTime"),
        Just("datetime"),
        Just("utc_datetime")
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&body)?;
    }

    #[test]
    fn any_json(value in json_value()) {
        check(value.to_string().as_bytes())?;
    }

    #[test]
    fn time_fields_with_odd_timestamps(name in field(), time in timestamp(), extra in json_value()) {
        let body = serde_json::json!({ name: time, "extra": extra });
        check(body.to_string().as_bytes())?;
    }

    #[test]
    fn time_fields_with_huge_numbers(name in field(), digits in "[1-9][0-9]{0,400}", neg in any::<bool>()) {
        let number = if neg { format!("-{digits}") } else { digits };
        let body = format!(r#"{{"{name}":{number}}}"#);
        check(body.as_bytes())?;
        prop_assert!(parse_time(body.as_bytes()).is_err(), "a number is not a time");
    }

    /// Valid times (leap second included) keep their date, hour, minute and offset.
    #[test]
    fn valid_times_keep_minute_and_offset(
        y in 1i32..=9999, mo in 1u32..=12, d in 1u32..=28, h in 0u32..=23, mi in 0u32..=59,
        s in 0u32..=60, neg in any::<bool>(), oh in 0u32..=23, om in 0u32..=59,
        name in prop_oneof![Just("currentDateTime"), Just("datetime")],
    ) {
        let sign = if neg { '-' } else { '+' };
        let given = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.5{sign}{oh:02}:{om:02}");
        // `-00:00` ("offset unknown" in RFC 3339) is shown as `+00:00`.
        let sign = if oh == 0 && om == 0 { '+' } else { sign };
        let want = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}{sign}{oh:02}:{om:02}");
        let body = serde_json::json!({ name: given });
        let got = parse_time(body.to_string().as_bytes());
        // chrono accepts a leap second only at the end of a UTC minute 59; elsewhere it is a clear error.
        if s == 60 {
            prop_assert!(got.as_ref().is_ok_and(|t| *t == want) || got.is_err(), "{got:?}");
        } else {
            prop_assert_eq!(got, Ok(want));
        }
    }
}

/// Found by `time_fields_with_odd_timestamps`: the minute-precision form let signed and 5-digit years through,
/// and the body showed `-0001-01-01T00:00+00:00`.
#[test]
fn years_outside_0000_to_9999_are_a_clear_error() {
    for time in [
        "-001-01-01T00:00-0000",
        "-0001-01-01T00:00+00:00",
        "12020-04-06T18:31+02:00",
        "+12020-04-06T18:31:00+02:00",
    ] {
        for name in ["currentDateTime", "datetime"] {
            let body = serde_json::json!({ name: time }).to_string();
            let got = parse_time(body.as_bytes());
            assert!(
                got.as_ref()
                    .is_err_and(|e| e.starts_with("cannot read the time")),
                "{body}: {got:?}"
            );
        }
    }
}
