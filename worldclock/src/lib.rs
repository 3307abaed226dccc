//! A local stand-in for the egress lab's external time API, so v3 works offline and every failure can be provoked.
//!
//! Run it with `cargo run -p worldclock-standin` (port $PORT, default 8080). It answers like the two services the
//! tutorial has used: worldclockapi.com at `GET /api/json/cet/now` (`currentDateTime`) and worldtimeapi.org at
//! `GET /api/timezone/<area>/<city>` (`datetime`), showing Central European time (CET/CEST) unless `STANDIN_NOW`
//! freezes the clock. Faults: `STANDIN_FAULT` at start, `POST /_standin/fault?mode=<mode>[&delay=<duration>]` at
//! run time, `GET /_standin/fault` to read it back. Modes: `none`, `slow` (answer after `delay`, default 10s),
//! `error` (500), `malformed` (not JSON), `missing-field` (JSON without the time), `bad-time` (an unreadable time).

use std::{
    fmt,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc, Weekday};
use serde::Deserialize;
use serde_json::json;
use tutorial_common::{
    config::{ConfigError, Env, ServerSettings, parse_duration},
    reply::text,
    server::Server,
    vars,
};

pub const SERVICE: &str = "worldclock-standin";
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(10);

/// The first lines of `worldclock-standin --help`; the variables follow from `tutorial_common::vars`.
pub const ABOUT: &str = "\
worldclock-standin: a local stand-in for the lab's time API.
  GET /api/json/cet/now                 worldclockapi.com's answer (currentDateTime)
  GET /api/timezone/<area>/<city>       worldtimeapi.org's answer (datetime)
  POST /_standin/fault?mode=M&delay=D   switch faults at run time; GET /_standin/fault shows the current one
  GET /_standin/requests                how many time requests arrived (counted before any delay)";

/// What the stand-in does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Answer normally, after this long (longer than the caller's timeout: a hung service).
    Slow(Duration),
    /// 500 with a short body.
    Error,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 JSON without `currentDateTime` / `datetime`.
    MissingField,
    /// 200 JSON whose time cannot be read.
    BadTime,
}

impl Fault {
    /// `none`, `slow`, `slow:3s`, `error`, `malformed`, `missing-field`, `bad-time`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mode, delay) = match text.split_once(':') {
            Some((m, d)) => (m, Some(d)),
            None => (text, None),
        };
        Self::from_parts(mode, delay)
    }

    fn from_parts(mode: &str, delay: Option<&str>) -> Result<Self, String> {
        let fault = match mode {
            "none" => Self::None,
            "slow" => Self::Slow(match delay {
                Some(d) => parse_duration(d)?,
                None => DEFAULT_SLOW_DELAY,
            }),
            "error" => Self::Error,
            "malformed" => Self::Malformed,
            "missing-field" => Self::MissingField,
            "bad-time" => Self::BadTime,
            other => {
                return Err(format!(
                    "is not a valid fault {other:?}: use none, slow[:<duration>], error, malformed, missing-field or bad-time"
                ));
            }
        };
        if delay.is_some() && !matches!(fault, Self::Slow(_)) {
            return Err(format!(
                "is not a valid fault: only slow takes a delay, not {mode}"
            ));
        }
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("none"),
            Self::Slow(d) => write!(f, "slow:{}", humantime_like(*d)),
            Self::Error => f.write_str("error"),
            Self::Malformed => f.write_str("malformed"),
            Self::MissingField => f.write_str("missing-field"),
            Self::BadTime => f.write_str("bad-time"),
        }
    }
}

fn humantime_like(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    /// A frozen clock; `None` = the real time in CET/CEST.
    pub now: Option<DateTime<FixedOffset>>,
    pub fault: Fault,
}

impl Config {
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Result<Self, ConfigError> {
        Self::from_env(&Env::new(lookup))
    }

    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Self {
            server: env.server()?,
            now: env.optional(&vars::STANDIN_NOW, |v| {
                DateTime::parse_from_rfc3339(v)
                    .or_else(|_| DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M%:z"))
                    .map_err(|e| {
                        format!("is not a valid time ({e}); use e.g. 2020-04-06T18:31+02:00")
                    })
            })?,
            fault: env.parse(&vars::STANDIN_FAULT, Fault::parse)?,
        })
    }
}

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

pub struct StandIn {
    now: Option<DateTime<FixedOffset>>,
    fault: Mutex<Fault>,
    received: AtomicU64,
}

impl StandIn {
    fn now(&self) -> DateTime<FixedOffset> {
        self.now.unwrap_or_else(|| cet(Utc::now()))
    }

    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn answer(
        &self,
        shape: impl FnOnce(&DateTime<FixedOffset>) -> serde_json::Value,
    ) -> HttpResponse {
        self.received.fetch_add(1, Ordering::Relaxed);
        let fault = self.fault();
        if let Fault::Slow(delay) = fault {
            tokio::time::sleep(delay).await;
        }
        let mut body = shape(&self.now());
        match fault {
            Fault::None | Fault::Slow(_) => {}
            Fault::Error => {
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stand-in fault: internal error\n".into(),
                );
            }
            Fault::Malformed => {
                return text(
                    StatusCode::OK,
                    "<html><body>not JSON</body></html>\n".into(),
                );
            }
            Fault::MissingField => {
                if let Some(map) = body.as_object_mut() {
                    map.remove("currentDateTime");
                    map.remove("datetime");
                }
            }
            Fault::BadTime => {
                for field in ["currentDateTime", "datetime"] {
                    if let Some(v) = body.get_mut(field) {
                        *v = json!("half past nine");
                    }
                }
            }
        }
        HttpResponse::Ok().json(body)
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/json/cet/now", web::get().to(worldclock))
        .route("/api/timezone/{area}/{city}", web::get().to(worldtime))
        .route("/_standin/fault", web::get().to(get_fault))
        .route("/_standin/fault", web::post().to(set_fault))
        .route("/_standin/requests", web::get().to(requests));
}

async fn worldclock(state: web::Data<StandIn>) -> HttpResponse {
    state.answer(worldclock_json).await
}

async fn worldtime(state: web::Data<StandIn>, path: web::Path<(String, String)>) -> HttpResponse {
    let (area, city) = path.into_inner();
    state
        .answer(|t| worldtime_json(t, &format!("{area}/{city}")))
        .await
}

async fn get_fault(state: web::Data<StandIn>) -> HttpResponse {
    text(StatusCode::OK, format!("fault: {}\n", state.fault()))
}

#[derive(Deserialize)]
struct FaultQuery {
    mode: String,
    delay: Option<String>,
}

async fn set_fault(state: web::Data<StandIn>, query: web::Query<FaultQuery>) -> HttpResponse {
    match Fault::from_parts(&query.mode, query.delay.as_deref()) {
        Ok(fault) => {
            *state.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
            tracing::info!("fault set to {fault}");
            text(StatusCode::OK, format!("fault: {fault}\n"))
        }
        Err(e) => text(
            StatusCode::BAD_REQUEST,
            format!("mode={:?} {e}\n", query.mode),
        ),
    }
}

async fn requests(state: web::Data<StandIn>) -> HttpResponse {
    text(
        StatusCode::OK,
        format!("{}\n", state.received.load(Ordering::Relaxed)),
    )
}

/// Binds the port (0 = any free one); [`Server::run_until_stopped`] serves.
pub fn build(config: Config) -> anyhow::Result<Server> {
    let state = web::Data::new(StandIn {
        now: config.now,
        fault: Mutex::new(config.fault),
        received: AtomicU64::new(0),
    });
    let server = Server::bind(SERVICE, &config.server, move |cfg| {
        cfg.app_data(state.clone()).configure(routes);
    })?;
    tracing::info!(
        "{SERVICE} listening on {}:{}, fault {}",
        config.server.bind_address,
        server.port(),
        config.fault
    );
    Ok(server)
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

    #[test]
    fn faults_parse_and_print_back() {
        for text in [
            "none",
            "slow:3s",
            "slow:500ms",
            "error",
            "malformed",
            "missing-field",
            "bad-time",
        ] {
            assert_eq!(Fault::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(Fault::parse("slow"), Ok(Fault::Slow(DEFAULT_SLOW_DELAY)));
        assert!(Fault::parse("error:3s").is_err(), "only slow takes a delay");
        assert!(Fault::parse("down").is_err());
    }
}
