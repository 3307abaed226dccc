//! The actix server every service runs: its routes plus health, metrics and request spans, bound before it runs.
//!
//! [`Server::bind`] binds (port 0 picks a free port, for tests) and [`Server::run_until_stopped`] only awaits, so
//! `main`, the local runner and the black-box tests start services the same way.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use actix_web::{
    App, HttpResponse, HttpServer,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    middleware::{Next, from_fn},
    web,
};

use crate::{config::ServerSettings, health, health::Readiness, metrics, shutdown, telemetry};

/// How long an idle keep-alive connection stays open: longer than the clients' pool idle timeout
/// ([`crate::client::POOL_IDLE_TIMEOUT`]), so a caller never reuses a connection we are closing.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

/// Largest request header section served (names, values and their separators); a bigger one is answered 431.
/// actix-http itself accepts up to 128 KiB; Envoy's default limit is 60 KiB; the tutorial's requests carry a few
/// hundred bytes, a JWT a few KiB.
pub const MAX_REQUEST_HEADERS: usize = 32 * 1024;

/// Middleware: 431 for a request whose headers exceed [`MAX_REQUEST_HEADERS`], before anything else sees them
/// (so oversized values are neither propagated to the next hop nor recorded in spans).
pub async fn limit_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > MAX_REQUEST_HEADERS {
        let reply = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .insert_header((
                actix_web::http::header::CONTENT_TYPE,
                crate::reply::TEXT_PLAIN,
            ))
            .body("request headers too large\n");
        return Ok(req.into_response(reply).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

pub struct Server {
    service: &'static str,
    address: IpAddr,
    port: u16,
    server: actix_web::dev::Server,
    readiness: Readiness,
}

impl Server {
    /// Binds `settings.bind_address:settings.port` and prepares `routes` for `service`.
    pub fn bind<F>(
        service: &'static str,
        settings: &ServerSettings,
        routes: F,
    ) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let addr = (settings.bind_address, settings.port);
        let listener = TcpListener::bind(addr).map_err(|e| {
            anyhow::anyhow!("{service} cannot listen on {}:{}: {e}", addr.0, addr.1)
        })?;
        let port = listener.local_addr()?.port();
        let readiness = Readiness::default();
        let prometheus = metrics::middleware(service)?;
        let ready = web::Data::new(readiness.clone());
        let server = HttpServer::new(move || {
            // actix runs the last `.wrap` first, so a request passes, in order: `limit_headers` (a 431 before
            // anything else sees oversized headers: not counted, not traced, not propagated), the Prometheus
            // middleware (counts what gets through), `trace_request` (the request span), then the routes.
            App::new()
                .wrap(from_fn(telemetry::trace_request))
                .wrap(prometheus.clone())
                .wrap(from_fn(limit_headers))
                .app_data(ready.clone())
                .configure(health::routes)
                .configure(routes.clone())
        })
        .workers(settings.workers)
        .keep_alive(KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
        Ok(Self {
            service,
            address: settings.bind_address,
            port,
            server,
            readiness,
        })
    }

    /// [`Server::bind`] for a service whose handlers share one `state` (`web::Data<T>` in their arguments).
    pub fn bind_with<T: Send + Sync + 'static>(
        service: &'static str,
        settings: &ServerSettings,
        state: T,
        routes: fn(&mut web::ServiceConfig),
    ) -> anyhow::Result<Self> {
        let state = web::Data::new(state);
        Self::bind(service, settings, move |cfg| {
            cfg.app_data(state.clone()).configure(routes);
        })
    }

    /// The boot's last log line, `<who> listening on <address>:<port><then>`, where the tests read the port.
    /// The service logs it itself, so the line keeps the service's log target.
    pub fn listening(&self, who: &str, then: &str) -> String {
        format!("{who} listening on {}:{}{then}", self.address, self.port)
    }

    /// The bound port (the chosen one when asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, the local runner).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves on a task of the current runtime until `stop` resolves or [`Running::stop`] is called: how the
    /// in-process chain and the tests run a service next to others.
    pub fn spawn(self, stop: impl Future<Output = &'static str> + Send + 'static) -> Running {
        let host = match self.address {
            a if a.is_unspecified() => Ipv4Addr::LOCALHOST.into(),
            a => a,
        };
        let port = self.port;
        let handle = self.handle();
        Running {
            port,
            url: format!("http://{}", SocketAddr::new(host, port)),
            handle,
            task: tokio::spawn(self.run_until(stop)),
        }
    }

    /// Serves until SIGTERM/SIGINT, then drains gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown::signal()).await
    }

    /// Serves until `stop` resolves (with the name of the reason), then drains gracefully.
    pub async fn run_until(
        self,
        stop: impl Future<Output = &'static str> + Send + 'static,
    ) -> std::io::Result<()> {
        shutdown::run_until(self.service, self.server, self.readiness, stop).await
    }
}

/// A [`Server`] serving on a task: its port, the URL to call it on, and how to stop it.
pub struct Running {
    pub port: u16,
    /// `http://<address>:<port>`, loopback when bound to all addresses.
    pub url: String,
    handle: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops the server (letting in-flight requests finish when `graceful`) and waits until it has stopped.
    pub async fn stop(self, graceful: bool) {
        self.handle.stop(graceful).await;
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (its stop future resolved), with how it ended.
    pub async fn stopped(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn clients_drop_idle_connections_before_the_server_does() {
        assert!(crate::client::POOL_IDLE_TIMEOUT < super::KEEP_ALIVE);
    }
}
