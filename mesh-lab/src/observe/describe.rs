//! `describe pod`: the learner's `istioctl x describe pod POD -n tutorial`
//! (istioctl/pkg/describe/describe.go). The pod, the Services that select it, each Service's
//! DestinationRule and VirtualService — the ones the pod's own Envoy says shaped its clusters and routes
//! (its admin `GET /config_dump`), as istioctl reads them, never what the lab meant to send — the RBAC
//! policies in its inbound listener, the effective and applied PeerAuthentication, and the ingress
//! gateway's VirtualService to the pod's Services (from the gateway's Envoy). Gathering is here; the text is
//! [`render`]'s, a pure function of what was gathered.

mod dump;
mod networking;
mod prototext;
pub mod render;
#[cfg(test)]
mod tests;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::lab::Lab;
use crate::observe::proxy_config::{self, GATEWAY, Target};
use mesh_manifests::Resource;
use mesh_manifests::k8s_openapi::api::core::v1::{Container, ContainerPort};
use render::{Facts, Ingress, PodFacts};

/// describe.go's indentation: `printLevel1`, `printLevel2`.
const L1: &str = "   ";
const L2: &str = "      ";

/// A JSON string's text, empty for anything else.
fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `GET /describe?pod=`: the pod as `proxy-config` takes it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DescribeQuery {
    pub pod: String,
}

/// The container istio's injection adds (manifests/charts/istio-control/istio-discovery/files/
/// injection-template.yaml), after the application's: its one declared port, Envoy's Prometheus port.
fn istio_proxy() -> Container {
    Container {
        name: "istio-proxy".into(),
        ports: Some(vec![ContainerPort {
            container_port: 15090,
            name: Some("http-envoy-prom".into()),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        ..Container::default()
    }
}

/// `http://HOST[:PORT]` of the gateway's URL, as istioctl prints where the ingress is exposed.
fn exposed(gateway_url: &str) -> String {
    let url = gateway_url.trim_end_matches('/');
    url.strip_suffix(":80").unwrap_or(url).to_owned()
}

/// `mesh-lab describe pod POD`: istioctl's text for the pod (see the module's doc).
pub async fn describe(lab: &Lab, pod: &str) -> anyhow::Result<String> {
    let (mut facts, admin, gateway) = {
        let inner = lab.inner.lock().await;
        let found = match proxy_config::resolve(&inner, pod)? {
            Target::Pod(p) => p,
            Target::Gateway(_) => bail!(
                "error: describe pod {GATEWAY}: the lab's gateway is no Deployment of the tutorial; describe an \
                 application pod (its last section is what the gateway routes to it)"
            ),
        };
        let admin = proxy_config::sidecar_admin(found)?;
        let w = &found.workload;
        let template = inner.state.deployments().find_map(|o| match &o.resource {
            Resource::Deployment(d) if o.name == w.name => d.spec.as_ref().map(|s| &s.template),
            _ => None,
        });
        let annotations = template.and_then(|t| t.metadata.as_ref()?.annotations.as_ref());
        let spec = template.and_then(|t| t.spec.as_ref());
        let mut containers = spec.map(|s| s.containers.clone()).unwrap_or_default();
        containers.push(istio_proxy());
        let pod = PodFacts {
            name: w.pod.clone(),
            labels: w.labels.clone(),
            revision: annotations
                .and_then(|a| a.get("istio.io/rev").cloned())
                .unwrap_or_else(|| "default".into()),
            containers,
            run_as_user: spec
                .and_then(|s| s.security_context.as_ref())
                .and_then(|c| c.run_as_user),
        };
        let facts = Facts {
            pod,
            services: inner.services.clone(),
            objects: inner
                .state
                .objects
                .iter()
                .map(|o| o.resource.clone())
                .collect(),
            dump: serde_json::Value::Null,
            ingress: None,
            docs_version: lab.istio.docs_version(),
        };
        (facts, admin, inner.gateway.as_ref().map(|g| g.admin))
    };
    facts.dump = proxy_config::admin_json(admin, "/config_dump").await?;
    if let Some(g) = gateway {
        facts.ingress = Some(Ingress {
            exposed: exposed(&lab.gateway_url),
            dump: proxy_config::admin_json(g, "/config_dump").await?,
        });
    }
    Ok(render::describe(&facts))
}
