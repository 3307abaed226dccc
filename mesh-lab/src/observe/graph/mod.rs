//! The laptop's Kiali: a live traffic graph of the local mesh as a web page, drawn from the proxies' access
//! logs (never from the apps). `mesh-lab up` serves it on 127.0.0.1:20001 (Kiali's port, `--graph-port`):
//! `GET /` the page (server-side SVG, one small inline script that reloads it every few seconds),
//! `GET /graph.svg` the picture, `GET /api/graph` the JSON ([`model::Graph`]). See docs/LOCAL-MESH.md,
//! "The graph".

pub mod model;
pub mod page;
pub mod svg;

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;

use crate::lab::Lab;
use model::{GATEWAY, Graph, Input, PodInfo, ProxyLog};

/// Kiali's port.
pub const DEFAULT_PORT: u16 = 20001;

impl Lab {
    /// Every pod (running and gone) and every proxy's access log, now.
    pub async fn graph_input(&self) -> Input {
        let inner = self.inner.lock().await;
        let info =
            |w: &mesh_istiod::model::registry::Workload, endpoint, sidecar, running| PodInfo {
                workload: w.name.clone(),
                app: w
                    .labels
                    .get("app")
                    .cloned()
                    .unwrap_or_else(|| w.name.clone()),
                version: w.labels.get("version").cloned().unwrap_or_default(),
                endpoint,
                sidecar,
                running,
            };
        let mut pods: Vec<PodInfo> = inner
            .gone
            .iter()
            .map(|(w, endpoint)| info(w, *endpoint, w.inject, false))
            .collect();
        let mut logs = Vec::new();
        if let Some(g) = &inner.gateway {
            logs.push(ProxyLog {
                proxy: GATEWAY.into(),
                entries: g.access_log(),
            });
        }
        for p in inner.pods.values() {
            pods.push(info(&p.workload, p.endpoint(), p.sidecar.is_some(), true));
            if let Some(s) = &p.sidecar {
                logs.push(ProxyLog {
                    proxy: p.workload.name.clone(),
                    entries: s.envoy.access_log(),
                });
            }
        }
        Input {
            pods,
            logs,
            now: chrono::Utc::now(),
        }
    }

    /// The traffic graph so far.
    pub async fn graph(&self) -> Graph {
        model::build(&self.graph_input().await)
    }
}

/// `GET /graph.svg`.
pub async fn svg_handler(lab: web::Data<Lab>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(svg::render(&lab.graph().await))
}

async fn json_handler(lab: web::Data<Lab>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(lab.graph().await)
}

async fn page_handler(lab: web::Data<Lab>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(page::render(&lab.graph().await))
}

/// Binds the graph's port now (a taken port fails here, naming the flag) and serves the page, the SVG and
/// the JSON until the returned server is stopped. The address says which port `0` became.
pub fn serve(lab: Lab, addr: SocketAddr) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("the graph cannot listen on {addr} (another `mesh-lab up`, or Kiali?): pass --graph-port PORT (0 = any free one)")
    })?;
    let bound = listener.local_addr()?;
    let data = web::Data::new(lab);
    let port = bound.port();
    let server = HttpServer::new(move || {
        App::new()
            // Host and Origin only: a DNS-rebinding page cannot read the lab's traffic.
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                crate::lab::access::guard(None, port, req, next)
            }))
            .app_data(data.clone())
            .route("/", web::get().to(page_handler))
            .route("/graph.svg", web::get().to(svg_handler))
            .route("/api/graph", web::get().to(json_handler))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((server, bound))
}
