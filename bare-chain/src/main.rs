//! `bare-chain`: one hop of the bench-only baseline, the thinnest pass-through hyper allows.
//!
//! Same payload shape as the real chain, none of its features (no config contract, logging, metrics, spans,
//! header propagation, error chain): what is left is the network and HTTP/1.1 itself, so the real chain is
//! measured against the physical limit of the machine.
//!
//! - without `NEXT_URL`: answers `recommendation v1 from '<HOSTNAME>': <count>\n` (the last hop);
//! - with `NEXT_URL=http://127.0.0.1:PORT/`: calls it over a pooled keep-alive client and answers
//!   `<NAME> => <its body, trimmed>\n`.
//!
//! `PORT` (default 8080, 0 = any), `BIND_ADDRESS` (default 127.0.0.1), `NAME` (default customer), `HOSTNAME`.
//! One single-threaded runtime per process, like the services' default `WORKERS=1`. Prints
//! `listening on <addr>:<port>` once bound; stops on SIGTERM/SIGINT.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, Uri, body::Incoming, header, service::service_fn};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};

const HELP: &str =
    "bare-chain: bench-only baseline hop written with hyper directly (see docs/BENCHMARKS.md).\n";

mod shared;

struct Hop {
    next: Option<(Uri, Client<HttpConnector, Full<Bytes>>)>,
    prefix: String,
    last: String,
    count: AtomicU64,
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn handle(
    hop: &'static Hop,
    _req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some((uri, client)) = &hop.next else {
        let count = hop.count.fetch_add(1, Ordering::Relaxed) + 1;
        return Ok(text(StatusCode::OK, format!("{}{count}\n", hop.last)));
    };
    let reply = async {
        let response = client.get(uri.clone()).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, body))
    }
    .await;
    let reply = match &reply {
        Ok((status, body)) => Ok((status.as_u16(), &body[..])),
        Err(e) => Err(e.clone()),
    };
    let (status, body) = shared::relay_answer(&hop.prefix, reply);
    Ok(text(
        StatusCode::from_u16(status).expect("a valid status"),
        body,
    ))
}

fn main() -> std::process::ExitCode {
    if shared::answered_help(HELP) {
        return std::process::ExitCode::SUCCESS;
    }
    let port: u16 = match shared::env("PORT", "8080").parse() {
        Ok(p) => p,
        Err(_) => {
            eprintln!("bare-chain: PORT is not a valid port");
            return std::process::ExitCode::from(64);
        }
    };
    let ip = match shared::env("BIND_ADDRESS", "127.0.0.1").parse() {
        Ok(ip) => ip,
        Err(_) => {
            eprintln!("bare-chain: BIND_ADDRESS is not an IP address");
            return std::process::ExitCode::from(64);
        }
    };
    let next = match std::env::var("NEXT_URL") {
        Ok(url) => match url.parse::<Uri>() {
            Ok(uri) => Some(uri),
            Err(_) => {
                eprintln!("bare-chain: NEXT_URL={url:?} is not a valid URL");
                return std::process::ExitCode::from(64);
            }
        },
        Err(_) => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(serve(SocketAddr::new(ip, port), next));
    std::process::ExitCode::SUCCESS
}

async fn serve(addr: SocketAddr, next: Option<Uri>) {
    let next = next.map(|uri| {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        (uri, client)
    });
    let hop: &'static Hop = Box::leak(Box::new(Hop {
        next,
        prefix: shared::env("NAME", "customer"),
        last: shared::last_body_prefix(),
        count: AtomicU64::new(0),
    }));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bare-chain cannot listen on {addr}: {e}"));
    let bound = listener.local_addr().expect("bound address");
    println!("bare-chain listening on {bound}");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(hop, req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
