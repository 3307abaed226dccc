//! The time the stand-in shows and the two answer shapes it mimics: worldclockapi.com's and worldtimeapi.org's.

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc, Weekday};
use serde_json::json;

/// Central European time: UTC+1, UTC+2 from the last Sunday of March to the last Sunday of October (01:00 UTC).
pub fn cet(utc: DateTime<Utc>) -> DateTime<FixedOffset> {
    let year = utc.year();
    let switch = |month| {
        let last = (25..=31)
            .rev()
            .find(|d| {
                Utc.with_ymd_and_hms(year, month, *d, 1, 0, 0)
                    .unwrap()
                    .weekday()
                    == Weekday::Sun
            })
            .unwrap();
        Utc.with_ymd_and_hms(year, month, last, 1, 0, 0).unwrap()
    };
    let summer = utc >= switch(3) && utc < switch(10);
    let offset = FixedOffset::east_opt(if summer { 7200 } else { 3600 }).unwrap();
    utc.with_timezone(&offset)
}

fn is_summer(t: &DateTime<FixedOffset>) -> bool {
    t.offset().local_minus_utc() == 7200
}

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// worldclockapi.com's answer for `t`.
pub fn worldclock_json(t: &DateTime<FixedOffset>) -> serde_json::Value {
    let secs = t.offset().local_minus_utc();
    let sign = if secs < 0 { "-" } else { "" };
    let file_time = (t.timestamp() + 11_644_473_600) as i128 * 10_000_000
        + (t.timestamp_subsec_nanos() / 100) as i128;
    json!({
        "$id": "1",
        "currentDateTime": t.format("%Y-%m-%dT%H:%M%:z").to_string(),
        "utcOffset": format!("{sign}{:02}:{:02}:00", secs.abs() / 3600, secs.abs() % 3600 / 60),
        "isDayLightSavingsTime": is_summer(t),
        "dayOfTheWeek": DAY_NAMES[t.weekday().num_days_from_monday() as usize],
        "timeZoneName": "Central Europe Standard Time",
        "currentFileTime": file_time as i64,
        "ordinalDate": format!("{}-{}", t.year(), t.ordinal()),
        "serviceResponse": null,
    })
}

/// worldtimeapi.org's answer for `t` in `zone` (e.g. `Europe/Madrid`).
pub fn worldtime_json(t: &DateTime<FixedOffset>, zone: &str) -> serde_json::Value {
    let summer = is_summer(t);
    json!({
        "abbreviation": if summer { "CEST" } else { "CET" },
        "datetime": t.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string(),
        "day_of_week": t.weekday().num_days_from_sunday(),
        "day_of_year": t.ordinal(),
        "dst": summer,
        "raw_offset": 3600,
        "dst_offset": t.offset().local_minus_utc() - 3600,
        "timezone": zone,
        "unixtime": t.timestamp(),
        "utc_datetime": t.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        "utc_offset": t.format("%:z").to_string(),
        "week_number": t.iso_week().week(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worldclock_shape_matches_the_real_service() {
        let t = DateTime::parse_from_rfc3339("2020-04-06T18:31:00+02:00").unwrap();
        let v = worldclock_json(&t);
        assert_eq!(v["currentDateTime"], "2020-04-06T18:31+02:00");
        assert_eq!(v["utcOffset"], "02:00:00");
        assert_eq!(v["dayOfTheWeek"], "Monday");
        assert_eq!(v["ordinalDate"], "2020-97");
        assert_eq!(v["isDayLightSavingsTime"], true);
    }

    #[test]
    fn worldtime_shape_matches_the_real_service() {
        let t = DateTime::parse_from_rfc3339("2023-06-01T16:03:54.123456+02:00").unwrap();
        let v = worldtime_json(&t, "Europe/Madrid");
        assert_eq!(v["datetime"], "2023-06-01T16:03:54.123456+02:00");
        assert_eq!(v["utc_datetime"], "2023-06-01T14:03:54.123456+00:00");
        assert_eq!(v["abbreviation"], "CEST");
        assert_eq!(v["day_of_week"], 4);
        assert_eq!(v["day_of_year"], 152);
        assert_eq!(v["unixtime"], 1685628234);
        assert_eq!(v["week_number"], 22);
        assert_eq!(v["dst_offset"], 3600);
    }

    #[test]
    fn cet_switches_on_the_last_sundays() {
        let at = |s: &str| cet(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(at("2020-03-29T00:59:00Z").offset().local_minus_utc(), 3600);
        assert_eq!(at("2020-03-29T01:00:00Z").offset().local_minus_utc(), 7200);
        assert_eq!(at("2020-10-25T00:59:00Z").offset().local_minus_utc(), 7200);
        assert_eq!(at("2020-10-25T01:00:00Z").offset().local_minus_utc(), 3600);
    }
}
