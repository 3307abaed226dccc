//! A local stand-in for the egress lab's external time API, so v3 works offline and every failure can be provoked.
//!
//! The crate by concern: [`fault`] (what can go wrong and how it is spelled), [`clock`] (the time and the two
//! answer shapes), and here the config, the routes and their handlers.
//!
//! Run it with `cargo run -p worldclock-standin` (port $PORT). It answers like the two services the
//! tutorial has used: worldclockapi.com at `GET /api/json/cet/now` (`currentDateTime`) and worldtimeapi.org at
//! `GET /api/timezone/<area>/<city>` (`datetime`), showing Central European time (CET/CEST) unless `STANDIN_NOW`
//! freezes the clock. Faults: `STANDIN_FAULT` at start, `POST /_standin/fault?mode=<mode>[&delay=<duration>]` at
//! run time, `GET /_standin/fault` to read it back. Modes: `none`, `slow` (answer after `delay`, default [`fault::DEFAULT_SLOW_DELAY`]),
//! `error` (500), `malformed` (not JSON), `missing-field` (JSON without the time), `bad-time` (an unreadable time).

pub mod clock;
pub mod fault;

use std::sync::{
    Mutex,
    atomic::{AtomicU64, Ordering},
};

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::json;
use tutorial_common::{
    config::{ConfigError, Env, FromEnv, ServerSettings},
    reply::text,
    server::Server,
    vars,
};

use crate::{
    clock::{cet, worldclock_json, worldtime_json},
    fault::Fault,
};

pub const SERVICE: &str = "worldclock-standin";

/// The first lines of `worldclock-standin --help`; the variables follow from `tutorial_common::vars`.
pub const ABOUT: &str = "\
worldclock-standin: a local stand-in for the lab's time API.
  GET /api/json/cet/now                 worldclockapi.com's answer (currentDateTime)
  GET /api/timezone/<area>/<city>       worldtimeapi.org's answer (datetime)
  POST /_standin/fault?mode=M&delay=D   switch faults at run time; GET /_standin/fault shows the current one
  GET /_standin/requests                how many time requests arrived (counted before any delay)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server: ServerSettings,
    /// A frozen clock; `None` = the real time in CET/CEST.
    pub now: Option<DateTime<FixedOffset>>,
    pub fault: Fault,
}

impl FromEnv for Config {
    fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
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
    let state = StandIn {
        now: config.now,
        fault: Mutex::new(config.fault),
        received: AtomicU64::new(0),
    };
    let server = Server::bind_with(SERVICE, &config.server, state, routes)?;
    tracing::info!(
        "{}",
        server.listening(SERVICE, &format!(", fault {}", config.fault))
    );
    Ok(server)
}
