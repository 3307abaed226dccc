//! `proxy-config`: the learner's `istioctl proxy-config routes|clusters|listeners|endpoints|secret POD`,
//! read from what the proxy's Envoy really has (its admin `GET /config_dump?include_eds` and, for the
//! endpoints, `GET /clusters?format=json`), never from what the lab meant to give it. The tables follow
//! istioctl's writers (istioctl/pkg/writer/envoy/configdump/{route,cluster,listener}.go,
//! istioctl/pkg/writer/envoy/clusters/clusters.go, istioctl/pkg/writer/compare/sds/{util,writer}.go):
//! their columns, words, order and `text/tabwriter` spacing; `-o json|yaml` prints the section itself.

mod render;
mod secret;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dataplane::envoy::Envoy;
use crate::dataplane::pods::Pod;
use crate::lab::{Inner, Lab};
use mesh_istiod::model::registry::NAMESPACE;

/// The gateway's pod name, as `show` lists it and as `istioctl proxy-config` names Istio's.
pub const GATEWAY: &str = "istio-ingressgateway";

/// One `proxy-config` command as the control endpoint takes it: the section, the pod and istioctl's
/// filters of that section.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ProxyConfigQuery {
    pub section: String,
    pub pod: String,
    /// `-o json|yaml|short` (short, the table, when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Listeners: HTTP, TCP, HTTP+TCP or UNKNOWN (`--type`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub listener_type: Option<String>,
}

/// The sections istioctl's `proxy-config` prints, with its names and aliases of each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Section {
    Routes,
    Clusters,
    Listeners,
    Endpoints,
    Secret,
}

impl Section {
    pub fn parse(word: &str) -> anyhow::Result<Self> {
        Ok(match word {
            "routes" | "route" | "r" => Self::Routes,
            "clusters" | "cluster" | "c" => Self::Clusters,
            "listeners" | "listener" | "l" => Self::Listeners,
            "endpoints" | "endpoint" | "ep" => Self::Endpoints,
            "secret" | "secrets" | "s" => Self::Secret,
            other => bail!(
                "error: unknown proxy-config section {other:?}: routes, clusters, listeners, endpoints or secret"
            ),
        })
    }

    /// The filters istioctl takes for this section.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Self::Routes => &["--name"],
            Self::Clusters => &["--fqdn", "--subset", "--direction", "--port"],
            Self::Listeners => &["--address", "--port", "--type"],
            Self::Endpoints => &["--address", "--cluster", "--status", "--port"],
            Self::Secret => &[],
        }
    }
}

/// How the section is printed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Output {
    Short,
    Json,
    Yaml,
}

pub fn output_of(o: Option<&str>) -> anyhow::Result<Output> {
    match o.unwrap_or("short") {
        "short" => Ok(Output::Short),
        "json" => Ok(Output::Json),
        "yaml" => Ok(Output::Yaml),
        other => bail!("error: -o {other}: istioctl's proxy-config prints json, yaml or short"),
    }
}

/// The filters given, by flag, for the check that the section takes them.
fn given_filters(q: &ProxyConfigQuery) -> Vec<&'static str> {
    [
        ("--name", q.name.is_some()),
        ("--fqdn", q.fqdn.is_some()),
        ("--subset", q.subset.is_some()),
        ("--direction", q.direction.is_some()),
        ("--port", q.port.is_some()),
        ("--address", q.address.is_some()),
        ("--cluster", q.cluster.is_some()),
        ("--status", q.status.is_some()),
        ("--type", q.listener_type.is_some()),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect()
}

/// What a pod argument names: an application pod, or the ingress gateway's Envoy.
pub(crate) enum Target<'a> {
    Gateway(&'a Envoy),
    Pod(&'a Pod),
}

/// The pod `pod` names: a pod as `show` lists it (`NAME.tutorial` too), `deploy/NAME` (its oldest pod),
/// or the gateway; kubectl's NotFound, with the lab's pods, for any other.
pub(crate) fn resolve<'a>(inner: &'a Inner, pod: &str) -> anyhow::Result<Target<'a>> {
    let pod = pod.strip_suffix(&format!(".{NAMESPACE}")).unwrap_or(pod);
    let pod = pod.strip_prefix("pod/").unwrap_or(pod);
    if pod == GATEWAY {
        return inner
            .gateway
            .as_ref()
            .map(Target::Gateway)
            .ok_or_else(|| anyhow!("the ingress gateway is not running yet"));
    }
    let deployment = ["deploy/", "deployment/", "deployments/"]
        .iter()
        .find_map(|p| pod.strip_prefix(p));
    let found = match deployment {
        Some(d) => inner.pods_of(d).first().copied(),
        None => inner.pods.get(pod),
    };
    let Some(found) = found else {
        let (resource, name) = match deployment {
            Some(d) => ("deployments.apps", d),
            None => ("pods", pod),
        };
        let mut names: Vec<&str> = inner.pods.keys().map(String::as_str).collect();
        names.push(GATEWAY);
        bail!(
            "Error from server (NotFound): {resource} \"{name}\" not found\n\
             the lab's pods: {} (or deploy/NAME; `mesh-lab show` lists them)",
            names.join(", ")
        );
    };
    Ok(Target::Pod(found))
}

/// The admin address of a pod's sidecar; the error says there is none when its Deployment is not injected.
pub(crate) fn sidecar_admin(pod: &Pod) -> anyhow::Result<SocketAddr> {
    match &pod.sidecar {
        Some(s) => Ok(s.envoy.admin),
        None => bail!(
            "error: pod {} has no istio-proxy container (its Deployment is not injected): there is no Envoy to read",
            pod.workload.pod
        ),
    }
}

/// The admin address of the Envoy `pod` names ([`resolve`]).
async fn admin_of(lab: &Lab, pod: &str) -> anyhow::Result<SocketAddr> {
    let inner = lab.inner.lock().await;
    match resolve(&inner, pod)? {
        Target::Gateway(g) => Ok(g.admin),
        Target::Pod(p) => sidecar_admin(p),
    }
}

/// One admin endpoint's JSON.
pub(crate) async fn admin_json(admin: SocketAddr, path: &str) -> anyhow::Result<Value> {
    let http = tutorial_common::client::client(Duration::from_secs(10), None)?;
    let url = format!("http://{admin}{path}");
    let r = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("the proxy's admin {url}"))?;
    let text = r.error_for_status()?.text().await?;
    serde_json::from_str(&text).with_context(|| format!("the proxy's admin {url}: not JSON"))
}

/// `mesh-lab proxy-config`: the section of the pod's Envoy, as istioctl prints it.
pub async fn proxy_config(lab: &Lab, q: &ProxyConfigQuery) -> anyhow::Result<String> {
    let section = Section::parse(&q.section)?;
    let output = output_of(q.output.as_deref())?;
    if let Some(flag) = given_filters(q)
        .into_iter()
        .find(|f| !section.filters().contains(f))
    {
        bail!(
            "error: unknown flag: {flag} (proxy-config {} takes {})",
            q.section,
            match section.filters() {
                [] => "none".to_owned(),
                flags => flags.join(", "),
            }
        );
    }
    let admin = admin_of(lab, &q.pod).await?;
    let path = match section {
        Section::Endpoints => "/clusters?format=json",
        _ => "/config_dump?include_eds",
    };
    let dump = admin_json(admin, path).await?;
    print(section, output, &dump, q)
}

/// The section of `dump` (Envoy's config dump, or its `/clusters` for the endpoints), as istioctl prints it.
pub fn print(
    section: Section,
    output: Output,
    dump: &Value,
    q: &ProxyConfigQuery,
) -> anyhow::Result<String> {
    if output == Output::Short {
        return match section {
            Section::Routes => render::routes_table(dump, q),
            Section::Clusters => render::clusters_table(dump, q),
            Section::Listeners => render::listeners_table(dump, q),
            Section::Endpoints => Ok(render::endpoints_table(dump, q)),
            Section::Secret => secret::secrets_table(dump, chrono::Utc::now()),
        };
    }
    let items = match section {
        Section::Routes => Value::Array(render::routes(dump, q)?),
        Section::Clusters => Value::Array(render::clusters(dump, q)?),
        Section::Listeners => Value::Array(render::listeners(dump, q)?),
        Section::Endpoints => Value::Array(render::endpoint_clusters(dump, q)),
        Section::Secret => secret::secrets_dump(dump)?,
    };
    // istioctl prints the text with a line feed after it (`fmt.Fprintln`).
    Ok(serialize(&items, output)? + "\n")
}

/// JSON indented with four spaces (istioctl's `json.MarshalIndent(…, "", "    ")`), or YAML.
fn serialize(v: &Value, output: Output) -> anyhow::Result<String> {
    if output == Output::Yaml {
        return Ok(serde_yaml_ng::to_string(v)?);
    }
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    Ok(String::from_utf8(out)?)
}

/// The config dump's section of type `envoy.admin.v3.<kind>`.
pub(crate) fn dump_of<'a>(dump: &'a Value, kind: &str) -> Option<&'a Value> {
    dump["configs"].as_array()?.iter().find(|c| {
        c["@type"]
            .as_str()
            .is_some_and(|t| t.ends_with(&format!(".{kind}")))
    })
}

/// Go's `text/tabwriter` with `minwidth 0`, padding `padding` and spaces: every cell but a line's last is
/// padded to its column's widest cell plus `padding`.
pub(crate) fn tabwrite(rows: &[Vec<String>], padding: usize) -> String {
    let mut widths: Vec<usize> = Vec::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            let w = cell.chars().count() + padding;
            if widths.len() <= i {
                widths.resize(i + 1, 0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < row.len() {
                out.extend(std::iter::repeat_n(' ', widths[i] - cell.chars().count()));
            }
        }
        out.push('\n');
    }
    out
}
