//! Health endpoints, one meaning each:
//!
//! | route | answer |
//! |---|---|
//! | `GET /health/live`  | always 200 `{"status":"UP"}` while the process serves HTTP |
//! | `GET /health/ready` | 200 `{"status":"UP"}` once bound; 503 `{"status":"DRAINING"}` once draining started |

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use actix_web::{HttpResponse, web};

/// Whether the service still takes new work. Cloned into the server and the shutdown watcher.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_draining(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health/live", web::get().to(live))
        .route("/health/ready", web::get().to(ready));
}

async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "UP"}))
}

async fn ready(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.is_draining() {
        HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "DRAINING"}))
    } else {
        HttpResponse::Ok().json(serde_json::json!({"status": "UP"}))
    }
}
