//! The control endpoint of `mesh-lab up` (loopback HTTP) and the client the other commands use.
//!
//! `POST /apply` (JSON `{file, content}`), `POST /files` (JSON `{verb: create|replace|delete, file, content}`,
//! answering JSON `{lines, errors}`), `POST /delete?kind=&name=`, `POST /patch` (JSON `{kind, name, patch, type}`,
//! `type` strategic, merge or json), `POST /scale?kind=&name=&replicas=`, `POST /mode?mode=`,
//! `POST /fault?mode=&delay=`, `POST /reset`, `GET /show[?format=json]`,
//! `GET /proxy-config?section=&pod=&output=&name=…` (`istioctl proxy-config`, read from the pod's Envoy),
//! `GET /proxy-status?output=` (`istioctl proxy-status`, from the lab's xDS server),
//! `GET /describe?pod=` (`istioctl x describe pod`),
//! `GET /logs?workload=&container=&tail=&since=` (`kubectl logs`: JSON `{pod, container, notes, lines, next}`,
//! `next` the `since` of the lines to come), `GET /graph.svg`,
//! `POST /token?iss=&sub=&exp=&claim=` (a JWT signed with the lab's key; `exp` a duration, `-` in front: expired;
//! `claim=KEY=VALUE` repeatable), `POST /jwks` (JSON `{uri, file, content}`: the key set for a jwksUri),
//! `POST /jwks/unset?uri=`, `GET /jwks`, `POST /analyze` (JSON `[{file, content}]`: istioctl analyze's messages
//! on the applied objects with the files' over them, JSON `[{level, line}]`). Answers are text lines;
//! errors are 4xx with the message. Every request carries the lab's secret and comes from the loopback
//! address without a web page's `Origin` (`crate::lab::access`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, anyhow};
use serde::{Deserialize, Serialize};

use crate::lab::Lab;
use crate::lab::access::{self, ControlSecret};
use crate::lab::inspect::{LogsPage, LogsQuery};
use crate::observe::describe::DescribeQuery;
use crate::observe::proxy_config::ProxyConfigQuery;
use crate::state::patch::PatchType;
use crate::state::{FileVerb, Outcome};
use mesh_istiod::config::analysis;
use mesh_istiod::model::sidecar::Mode;

/// Where `mesh-lab up` listens for commands unless told otherwise.
pub const DEFAULT_CONTROL: &str = "127.0.0.1:15080";
/// Overrides [`DEFAULT_CONTROL`] for every command.
pub const ENV_CONTROL: &str = "MESH_LAB_CONTROL";

/// The control address (`host:port`): the flag, else `$MESH_LAB_CONTROL`, else the default; the
/// `http://…/` form the banner prints is taken too.
pub fn control_addr(flag: Option<&str>) -> String {
    let given = flag
        .map(str::to_owned)
        .or_else(|| std::env::var(ENV_CONTROL).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| DEFAULT_CONTROL.to_owned());
    given
        .strip_prefix("http://")
        .unwrap_or(&given)
        .trim_end_matches('/')
        .to_owned()
}

#[derive(Serialize, Deserialize)]
struct ApplyBody {
    file: String,
    content: String,
}

#[derive(Deserialize)]
struct DeleteQuery {
    kind: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct PatchBody {
    kind: String,
    name: String,
    patch: String,
    /// kubectl's `--type`; strategic when left out.
    #[serde(default, rename = "type")]
    how: PatchType,
}

async fn patch(lab: web::Data<Lab>, body: web::Json<PatchBody>) -> HttpResponse {
    answer(
        lab.patch_as(&body.kind, &body.name, &body.patch, body.how)
            .await,
    )
}

#[derive(Serialize, Deserialize)]
struct ScaleQuery {
    kind: String,
    name: String,
    replicas: u32,
}

async fn scale(lab: web::Data<Lab>, q: web::Query<ScaleQuery>) -> HttpResponse {
    answer(lab.scale(&q.kind, &q.name, q.replicas).await)
}

#[derive(Serialize, Deserialize)]
struct FileBody {
    verb: FileVerb,
    file: String,
    content: String,
}

/// `create`, `replace` or `delete -f` of one file: its [`Outcome`] as JSON, or the refusal of the whole file.
async fn file_verb(lab: web::Data<Lab>, body: web::Json<FileBody>) -> HttpResponse {
    match lab
        .file_verb(body.verb, Path::new(&body.file), &body.content)
        .await
    {
        Ok(outcome) => HttpResponse::Ok().json(outcome),
        Err(e) => answer(Err(e)),
    }
}

#[derive(Deserialize)]
struct ModeQuery {
    mode: String,
}

#[derive(Deserialize)]
struct FaultQuery {
    mode: String,
    delay: Option<String>,
}

async fn logs(lab: web::Data<Lab>, q: web::Query<LogsQuery>) -> HttpResponse {
    match lab.pod_logs(&q).await {
        Ok(page) => HttpResponse::Ok().json(page),
        Err(e) => answer(Err(e)),
    }
}

#[derive(Deserialize)]
struct ShowQuery {
    format: Option<String>,
}

fn answer(r: anyhow::Result<String>) -> HttpResponse {
    match r {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(text + "\n"),
        Err(e) => HttpResponse::UnprocessableEntity()
            .content_type("text/plain; charset=utf-8")
            .body(format!("{e:#}\n")),
    }
}

async fn apply(lab: web::Data<Lab>, body: web::Json<ApplyBody>) -> HttpResponse {
    answer(
        lab.apply_text(Path::new(&body.file), &body.content)
            .await
            .map(|l| l.join("\n")),
    )
}

async fn delete(lab: web::Data<Lab>, q: web::Query<DeleteQuery>) -> HttpResponse {
    answer(lab.delete(&q.kind, &q.name).await)
}

async fn mode(lab: web::Data<Lab>, q: web::Query<ModeQuery>) -> HttpResponse {
    let r = match q.mode.parse::<Mode>() {
        Ok(m) => lab.set_mode(m).await,
        Err(e) => Err(anyhow!(e)),
    };
    answer(r)
}

async fn fault(lab: web::Data<Lab>, q: web::Query<FaultQuery>) -> HttpResponse {
    answer(lab.fault(&q.mode, q.delay.as_deref()).await)
}

async fn reset(lab: web::Data<Lab>) -> HttpResponse {
    answer(lab.reset().await)
}

/// `1h` → one hour; `-10m` → expired ten minutes ago.
fn signed_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let (sign, magnitude) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let d = tutorial_common::config::parse_duration(magnitude)
        .map_err(|e| anyhow!("--exp {text}: {e}"))?;
    let d = chrono::Duration::from_std(d).map_err(|e| anyhow!("--exp {text}: {e}"))?;
    Ok(d * sign)
}

/// The query's pairs in order: `claim` may come several times.
async fn token(lab: web::Data<Lab>, q: web::Query<Vec<(String, String)>>) -> HttpResponse {
    let mut req = crate::lab::tokens::TokenRequest::default();
    for (key, value) in q.into_inner() {
        match key.as_str() {
            "iss" => req.issuer = Some(value),
            "sub" => req.subject = Some(value),
            "exp" => match signed_duration(&value) {
                Ok(e) => req.expires_in = Some(e),
                Err(e) => return answer(Err(e)),
            },
            "claim" => req.claims.push(value),
            other => return answer(Err(anyhow!("unknown token parameter {other:?}"))),
        }
    }
    answer(lab.token(&req).await)
}

#[derive(Serialize, Deserialize)]
struct JwksBody {
    uri: String,
    file: String,
    content: String,
}

#[derive(Deserialize)]
struct JwksQuery {
    uri: String,
}

async fn jwks_set(lab: web::Data<Lab>, body: web::Json<JwksBody>) -> HttpResponse {
    answer(lab.set_jwks(&body.uri, &body.file, &body.content).await)
}

async fn jwks_unset(lab: web::Data<Lab>, q: web::Query<JwksQuery>) -> HttpResponse {
    answer(lab.unset_jwks(&q.uri).await)
}

async fn jwks_list(lab: web::Data<Lab>) -> HttpResponse {
    answer(Ok(lab.list_jwks().await))
}

async fn show(lab: web::Data<Lab>, q: web::Query<ShowQuery>) -> HttpResponse {
    match lab.show().await {
        Ok(s) if q.format.as_deref() == Some("json") => HttpResponse::Ok().json(s),
        Ok(s) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(crate::observe::show::render(&s)),
        Err(e) => answer(Err(e)),
    }
}

/// `GET /proxy-config?section=&pod=&output=&name=…`: `mesh-lab proxy-config`, read from the pod's Envoy.
async fn proxy_config(lab: web::Data<Lab>, q: web::Query<ProxyConfigQuery>) -> HttpResponse {
    answer(crate::observe::proxy_config::proxy_config(&lab, &q).await)
}

/// `GET /proxy-status?output=json|yaml`: `mesh-lab proxy-status`, what each proxy did with its configuration.
async fn proxy_status(lab: web::Data<Lab>, q: web::Query<OutputQuery>) -> HttpResponse {
    use crate::observe::proxy_status;
    let statuses = lab.xds.status();
    let version = lab.istio.version();
    answer(match q.output.as_deref() {
        None | Some("" | "table") => Ok(proxy_status::table(&statuses, &version)),
        Some("json") => serde_json::to_string_pretty(&proxy_status::json(&statuses, &version))
            .map_err(Into::into),
        Some("yaml") => {
            serde_yaml_ng::to_string(&proxy_status::json(&statuses, &version)).map_err(Into::into)
        }
        Some(o) => Err(anyhow!(
            "output format {o:?} not supported: json, yaml or table"
        )),
    })
}

/// An `-o` query.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OutputQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// `GET /describe?pod=`: `mesh-lab describe pod`, istioctl's text for the pod.
async fn describe(lab: web::Data<Lab>, q: web::Query<DescribeQuery>) -> HttpResponse {
    answer(crate::observe::describe::describe(&lab, &q.pod).await)
}

/// One `istioctl analyze` message as the endpoint answers it: its level (for the exit status) and its line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AnalysisLine {
    pub level: String,
    pub line: String,
}

/// `mesh-lab analyze`: the lab's objects as `istioctl analyze` reads a cluster's, with `files`' objects over
/// them (`Lab::analyze`, crate::observe::analyze).
async fn analyze(lab: web::Data<Lab>, files: web::Json<Vec<ApplyBody>>) -> HttpResponse {
    let sources: Vec<analysis::Source> = files
        .into_inner()
        .into_iter()
        .map(|f| analysis::Source {
            file: f.file,
            text: f.content,
        })
        .collect();
    let messages = match lab.analyze(&sources).await {
        Ok(m) => m,
        Err(e) => return answer(Err(e)),
    };
    let lines: Vec<AnalysisLine> = messages
        .iter()
        .map(|m| AnalysisLine {
            level: m.level.to_string(),
            line: m.to_string(),
        })
        .collect();
    HttpResponse::Ok().json(lines)
}

/// Serves the control endpoint for `lab` on `addr` until the returned server is stopped, to requests that
/// carry `secret` (`crate::lab::access`).
pub fn serve(
    lab: Lab,
    addr: SocketAddr,
    secret: ControlSecret,
) -> anyhow::Result<actix_web::dev::Server> {
    let listener = std::net::TcpListener::bind(addr).with_context(|| {
        format!("the control endpoint cannot listen on {addr} (another `mesh-lab up`?): pass --control ADDR or set {ENV_CONTROL}")
    })?;
    serve_on(lab, listener, secret)
}

/// [`serve`] on a socket bound before the lab started: a command sent as soon as the gateway answers waits
/// in its queue instead of finding nothing listening.
pub fn serve_on(
    lab: Lab,
    listener: std::net::TcpListener,
    secret: ControlSecret,
) -> anyhow::Result<actix_web::dev::Server> {
    let data = web::Data::new(lab);
    let port = listener.local_addr()?.port();
    Ok(HttpServer::new(move || {
        let secret = secret.clone();
        App::new()
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                access::guard(Some(secret.clone()), port, req, next)
            }))
            .app_data(data.clone())
            .route("/apply", web::post().to(apply))
            .route("/delete", web::post().to(delete))
            .route("/patch", web::post().to(patch))
            .route("/scale", web::post().to(scale))
            .route("/files", web::post().to(file_verb))
            .route("/mode", web::post().to(mode))
            .route("/fault", web::post().to(fault))
            .route("/reset", web::post().to(reset))
            .route("/show", web::get().to(show))
            .route("/logs", web::get().to(logs))
            .route("/proxy-config", web::get().to(proxy_config))
            .route("/proxy-status", web::get().to(proxy_status))
            .route("/describe", web::get().to(describe))
            .route("/token", web::post().to(token))
            .route("/jwks", web::post().to(jwks_set))
            .route("/jwks/unset", web::post().to(jwks_unset))
            .route("/jwks", web::get().to(jwks_list))
            .route("/analyze", web::post().to(analyze))
            .route(
                "/graph.svg",
                web::get().to(crate::observe::graph::svg_handler),
            )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// A file's name and text, for the lab; `-` is the standard input, named `STDIN` as kubectl names it.
fn read(file: &Path) -> anyhow::Result<(String, String)> {
    if file == Path::new("-") {
        let text =
            std::io::read_to_string(std::io::stdin()).context("reading the standard input")?;
        return Ok(("STDIN".into(), text));
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok((file.display().to_string(), text))
}

/// A client of a running `mesh-lab up`.
pub struct Client {
    base: String,
    http: reqwest::Client,
    secret: Option<ControlSecret>,
}

impl Client {
    /// A client of the lab at `addr`, with the secret `mesh-lab up` wrote for it (or `$MESH_LAB_SECRET`).
    pub fn new(addr: &str) -> anyhow::Result<Self> {
        Self::with_secret(addr, ControlSecret::for_client(addr))
    }

    /// A client sending `secret`.
    pub fn with_secret(addr: &str, secret: Option<ControlSecret>) -> anyhow::Result<Self> {
        Ok(Self {
            base: format!("http://{addr}"),
            http: tutorial_common::client::client(Duration::from_secs(60), None)?,
            secret,
        })
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> anyhow::Result<String> {
        let req = match &self.secret {
            Some(s) => req.header(reqwest::header::AUTHORIZATION, s.header_value()),
            None => req,
        };
        let r = req.send().await.map_err(|e| {
            anyhow!(
                "no lab answers at {} ({e}); start one with `mesh-lab up` (or set {ENV_CONTROL})",
                self.base
            )
        })?;
        let ok = r.status().is_success();
        let text = r.text().await?;
        if ok {
            Ok(text)
        } else {
            Err(anyhow!("{}", text.trim_end()))
        }
    }

    pub async fn apply(&self, file: &Path) -> anyhow::Result<String> {
        let (file, content) = read(file)?;
        let body = ApplyBody { file, content };
        self.call(self.http.post(format!("{}/apply", self.base)).json(&body))
            .await
    }

    /// `create`, `replace` or `delete -f FILE`: kubectl's lines and errors, one per object.
    pub async fn file_verb(&self, verb: FileVerb, file: &Path) -> anyhow::Result<Outcome> {
        let (file, content) = read(file)?;
        let body = FileBody {
            verb,
            file,
            content,
        };
        let json = self
            .call(self.http.post(format!("{}/files", self.base)).json(&body))
            .await?;
        serde_json::from_str(&json).with_context(|| format!("the lab's answer: {json}"))
    }

    pub async fn delete(&self, kind: &str, name: &str) -> anyhow::Result<String> {
        self.call(
            self.http
                .post(format!("{}/delete", self.base))
                .query(&[("kind", kind), ("name", name)]),
        )
        .await
    }

    pub async fn patch(
        &self,
        kind: &str,
        name: &str,
        patch: &str,
        how: PatchType,
    ) -> anyhow::Result<String> {
        let body = PatchBody {
            kind: kind.into(),
            name: name.into(),
            patch: patch.into(),
            how,
        };
        self.call(self.http.post(format!("{}/patch", self.base)).json(&body))
            .await
    }

    pub async fn scale(&self, kind: &str, name: &str, replicas: u32) -> anyhow::Result<String> {
        let q = ScaleQuery {
            kind: kind.into(),
            name: name.into(),
            replicas,
        };
        self.call(self.http.post(format!("{}/scale", self.base)).query(&q))
            .await
    }

    pub async fn mode(&self, mode: &str) -> anyhow::Result<String> {
        self.call(
            self.http
                .post(format!("{}/mode", self.base))
                .query(&[("mode", mode)]),
        )
        .await
    }

    pub async fn fault(&self, mode: &str, delay: Option<&str>) -> anyhow::Result<String> {
        let mut q = vec![("mode", mode)];
        if let Some(d) = delay {
            q.push(("delay", d));
        }
        self.call(self.http.post(format!("{}/fault", self.base)).query(&q))
            .await
    }

    pub async fn reset(&self) -> anyhow::Result<String> {
        self.call(self.http.post(format!("{}/reset", self.base)))
            .await
    }

    /// The lines `mesh-lab logs WORKLOAD` prints (its default container's).
    pub async fn logs(&self, workload: &str) -> anyhow::Result<String> {
        let q = LogsQuery {
            target: workload.into(),
            ..LogsQuery::default()
        };
        Ok(self.logs_page(&q).await?.lines.join("\n"))
    }

    /// One page of `kubectl logs`: the lines after `q.since`, kubectl's notes, the cursor of the next.
    pub async fn logs_page(&self, q: &LogsQuery) -> anyhow::Result<LogsPage> {
        let json = self
            .call(self.http.get(format!("{}/logs", self.base)).query(q))
            .await?;
        serde_json::from_str(&json).with_context(|| format!("the lab's answer: {json}"))
    }

    /// A token; `claims` each `KEY=VALUE` as `--claim` takes it.
    pub async fn token(
        &self,
        iss: Option<&str>,
        sub: Option<&str>,
        exp: Option<&str>,
        claims: &[String],
    ) -> anyhow::Result<String> {
        let q: Vec<(&str, &str)> = [("iss", iss), ("sub", sub), ("exp", exp)]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .chain(claims.iter().map(|c| ("claim", c.as_str())))
            .collect();
        self.call(self.http.post(format!("{}/token", self.base)).query(&q))
            .await
    }

    /// `mesh-lab jwks set URI FILE`: FILE's text as the key set for `uri`.
    pub async fn jwks_set(&self, uri: &str, file: &Path) -> anyhow::Result<String> {
        let content =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let body = JwksBody {
            uri: uri.into(),
            file: file.display().to_string(),
            content,
        };
        self.call(self.http.post(format!("{}/jwks", self.base)).json(&body))
            .await
    }

    pub async fn jwks_unset(&self, uri: &str) -> anyhow::Result<String> {
        let req = self.http.post(format!("{}/jwks/unset", self.base));
        self.call(req.query(&[("uri", uri)])).await
    }

    pub async fn jwks_list(&self) -> anyhow::Result<String> {
        self.call(self.http.get(format!("{}/jwks", self.base)))
            .await
    }

    pub async fn show(&self, json: bool) -> anyhow::Result<String> {
        let mut req = self.http.get(format!("{}/show", self.base));
        if json {
            req = req.query(&[("format", "json")]);
        }
        self.call(req).await
    }

    /// `mesh-lab proxy-config SECTION POD`: the table (or `-o json|yaml`) istioctl prints.
    pub async fn proxy_config(&self, q: &ProxyConfigQuery) -> anyhow::Result<String> {
        let req = self.http.get(format!("{}/proxy-config", self.base));
        self.call(req.query(q)).await
    }

    /// `mesh-lab proxy-status [-o json|yaml]`: istioctl's table (or JSON, YAML).
    pub async fn proxy_status(&self, output: Option<&str>) -> anyhow::Result<String> {
        let q = OutputQuery {
            output: output.map(str::to_owned),
        };
        let req = self.http.get(format!("{}/proxy-status", self.base));
        self.call(req.query(&q)).await
    }

    /// `mesh-lab describe pod POD`: the text `istioctl x describe pod` prints.
    pub async fn describe(&self, pod: &str) -> anyhow::Result<String> {
        let q = DescribeQuery { pod: pod.into() };
        let req = self.http.get(format!("{}/describe", self.base));
        self.call(req.query(&q)).await
    }

    /// `mesh-lab analyze [-f FILE…]`: istioctl analyze's messages on the lab's objects with `files`' over them.
    pub async fn analyze(&self, files: &[std::path::PathBuf]) -> anyhow::Result<Vec<AnalysisLine>> {
        let bodies = files
            .iter()
            .map(|f| {
                // istioctl analyze names the standard input `-` (apply names it STDIN).
                let (file, content) = read(f)?;
                let file = if f.as_os_str() == "-" {
                    "-".into()
                } else {
                    file
                };
                Ok(ApplyBody { file, content })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let req = self
            .http
            .post(format!("{}/analyze", self.base))
            .json(&bodies);
        let json = self.call(req).await?;
        serde_json::from_str(&json).with_context(|| format!("the lab's answer: {json}"))
    }

    /// `mesh-lab show --graph FILE`: the running lab's picture.
    pub async fn graph_svg(&self) -> anyhow::Result<String> {
        self.call(self.http.get(format!("{}/graph.svg", self.base)))
            .await
    }
}
