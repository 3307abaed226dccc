//! The one-line proto text (Go's `String()` of a message, google.golang.org/protobuf/encoding/prototext)
//! describe.go prints for a fault and for a string match that is neither exact nor a prefix: field names in
//! snake case in the proto's field order, `name:{…}` for a message, a duration as `{seconds:… nanos:…}`.
//! Go adds random spaces to that text so no one parses it; the lab prints it without them.

use serde_json::{Map, Value};

/// HTTPFaultInjection's fields, and those of its Delay and Abort, in field-number order.
const FIELD_ORDER: &[&str] = &[
    "delay",
    "abort",
    "percent",
    "fixedDelay",
    "exponentialDelay",
    "httpStatus",
    "grpcStatus",
    "http2Error",
    "percentage",
    "value",
];
/// The fields holding a `google.protobuf.Duration` (JSON: `"7s"`).
const DURATIONS: &[&str] = &["fixedDelay", "exponentialDelay"];

/// `route.Fault.String()`, e.g. `abort:{http_status:503 percentage:{value:50}}`.
pub fn fault(v: &Value) -> String {
    v.as_object().map(message).unwrap_or_default()
}

/// `StringMatch.String()` for a regex: `regex:".*Safari.*"`.
pub fn string_match(v: &Value) -> String {
    v.as_object().map(message).unwrap_or_default()
}

fn message(m: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort_by_key(|k| {
        FIELD_ORDER
            .iter()
            .position(|f| f == k)
            .unwrap_or(usize::MAX)
    });
    keys.iter()
        .map(|k| {
            let v = &m[k.as_str()];
            let text = match v {
                Value::String(d) if DURATIONS.contains(&k.as_str()) => duration(d),
                other => value(other),
            };
            format!("{}:{text}", snake(k))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn value(v: &Value) -> String {
    match v {
        Value::Object(m) => format!("{{{}}}", message(m)),
        Value::String(s) => format!("{:?}", s),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && n.as_i64().is_none() => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// `7s` → `{seconds:7}`, `0.5s` → `{nanos:500000000}`.
fn duration(d: &str) -> String {
    let Some(secs) = d.strip_suffix('s').and_then(|n| n.parse::<f64>().ok()) else {
        return format!("{d:?}");
    };
    let (whole, nanos) = (secs.trunc() as i64, ((secs.fract()) * 1e9).round() as i64);
    let parts: Vec<String> = [("seconds", whole), ("nanos", nanos)]
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    format!("{{{}}}", parts.join(" "))
}

fn snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
