//! Traffic through the mesh: `oc exec` of curl from a pod's proxy container, recommendation v3's time lookup
//! (rules::egress) and the fake `curl` through the ingress gateway.

use serde_json::{Value, json};

use crate::cli::Args;
use crate::rules::{self, Mesh};
use crate::{Cluster, Reply};

impl Cluster {
    /// `oc exec deployment/<name> -c istio-proxy -- curl ... http://worldclockapi.com/...`: the proxy's own
    /// traffic is not redirected (Istio's iptables rules exclude the proxy's user), so it reaches whatever the
    /// pod's hostAliases map the name to.
    pub(crate) fn exec(&mut self, a: &Args) -> Reply {
        let target = a.words.get(1).cloned().unwrap_or_default();
        let Some(deployment) = target.strip_prefix("deployment/") else {
            return self.strict("exec: only deployment/NAME");
        };
        let ns = self.ns_of(a);
        let Some(pod) = self.pods_of(&ns, deployment).into_iter().next() else {
            return Err((
                1,
                format!("error: cannot exec into deployment/{deployment}: no pod\n"),
            ));
        };
        let container = a.get("-c").unwrap_or("");
        let has = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .chain(pod["spec"]["initContainers"].as_array())
            .flatten()
            .any(|c| c["name"].as_str() == Some(container));
        let pod_name = pod["metadata"]["name"].as_str().unwrap_or("");
        if !has {
            return Err((
                1,
                format!("error: container {container} is not valid for pod {pod_name}\n"),
            ));
        }
        let url = a.command.last().cloned().unwrap_or_default();
        if a.command.first().map(String::as_str) != Some("curl")
            || !url.starts_with(&format!("http://{}/", rules::TIME_HOST))
        {
            return self.strict("exec: only curl to the time API");
        }
        if !self.resolves_to_stand_in(&pod) {
            return Err((
                6,
                format!(
                    "curl: (6) Could not resolve host: {}\ncommand terminated with exit code 6\n",
                    rules::TIME_HOST
                ),
            ));
        }
        if !self.stand_in_up() {
            return Err((
                7,
                format!(
                    "curl: (7) Failed to connect to {} port 80: Connection refused\ncommand terminated with exit code 7\n",
                    rules::TIME_HOST
                ),
            ));
        }
        Ok(format!("{STAND_IN_JSON}\n"))
    }

    pub(crate) fn stand_in_ip(&self) -> Option<String> {
        self.list("Service", None)
            .into_iter()
            .find(|s| s["metadata"]["name"].as_str() == Some("worldclock"))
            .and_then(|s| s["spec"]["clusterIP"].as_str().map(str::to_owned))
    }

    pub(crate) fn stand_in_up(&self) -> bool {
        self.list("Pod", None)
            .iter()
            .any(|p| p["_fake"]["owner"].as_str() == Some("worldclock") && self.pod_ready(p))
    }

    pub(crate) fn resolves_to_stand_in(&self, pod: &Value) -> bool {
        let ip = self.stand_in_ip();
        pod["spec"]["hostAliases"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|h| {
                h["ip"].as_str().map(str::to_owned) == ip
                    && h["hostnames"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|n| n.as_str() == Some(rules::TIME_HOST))
            })
    }

    /// The outbound policy in force for `ns`: its Sidecar resource's, else the control plane's.
    pub(crate) fn outbound_policy(&self, ns: &str) -> String {
        let sidecar = self.list("Sidecar", Some(ns)).into_iter().find_map(|s| {
            s["spec"]["outboundTrafficPolicy"]["mode"]
                .as_str()
                .map(str::to_owned)
        });
        if let Some(mode) = sidecar {
            return mode;
        }
        let mesh = match self.profile.mesh {
            Mesh::Ossm2 => self
                .list("ServiceMeshControlPlane", None)
                .into_iter()
                .find_map(|o| {
                    o["spec"]["proxy"]["networking"]["trafficControl"]["outbound"]["policy"]
                        .as_str()
                        .map(str::to_owned)
                }),
            Mesh::Ossm3 => self.list("Istio", None).into_iter().find_map(|o| {
                o["spec"]["values"]["meshConfig"]["outboundTrafficPolicy"]["mode"]
                    .as_str()
                    .map(str::to_owned)
            }),
        };
        mesh.unwrap_or_else(|| "ALLOW_ANY".into())
    }

    /// recommendation v3's time lookup, by the rule of rules::egress.
    pub(crate) fn time_lookup(&self, pod: &Value) -> rules::Egress {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
        let for_host = |o: &Value| {
            o["spec"]["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|h| h.as_str() == Some(rules::TIME_HOST))
        };
        let ports: Option<Vec<u64>> = self
            .list("ServiceEntry", Some(ns))
            .into_iter()
            .find(for_host)
            .map(|se| {
                se["spec"]["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["number"].as_u64())
                    .collect()
            });
        let vs = self.list("VirtualService", Some(ns)).iter().any(for_host);
        rules::egress(
            pod["_fake"]["injected"].as_bool() == Some(true),
            self.resolves_to_stand_in(pod),
            self.stand_in_up(),
            &self.outbound_policy(ns),
            ports.as_deref(),
            vs,
        )
    }

    /// curl through the gateway's Route: the chain answers when the gateway runs, the Gateway and
    /// VirtualService customer-gateway exist, and customer, preference and the recommendation the routing
    /// picks run with their sidecars; v3's answer depends on its time lookup.
    pub(crate) fn curl(&mut self) -> Reply {
        let url = self
            .args
            .iter()
            .rev()
            .find(|a| a.starts_with("http://") || a.starts_with("https://"))
            .cloned();
        let Some(url) = url else {
            return self.strict("curl without URL");
        };
        let host = url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split(['/', ':'])
            .next()
            .unwrap_or("")
            .to_owned();
        let Some(route) = self
            .list("Route", None)
            .into_iter()
            .find(|r| r["spec"]["host"].as_str() == Some(host.as_str()))
        else {
            return Err((6, format!("curl: (6) Could not resolve host: {host}\n")));
        };
        let gw_ns = route["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let gateway_up = route["_fake"]["gateway"].as_str() == Some("ready")
            || self
                .pods_of(&gw_ns, "istio-ingressgateway")
                .iter()
                .any(|p| self.pod_ready(p));
        if !gateway_up {
            return Err((
                7,
                format!(
                    "curl: (7) Failed to connect to {host} port 80 after 3 ms: Couldn't connect to server\n"
                ),
            ));
        }
        let Some(vs) = self
            .list("VirtualService", None)
            .into_iter()
            .find(|v| v["metadata"]["name"].as_str() == Some("customer-gateway"))
        else {
            return Ok(String::new()); // 404 from the gateway: no route
        };
        let ns = vs["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if self.obj("Gateway", &ns, "customer-gateway").is_none() {
            return Ok(String::new());
        }
        let serving = |app: &str| {
            self.list("Pod", Some(&ns)).into_iter().find(|p| {
                p["metadata"]["labels"]["app"].as_str() == Some(app)
                    && p["_fake"]["injected"].as_bool() == Some(true)
                    && self.pod_ready(p)
            })
        };
        let (Some(_), Some(_)) = (serving("customer"), serving("preference")) else {
            return Ok("no healthy upstream".into());
        };
        // recommendation: the subset the VirtualService `recommendation` names (its labels from the
        // DestinationRule), else v1.
        let subset = self
            .obj("VirtualService", &ns, "recommendation")
            .and_then(|vs| vs["spec"]["http"][0]["route"][0]["destination"]["subset"].as_str())
            .map(str::to_owned);
        let labels = match subset {
            Some(subset) => self
                .list("DestinationRule", Some(&ns))
                .into_iter()
                .flat_map(|dr| {
                    dr["spec"]["subsets"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .find(|s| s["name"].as_str() == Some(subset.as_str()))
                .map(|s| s["labels"].clone()),
            None => Some(json!({"version": "v1"})),
        };
        let rec = labels.and_then(|labels| {
            self.list("Pod", Some(&ns)).into_iter().find(|p| {
                p["metadata"]["labels"]["app"].as_str() == Some("recommendation")
                    && labels
                        .as_object()
                        .is_some_and(|m| m.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v))
                    && p["_fake"]["injected"].as_bool() == Some(true)
                    && self.pod_ready(p)
            })
        });
        let Some(rec) = rec else {
            return Ok(
                "customer => Error: 503 - preference => Error: 503 - no healthy upstream\n".into(),
            );
        };
        let n = self.state["answers"].as_u64().unwrap_or(0) + 1;
        self.state["answers"] = json!(n);
        let version = rec["metadata"]["labels"]["version"]
            .as_str()
            .unwrap_or("v1");
        let pod = rec["metadata"]["name"].as_str().unwrap_or("");
        if version != "v3" {
            return Ok(format!(
                "customer => preference => recommendation {version} from '{pod}': {n}\n"
            ));
        }
        let what = match self.time_lookup(&rec) {
            rules::Egress::Time => {
                return Ok(format!(
                    "customer => preference => recommendation v3 {STAND_IN_TIME} from '{pod}': {n}\n"
                ));
            }
            rules::Egress::Proxy(code) => format!("the mesh proxy answered {code}"),
            rules::Egress::NoSuchHost => "dns error: failed to lookup address information".into(),
            rules::Egress::Refused => "connection refused".into(),
        };
        Ok(format!(
            "customer => Error: 503 - preference => Error: 500 - time lookup http://{}/api/json/cet/now failed: {what}\n",
            rules::TIME_HOST
        ))
    }
}

/// What the stand-in answers (worldclockapi.com's shape, worldclock-standin/).
const STAND_IN_JSON: &str = r#"{"$id":"1","currentDateTime":"2026-12-05T23:31+01:00","utcOffset":"01:00:00","isDayLightSavingsTime":false,"dayOfTheWeek":"Saturday","timeZoneName":"Central Europe Standard Time","currentFileTime":134093286600000000,"ordinalDate":"2026-339","serviceResponse":null}"#;
/// The time recommendation v3 prints from that answer.
const STAND_IN_TIME: &str = "2026-12-05T23:31+01:00";
