//! The stream's rules against a gRPC client playing Envoy: a response on subscription, ACK and NACK on
//! record, a response to an old nonce ignored, new names answered at once, a push sent as a new version.

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc::Status;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::*;

const NODE: &str = "sidecar~127.0.0.1~customer-1.tutorial~tutorial.svc.cluster.local";

/// A client stream: what it sends, and what it receives.
struct Client {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: tonic::Streaming<DiscoveryResponse>,
}

impl Client {
    async fn connect(xds: &Xds) -> Self {
        let mut client =
            AggregatedDiscoveryServiceClient::connect(format!("http://{}", xds.addr()))
                .await
                .unwrap();
        let (tx, rx) = mpsc::channel(8);
        let rx = client
            .stream_aggregated_resources(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        Self { tx, rx }
    }

    async fn send(&self, r: DiscoveryRequest) {
        self.tx.send(r).await.unwrap();
    }

    async fn next(&mut self) -> DiscoveryResponse {
        tokio::time::timeout(Duration::from_secs(5), self.rx.message())
            .await
            .expect("a response within 5 s")
            .unwrap()
            .expect("the stream is open")
    }
}

fn request(type_url: &str, names: &[&str], nonce: &str, version: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: NODE.into(),
            ..Node::default()
        }),
        type_url: type_url.into(),
        resource_names: names.iter().map(|n| (*n).to_owned()).collect(),
        response_nonce: nonce.into(),
        version_info: version.into(),
        ..DiscoveryRequest::default()
    }
}

fn nack(of: &DiscoveryResponse, acked: &str, why: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        error_detail: Some(Status {
            code: 3,
            message: why.into(),
            ..Status::default()
        }),
        ..request(&of.type_url, &[], &of.nonce, acked)
    }
}

fn cluster(name: &str) -> Cluster {
    Cluster {
        name: name.into(),
        ..Cluster::default()
    }
}

fn route(name: &str) -> RouteConfiguration {
    RouteConfiguration {
        name: name.into(),
        ..RouteConfiguration::default()
    }
}

/// The resources of one push.
fn resources(
    clusters: &[Cluster],
    routes: &[RouteConfiguration],
) -> Vec<(&'static str, Resources)> {
    vec![
        (CLUSTER, encoded(clusters, |c| &c.name)),
        (ROUTE, encoded(routes, |r| &r.name)),
    ]
}

fn status_of(xds: &Xds, type_url: &str) -> TypeStatus {
    xds.status()[0].status[type_url].clone()
}

#[tokio::test]
async fn acks_nacks_stale_nonces_and_new_names_follow_ads() {
    let xds = Xds::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("xds-test-{}", std::process::id()));
    xds.register(NODE, &dir).unwrap();
    let (clusters, routes) = (vec![cluster("a")], vec![route("80"), route("8080")]);
    xds.push(NODE, 1, resources(&clusters, &routes));
    let mut envoy = Client::connect(&xds).await;

    // Subscribing gets the current version; the ACK is on record.
    envoy.send(request(CLUSTER, &[], "", "")).await;
    let cds = envoy.next().await;
    assert_eq!((cds.version_info.as_str(), cds.resources.len()), ("1", 1));
    envoy.send(request(CLUSTER, &[], &cds.nonce, "1")).await;
    // RDS by name: only the names asked for.
    envoy.send(request(ROUTE, &["80"], "", "")).await;
    let rds = envoy.next().await;
    assert_eq!(rds.resources.len(), 1);
    assert_eq!(status_of(&xds, CLUSTER).sync_status(), "SYNCED");
    // New names are answered at once, at the same version.
    envoy
        .send(request(ROUTE, &["80", "8080"], &rds.nonce, "1"))
        .await;
    let both = envoy.next().await;
    assert_eq!((both.version_info.as_str(), both.resources.len()), ("1", 2));
    envoy
        .send(request(ROUTE, &["80", "8080"], &both.nonce, "1"))
        .await;

    // A push is a new version; a NACK leaves the type STALE with the reason.
    let clusters = vec![cluster("a"), cluster("b")];
    xds.push(NODE, 2, resources(&clusters, &routes));
    let cds2 = envoy.next().await;
    assert_eq!((cds2.version_info.as_str(), cds2.resources.len()), ("2", 2));
    let rds2 = envoy.next().await;
    assert_eq!(
        (rds2.type_url.as_str(), rds2.version_info.as_str()),
        (ROUTE, "2")
    );
    envoy
        .send(nack(&cds2, "1", "cluster b: no endpoints"))
        .await;
    let wait = xds.wait(NODE, 2, &[CLUSTER], Duration::from_secs(5)).await;
    let rejected = wait.unwrap_err().downcast::<Rejected>().unwrap();
    assert_eq!(rejected.message, "cluster b: no endpoints");
    assert_eq!(status_of(&xds, CLUSTER).sync_status(), "STALE");

    // A response to an old nonce is ignored; the next push is still answered, and its ACK syncs.
    envoy.send(request(CLUSTER, &["x"], &cds.nonce, "1")).await;
    xds.push(NODE, 3, resources(&clusters, &routes));
    let cds3 = envoy.next().await;
    assert_eq!((cds3.version_info.as_str(), cds3.resources.len()), ("3", 2));
    envoy.send(request(CLUSTER, &[], &cds3.nonce, "3")).await;
    xds.wait(NODE, 3, &[CLUSTER], Duration::from_secs(5))
        .await
        .unwrap();
    let s = status_of(&xds, CLUSTER);
    assert_eq!(
        (s.sync_status(), s.nack.is_none()),
        ("SYNCED", true),
        "{s:?}"
    );
}
