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

const HELP: &str = "\
probe: bench-only hop on actix-web + reqwest alone (see docs/BENCHMARKS.md).

Environment:
  PORT          port to listen on (default 8080, 0 = any free one)
  BIND_ADDRESS  address to listen on (default 127.0.0.1)
  NEXT_URL      next hop to call (unset: answer like recommendation v1)
  NAME          prefix of a relaying hop's body (default customer)
  HOSTNAME      name in the last hop's body (default unknown)
";

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
    match reply {
        Ok((status, body)) if status.is_success() => {
            let body = String::from_utf8_lossy(&body);
            text(
                StatusCode::OK,
                format!("{} => {}\n", hop.prefix, body.trim_end()),
            )
        }
        Ok((status, _)) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} => Error: {}\n", hop.prefix, status.as_u16()),
        ),
        Err(e) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} => {e}\n", hop.prefix),
        ),
    }
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

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() -> std::process::ExitCode {
    if std::env::args()
        .nth(1)
        .is_some_and(|a| a == "--help" || a == "-h")
    {
        print!("{HELP}");
        return std::process::ExitCode::SUCCESS;
    }
    let Ok(port) = env("PORT", "8080").parse::<u16>() else {
        eprintln!("probe: PORT is not a valid port");
        return std::process::ExitCode::from(64);
    };
    let bind = env("BIND_ADDRESS", "127.0.0.1");
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
        prefix: env("NAME", "customer"),
        last: format!("recommendation v1 from '{}': ", env("HOSTNAME", "unknown")),
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
