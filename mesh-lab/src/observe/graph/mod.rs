//! The laptop's Kiali: a live traffic graph of the local mesh as a web page, drawn from the proxies' access
//! logs (never from the apps). `mesh-lab up` serves it on 127.0.0.1:20001 (Kiali's port, `--graph-port`):
//! `GET /` the page (server-side SVG, one small inline script that reloads it every few seconds),
//! `GET /graph.svg` the picture, `GET /api/graph` the JSON ([`model::Graph`]); each takes `?window=` (10s, 1m,
//! 5m, 10m: the rates and colours) and the page and the picture `?scale=` (the picture's size). See
//! docs/LOCAL-MESH.md, "The graph".

pub mod model;
pub mod page;
pub mod svg;

use std::net::SocketAddr;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use serde::Deserialize;

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
        let mut missing_clusters = Vec::new();
        if let Some(g) = &inner.gateway {
            logs.push(ProxyLog {
                proxy: GATEWAY.into(),
                entries: g.access_log(),
            });
            missing_clusters.extend(missing_of(GATEWAY, g));
        }
        for p in inner.pods.values() {
            pods.push(info(&p.workload, p.endpoint(), p.sidecar.is_some(), true));
            if let Some(s) = &p.sidecar {
                logs.push(ProxyLog {
                    proxy: p.workload.name.clone(),
                    entries: s.envoy.access_log(),
                });
                missing_clusters.extend(missing_of(&p.workload.name, &s.envoy));
            }
        }
        missing_clusters.sort();
        missing_clusters.dedup();
        Input {
            pods,
            logs,
            now: chrono::Utc::now(),
            since: inner.graph_since,
            services: inner.services.iter().map(|s| s.fqdn()).collect(),
            missing_clusters,
        }
    }

    /// The traffic graph since the lab was ready (or last reset), with the default window.
    pub async fn graph(&self) -> Graph {
        model::build(&self.graph_input().await)
    }

    /// The traffic graph with rates and colours over the last `window_seconds`.
    pub async fn graph_in(&self, window_seconds: i64) -> Graph {
        let input = self.graph_input().await;
        model::build_view(&input, input.since, window_seconds)
    }
}

/// (proxy, cluster) for each cluster the proxy's routes name now that its configuration lacks.
fn missing_of(proxy: &str, envoy: &crate::dataplane::envoy::Envoy) -> Vec<(String, String)> {
    let config = envoy.current();
    model::missing_clusters(&config.route_configs, &config.clusters)
        .into_iter()
        .map(|c| (proxy.to_owned(), c))
        .collect()
}

/// The query the page, the picture and the JSON take: `?window=1m&scale=1.5`.
#[derive(Debug, Default, Deserialize)]
pub struct View {
    pub window: Option<String>,
    pub scale: Option<String>,
}

impl View {
    /// The window in seconds and the picture's scale, or what is wrong with them.
    fn parse(&self) -> Result<(i64, f64), String> {
        let window = match &self.window {
            None => model::DEFAULT_WINDOW_SECONDS,
            Some(w) => model::parse_window(w)?,
        };
        let scale = match &self.scale {
            None => 1.0,
            Some(s) => svg::parse_scale(s)?,
        };
        Ok((window, scale))
    }
}

fn bad_request(why: String) -> HttpResponse {
    HttpResponse::BadRequest()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{why}\n"))
}

/// `GET /graph.svg[?window=…&scale=…]`.
pub async fn svg_handler(lab: web::Data<Lab>, view: web::Query<View>) -> HttpResponse {
    let (window, scale) = match view.parse() {
        Ok(v) => v,
        Err(why) => return bad_request(why),
    };
    HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(svg::render_scaled(&lab.graph_in(window).await, scale))
}

async fn json_handler(lab: web::Data<Lab>, view: web::Query<View>) -> HttpResponse {
    let window = match view.parse() {
        Ok((w, _)) => w,
        Err(why) => return bad_request(why),
    };
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(lab.graph_in(window).await)
}

async fn page_handler(lab: web::Data<Lab>, view: web::Query<View>) -> HttpResponse {
    let (window, scale) = match view.parse() {
        Ok(v) => v,
        Err(why) => return bad_request(why),
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(page::render_scaled(&lab.graph_in(window).await, scale))
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
