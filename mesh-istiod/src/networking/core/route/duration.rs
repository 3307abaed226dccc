//! Durations: Istio's API writes them as protobuf `Duration` strings (`3s`, `500ms`, `1m30s`), Envoy's types
//! take protobuf's `Duration` ([`duration`]). istiod converts
//! the proto values it reads (istio.io/api's durationpb) in place where it uses them (route/route.go
//! `setTimeout`, route/retry/retry.go `ConvertPolicy`, cluster_traffic_policy.go
//! `applyConnectionPool`/`applyOutlierDetection`); the lab parses the text once here.

use std::time::Duration;

/// Parses an Istio (protobuf) duration: `3s`, `0.5s`, `500ms`, `1m`, `1h`, `1m30s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration (e.g. 3s, 500ms, 1m)");
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num.parse().map_err(|_| bad())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let secs = match unit {
            "h" => value * 3600.0,
            "m" => value * 60.0,
            "s" => value,
            "ms" => value / 1e3,
            "us" | "µs" => value / 1e6,
            "ns" => value / 1e9,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Ok(total)
}

/// A duration as protobuf's `Duration`.
pub fn proto_duration(d: Duration) -> envoy_types::pb::google::protobuf::Duration {
    envoy_types::pb::google::protobuf::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// An Istio duration field as protobuf's `Duration`; the error names the field.
pub fn duration(
    field: &str,
    value: &str,
) -> Result<envoy_types::pb::google::protobuf::Duration, String> {
    parse_duration(value)
        .map(proto_duration)
        .map_err(|e| format!("{field}: {e}"))
}

#[cfg(test)]
mod tests;
