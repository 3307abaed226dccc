//! Logs and traces: set up once from `main`.
//!
//! Logs go to stdout through `tracing`: readable text by default, one JSON object a line with `LOG_FORMAT=json`,
//! filtered by `RUST_LOG` (its default is in [`crate::vars`]). Spans for each incoming request and each
//! outgoing call are exported by OTLP over HTTP/protobuf only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set; the other
//! standard `OTEL_*` variables apply. Trace context is read and written in W3C `traceparent` and B3 form so the
//! spans join Envoy's. Without an exporter the service creates no spans of its own and forwards trace headers
//! untouched, so Envoy's spans still join up.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::HeaderMap as IncomingHeaders,
    middleware::Next,
};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapCompositePropagator},
    trace::{TraceContextExt, TracerProvider},
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::{Instrument, Span, Subscriber, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, registry::LookupSpan};

use crate::{
    config::{ConfigError, Env},
    vars,
};

mod b3;
pub use b3::B3Propagator;

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans (and so creates its own and puts them in outgoing trace headers).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        env.parse(&vars::LOG_FORMAT, |v| match v {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("is not a valid log format: use text or json".into()),
        })
    }
}

/// Flushes and stops span export when dropped at the end of `main`.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(Err(e)) = self.provider.take().map(|p| p.shutdown()) {
            eprintln!("span export did not shut down cleanly: {e}");
        }
    }
}

/// The subscriber for `service`, without installing it: text or JSON logs, `RUST_LOG` filter, and the
/// OpenTelemetry layer when `provider` is given.
pub fn subscriber<W>(
    service: &'static str,
    format: LogFormat,
    provider: Option<&SdkTracerProvider>,
    writer: W,
) -> impl Subscriber + Send + Sync + for<'a> LookupSpan<'a>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Unset or unusable: our lines, without actix's worker start/stop chatter.
        EnvFilter::new(vars::RUST_LOG.default.unwrap_or_default())
    });
    // Colour codes only for a person at a terminal: not in `kubectl logs`, files or pipes (they cost throughput,
    // docs/BENCHMARKS.md). NO_COLOR turns them off at a terminal too.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
    };
    let otel = provider.map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
}

/// Installs logging and (when configured) span export for the whole process. Call once, from `main`, after
/// [`crate::boot::install_crypto_provider`] and before the async runtime starts: the OTLP exporter's blocking
/// HTTP client needs the provider and must not be built inside the runtime.
pub fn init(service: &'static str, format: LogFormat) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(propagator());
    let provider = if otlp_endpoint_configured() {
        Some(tracer_provider(service)?)
    } else {
        None
    };
    let subscriber = subscriber(service, format, provider.as_ref(), std::io::stdout);
    tracing::subscriber::set_global_default(subscriber)?;
    EXPORTING.store(provider.is_some(), Ordering::Relaxed);
    Ok(TelemetryGuard { provider })
}

fn otlp_endpoint_configured() -> bool {
    [
        vars::OTEL_EXPORTER_OTLP_ENDPOINT.name,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
}

fn tracer_provider(service: &'static str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build the OTLP span exporter: {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// W3C trace context first, then B3: a request carrying either joins the same trace.
pub fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(B3Propagator),
    ])
}

/// Middleware: one server span per request (when exporting), child of the caller's trace context.
pub async fn trace_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if !exporting()
        || req.path().starts_with("/health/")
        || req.path() == crate::metrics::METRICS_PATH
    {
        return next.call(req).await;
    }
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{} {}", req.method(), req.path()),
        otel.kind = "server",
        http.request.method = %req.method(),
        url.path = %req.path(),
        http.response.status_code = Empty,
        otel.status_code = Empty,
    );
    let _ = span.set_parent(extract(req.headers()));
    let res = next.call(req).instrument(span.clone()).await?;
    let status = res.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    Ok(res)
}

/// A client span for a call to `url` (a disabled span when not exporting).
pub fn client_span(url: &url::Url) -> Span {
    if !exporting() {
        return Span::none();
    }
    tracing::info_span!(
        "call",
        otel.name = %format!("GET {}", url.host_str().unwrap_or("")),
        otel.kind = "client",
        http.request.method = "GET",
        url.full = %url,
        http.response.status_code = Empty,
        otel.status_code = Empty,
    )
}

/// Puts `span`'s context into the outgoing headers, replacing forwarded trace headers, so the next hop's span is
/// its child. Does nothing when not exporting: the incoming trace headers then travel as they came.
pub fn inject(span: &Span, headers: &mut reqwest::header::HeaderMap) {
    if !exporting() {
        return;
    }
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return;
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut HeaderInjector(headers))
    });
    // The forwarded parent id belongs to the caller's span, not ours; B3 single form follows if it came in.
    headers.remove("x-b3-parentspanid");
    if headers.contains_key("b3") {
        let sampled = if sc.is_sampled() { "1" } else { "0" };
        let b3 = format!("{}-{}-{}", sc.trace_id(), sc.span_id(), sampled);
        if let Ok(v) = reqwest::header::HeaderValue::from_str(&b3) {
            headers.insert("b3", v);
        }
    }
}

/// The caller's trace context from incoming headers.
pub fn extract(headers: &IncomingHeaders) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

struct HeaderExtractor<'a>(&'a IncomingHeaders);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut reqwest::header::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(key.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}
