//! One ADS stream (pilot/pkg/xds/ads.go `StreamAggregatedResources`, `processRequest`, and
//! `shouldRespond` for what is an ACK, a NACK or a new subscription): state of the world, one
//! subscription per type, a response when the proxy subscribes, when its names change, or when the
//! lab pushes a newer version. A response to a nonce other than the last one sent is stale and ignored.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use super::{CLUSTER, LISTENER, Nack, PUSH_ORDER, Shared};

/// Serves ADS on `listener` until aborted.
pub(super) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let service = AggregatedDiscoveryServiceServer::new(Ads { shared });
    let incoming = TcpListenerStream::new(listener);
    if let Err(e) = tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming(incoming)
        .await
    {
        tracing::warn!("the lab's xDS server stopped: {e}");
    }
}

struct Ads {
    shared: Arc<Shared>,
}

type Sent = Result<DiscoveryResponse, Status>;

#[tonic::async_trait]
impl AggregatedDiscoveryService for Ads {
    type StreamAggregatedResourcesStream = ReceiverStream<Sent>;
    type DeltaAggregatedResourcesStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let stream = Connection {
            shared: self.shared.clone(),
            node: None,
            subscriptions: BTreeMap::new(),
            tx,
        };
        tokio::spawn(stream.run(request.into_inner()));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn delta_aggregated_resources(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        Err(Status::unimplemented(
            "the lab serves state-of-the-world ADS (api_type GRPC)",
        ))
    }
}

/// One type the proxy subscribed to on this stream.
#[derive(Default)]
struct Subscription {
    names: Vec<String>,
    /// The version and nonce of the last response sent.
    sent: Option<(u64, String)>,
    /// A response is owed whatever the version (a new subscription or new names).
    owed: bool,
}

struct Connection {
    shared: Arc<Shared>,
    node: Option<String>,
    subscriptions: BTreeMap<&'static str, Subscription>,
    tx: mpsc::Sender<Sent>,
}

impl Connection {
    async fn run(mut self, mut inbound: Streaming<DiscoveryRequest>) {
        let mut changed = self.shared.subscribe();
        loop {
            tokio::select! {
                request = inbound.message() => match request {
                    Ok(Some(r)) => self.receive(r),
                    Ok(None) | Err(_) => break,
                },
                c = changed.changed() => if c.is_err() { break },
            }
            if self.send_due().await.is_err() {
                break;
            }
        }
    }

    /// An ACK, a NACK or a (new) subscription.
    fn receive(&mut self, r: DiscoveryRequest) {
        if self.node.is_none() {
            let Some(node) = r.node.as_ref().map(|n| n.id.clone()) else {
                return;
            };
            self.node = Some(node);
        }
        let Some(type_url) = PUSH_ORDER.iter().copied().find(|t| *t == r.type_url) else {
            return;
        };
        let sub = self.subscriptions.entry(type_url).or_default();
        let sent = sub.sent.clone();
        if !r.response_nonce.is_empty() && sent.as_ref().map(|s| &s.1) != Some(&r.response_nonce) {
            return; // stale: a response to an older nonce
        }
        // The names as a set: Envoy may list the same subscription in another order.
        let mut names = r.resource_names.clone();
        names.sort();
        names.dedup();
        if names != sub.names || sent.is_none() {
            sub.names = names;
            sub.owed = true;
        }
        let names = sub.names.clone();
        let node = self.node.clone().unwrap_or_default();
        self.shared.change(|proxies| {
            let p = proxies.entry(node).or_default();
            let status = p.status.entry(type_url).or_default();
            status.names = names;
            let Some((version, nonce)) = sent else {
                return;
            };
            match &r.error_detail {
                Some(e) => {
                    status.nack = Some(Nack {
                        version,
                        nonce,
                        message: e.message.clone(),
                    })
                }
                None => {
                    status.acked_version = Some(version);
                    status.acked_nonce = nonce;
                    status.nack = None;
                }
            }
        });
    }

    /// Sends, in push order, every subscribed type whose response is owed or whose version is newer.
    async fn send_due(&mut self) -> Result<(), mpsc::error::SendError<Sent>> {
        let Some(node) = self.node.clone() else {
            return Ok(());
        };
        for type_url in PUSH_ORDER {
            let Some(sub) = self.subscriptions.get_mut(type_url) else {
                continue;
            };
            let response = self.shared.with(|proxies| {
                let p = proxies.get_mut(&node)?;
                let pushed = p.pushed.get(type_url)?;
                let newer = sub.sent.as_ref().is_none_or(|s| s.0 < pushed.version);
                if !(sub.owed || newer) {
                    return None;
                }
                let wildcard = matches!(type_url, CLUSTER | LISTENER);
                let resources = pushed
                    .resources
                    .iter()
                    .filter(|(n, _)| wildcard || sub.names.contains(n))
                    .map(|(_, a)| a.clone())
                    .collect();
                let nonce = self
                    .shared
                    .nonce
                    .fetch_add(1, Ordering::Relaxed)
                    .to_string();
                let status = p.status.entry(type_url).or_default();
                status.sent_version = Some(pushed.version);
                status.sent_nonce = nonce.clone();
                sub.sent = Some((pushed.version, nonce.clone()));
                sub.owed = false;
                Some(DiscoveryResponse {
                    version_info: pushed.version.to_string(),
                    resources,
                    type_url: type_url.to_owned(),
                    nonce,
                    ..DiscoveryResponse::default()
                })
            });
            if let Some(r) = response {
                self.tx.send(Ok(r)).await?;
            }
        }
        Ok(())
    }
}
