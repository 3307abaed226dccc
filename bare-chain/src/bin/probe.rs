//! `probe`: one hop of a bench-only three-hop chain on the services' own stack, actix-web server and reqwest
//! client, with nothing else (see docs/BENCHMARKS.md).
//!
//! Measured beside `bare-chain` (hyper alone) and the real chain, it splits the chain's cost in two: what
//! actix-web + reqwest cost by themselves, and what the services add on top (metrics, header propagation,
//! header limit, spans, error chain, logging). The client is built like the services' plain-http hop
//! client (no proxy, `TCP_NODELAY`, pooled, timeouts, a TLS config that reads no CA store).
//!
//! Same environment as `bare-chain`: `PORT`, `BIND_ADDRESS`, `NEXT_URL` (unset: the last hop), `NAME`,
//! `HOSTNAME`. One worker thread, like the services' default `WORKERS=1`. Stops on SIGTERM/SIGINT.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};

const HELP: &str = "probe: bench-only hop on actix-web + reqwest alone (see docs/BENCHMARKS.md).\n";

#[path = "../shared.rs"]
mod shared;

struct Hop {
    next: Option<(reqwest::Url, reqwest::Client)>,
    prefix: String,
    last: String,
    count: AtomicU64,
}

fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

async fn handle(hop: web::Data<Hop>) -> HttpResponse {
    let Some((url, client)) = &hop.next else {
        let count = hop.count.fetch_add(1, Ordering::Relaxed) + 1;
        return text(StatusCode::OK, format!("{}{count}\n", hop.last));
    };
    let reply = async {
        let response = client.get(url.clone()).send().await?;
        let status = response.status();
        Ok::<_, reqwest::Error>((status, response.bytes().await?))
    }
    .await;
    let reply = match &reply {
        Ok((status, body)) => Ok((status.as_u16(), &body[..])),
        Err(e) => Err(e.to_string()),
    };
    let (status, body) = shared::relay_answer(&hop.prefix, reply);
    text(StatusCode::from_u16(status).expect("a valid status"), body)
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()
        .expect("reqwest client")
}

fn main() -> std::process::ExitCode {
    if shared::answered_help(HELP) {
        return std::process::ExitCode::SUCCESS;
    }
    let Ok(port) = shared::env("PORT", "8080").parse::<u16>() else {
        eprintln!("probe: PORT is not a valid port");
        return std::process::ExitCode::from(64);
    };
    let bind = shared::env("BIND_ADDRESS", "127.0.0.1");
    let next = match std::env::var("NEXT_URL") {
        Ok(url) => match reqwest::Url::parse(&url) {
            Ok(url) => Some((url, client())),
            Err(_) => {
                eprintln!("probe: NEXT_URL={url:?} is not a valid URL");
                return std::process::ExitCode::from(64);
            }
        },
        Err(_) => None,
    };
    let hop = web::Data::new(Hop {
        next,
        prefix: shared::env("NAME", "customer"),
        last: shared::last_body_prefix(),
        count: AtomicU64::new(0),
    });
    let served = actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(hop.clone())
                .route("/", web::get().to(handle))
        })
        .workers(1)
        .bind((bind.as_str(), port))?;
        println!("probe listening on {:?}", server.addrs());
        server.run().await
    });
    match served {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("probe: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
