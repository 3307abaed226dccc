//! Workload identities and mutual TLS on the real Envoy: PERMISSIVE by default, STRICT from
//! istio/peer-authentication-tutorial-strict.yml (plain text refused at the sidecar's inbound listener,
//! the chain still answering through the mesh), a selector-scoped policy, the sidecar-less pod refused,
//! a TLS client with and without a workload certificate, and an unsupported field refused by name.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use mesh_lab::guided::send::{chain_prefix, requests};
use mesh_lab::{Lab, LabOptions};

use crate::{http, istio, lab, only_v1};

/// Sends a plain-text HTTP request straight to `addr` and returns what came back (empty: the
/// connection was closed or reset without an HTTP answer). Bounded by a 5 s read timeout.
fn plain_get(addr: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: preference:8080\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..100 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn inbound(lab: &Lab, deployment: &str) -> String {
    let show = lab.show().await.unwrap();
    show.workloads
        .iter()
        .find(|w| w.name == deployment)
        .and_then(|w| w.inbound.clone())
        .unwrap_or_else(|| panic!("{deployment} has an inbound listener: {:?}", show.workloads))
}

/// A TLS client: with `cert` the workload certificate (and key) of that pod's directory; validating
/// the server against the lab's root (its certificate names a SPIFFE URI, no host name).
fn tls_client(lab: &Lab, cert: Option<&str>) -> reqwest::Client {
    let certs = |pod: &str| lab.dir.join(pod).join("certs");
    let root = std::fs::read(lab.dir.join("ca/root-cert.pem")).unwrap();
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([reqwest::Certificate::from_pem(&root).unwrap()])
        .tls_danger_accept_invalid_hostnames(true);
    if let Some(pod) = cert {
        let mut pem = std::fs::read(certs(pod).join("cert-chain.pem")).unwrap();
        pem.extend(std::fs::read(certs(pod).join("key.pem")).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

#[tokio::test]
async fn strict_refuses_plain_text_at_the_sidecar_while_the_chain_answers_over_mutual_tls() {
    let lab = lab().await;
    let v1 = only_v1(&lab).await;
    let customer = lab.pod_name("customer").await.unwrap();
    let pref = inbound(&lab, "preference-v1").await;
    let permissive_gw = requests(&http(), &lab.gateway_url, 1, None).await;
    let permissive_plain = plain_get(&pref);
    let applied = lab
        .apply_file(&istio("peer-authentication-tutorial-strict.yml"))
        .await
        .unwrap();
    let show = lab.show().await.unwrap();
    let strict_gw = requests(&http(), &lab.gateway_url, 1, None).await;
    let strict_plain = plain_get(&pref);
    let https = format!("https://{pref}/");
    let with_cert = tls_client(&lab, Some(&customer)).get(&https).send().await;
    let with_cert = match with_cert {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => panic!("a client with customer's certificate must get through: {e:?}"),
    };
    let without_cert = tls_client(&lab, None).get(&https).send().await;
    let deleted = lab.delete("peerauthentication", "default").await.unwrap();
    let after_plain = plain_get(&pref);
    lab.stop().await;

    assert_eq!(
        permissive_gw[0].body,
        format!("{}1\n", chain_prefix("v1", &v1))
    );
    assert!(
        permissive_plain.starts_with("HTTP/1.1 200 OK\r\n"),
        "{permissive_plain:?}"
    );
    assert_eq!(
        applied,
        ["peerauthentication.security.istio.io/default created"]
    );
    for w in &show.workloads {
        assert_eq!(w.mtls, "STRICT (PeerAuthentication default)", "{w:?}");
    }
    let sa = |w: &str| {
        show.workloads
            .iter()
            .find(|r| r.name == w)
            .and_then(|r| r.identity.clone())
    };
    assert_eq!(
        sa("customer").as_deref(),
        Some("spiffe://cluster.local/ns/tutorial/sa/customer")
    );
    assert_eq!(
        sa("recommendation-v2").as_deref(),
        Some("spiffe://cluster.local/ns/tutorial/sa/recommendation")
    );
    assert_eq!(strict_gw[0].status, 200, "{}", strict_gw[0].body);
    // The plain-text request above went through preference to v1 (its second answer).
    assert_eq!(strict_gw[0].body, format!("{}3\n", chain_prefix("v1", &v1)));
    assert_eq!(strict_plain, "", "STRICT: no HTTP answer to plain text");
    assert_eq!(
        with_cert,
        (
            200,
            format!("preference => recommendation v1 from '{v1}': 4\n")
        )
    );
    assert!(
        without_cert.is_err(),
        "no client certificate: the handshake fails, {without_cert:?}"
    );
    assert_eq!(
        deleted,
        "peerauthentication.security.istio.io \"default\" deleted"
    );
    assert!(
        after_plain.starts_with("HTTP/1.1 200 OK\r\n"),
        "{after_plain:?}"
    );
}

const PREFERENCE_STRICT: &str = "apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: preference-strict
spec:
  selector:
    matchLabels:
      app: preference
  mtls:
    mode: STRICT
";

#[tokio::test]
async fn a_selector_scoped_policy_affects_only_its_workloads() {
    let lab = lab().await;
    lab.apply_text(Path::new("pa-preference.yml"), PREFERENCE_STRICT)
        .await
        .unwrap();
    let show = lab.show().await.unwrap();
    let pref = plain_get(&inbound(&lab, "preference-v1").await);
    let reco = plain_get(&inbound(&lab, "recommendation-v1").await);
    let gw = requests(&http(), &lab.gateway_url, 1, None).await;
    lab.stop().await;
    let mode = |w: &str| {
        show.workloads
            .iter()
            .find(|r| r.name == w)
            .map(|r| r.mtls.clone())
            .unwrap()
    };
    assert_eq!(
        mode("preference-v1"),
        "STRICT (PeerAuthentication preference-strict)"
    );
    assert_eq!(mode("customer"), "PERMISSIVE (mesh default)");
    assert_eq!(pref, "", "preference is STRICT");
    assert!(reco.starts_with("HTTP/1.1 200 OK\r\n"), "{reco:?}");
    assert_eq!(gw[0].status, 200, "{}", gw[0].body);
}

#[tokio::test]
async fn under_strict_a_pod_without_sidecar_is_refused_as_on_a_cluster() {
    let lab = lab().await;
    // preference without its sidecar: its call to recommendation goes to the ClusterIP, in plain text.
    lab.patch(
        "deployment",
        "preference-v1",
        r#"{"spec":{"template":{"metadata":{"labels":{"sidecar.istio.io/inject":"false"}}}}}"#,
    )
    .await
    .unwrap();
    let permissive = requests(&http(), &lab.gateway_url, 1, None).await;
    lab.apply_file(&istio("peer-authentication-tutorial-strict.yml"))
        .await
        .unwrap();
    let show = lab.show().await.unwrap();
    let strict = requests(&http(), &lab.gateway_url, 3, None).await;
    lab.stop().await;
    let row = show
        .workloads
        .iter()
        .find(|w| w.name == "preference-v1")
        .unwrap();
    assert_eq!((row.identity.as_deref(), row.mtls.as_str()), (None, "none"));
    // Without its sidecar preference's call bypasses the VirtualService (kube-proxy picks v1 or v2).
    assert_eq!(permissive[0].status, 200, "{:?}", permissive[0]);
    assert!(
        permissive[0]
            .body
            .starts_with("customer => preference => recommendation v"),
        "{:?}",
        permissive[0]
    );
    // customer's sidecar reaches preference (no sidecar: plain text, auto mTLS); preference's plain-text
    // call is refused by recommendation's STRICT sidecar. The connection preference's client kept open
    // from before is drained by the listener change (its first answer may still come through, as on a
    // cluster); every new one is refused.
    // preference reports the reset of its call to recommendation's ClusterIP.
    for a in &strict[1..] {
        assert!(
            a.status == 503
                && a.body.starts_with(
                    "customer => Error: 503 - preference => connection reset: http://127.0.0.1:"
                )
                && a.body.ends_with("/\n"),
            "{strict:?}"
        );
    }
}

#[tokio::test]
async fn an_unsupported_peer_authentication_field_is_refused_naming_file_and_field() {
    let lab = lab().await;
    let text = format!("{PREFERENCE_STRICT}  portLevelMtls:\n    \"8080\":\n      mode: DISABLE\n");
    let err = lab
        .apply_text(Path::new("istio/pa-port-level.yml"), &text)
        .await
        .unwrap_err();
    let show = lab.show().await.unwrap();
    lab.stop().await;
    let err = format!("{err:#}");
    assert!(
        err.contains("istio/pa-port-level.yml")
            && err.contains("PeerAuthentication preference-strict")
            && err.contains("field spec.portLevelMtls is not supported"),
        "{err}"
    );
    assert!(
        !show.objects.iter().any(|o| o.kind == "PeerAuthentication"),
        "{:?}",
        show.objects
    );
}

/// A listener update Envoy NACKs (a filter chain twice) leaves the proxy on what it had, serving, and
/// the NACK on record with Envoy's reason, as istiod records it.
#[tokio::test]
async fn an_inbound_listener_envoy_rejects_by_lds_is_reported_and_the_previous_one_stays() {
    use mesh_istiod::bootstrap::Bootstrap;
    use mesh_istiod::networking::core::cluster_builder::static_cluster;
    use mesh_istiod::networking::core::configgen::Dynamic;
    use mesh_istiod::security::authn::mtls::{MtlsMode, inbound_listener};
    use mesh_lab::dataplane::ca::Ca;
    use mesh_lab::dataplane::envoy::{Envoy, find_envoy};
    use mesh_lab::dataplane::ports::free_port;

    tutorial_common::boot::install_crypto_provider();
    let bin = find_envoy().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!("mesh-lab-lds-test-{}", std::process::id()));
    let ca = Ca::create(&dir).unwrap();
    let certs = mesh_istiod::model::identity::CertFiles::in_dir(&dir);
    ca.issue("spiffe://cluster.local/ns/tutorial/sa/default", &certs)
        .unwrap();
    // The app behind it is a closed port: Envoy itself answers 503, proof the listener serves.
    let app: std::net::SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
    let boot = Bootstrap {
        node_id: "sidecar~127.0.0.1~lds-test.tutorial~tutorial.svc.cluster.local".into(),
        node_cluster: "lds-test.tutorial".into(),
        listeners: vec![],
        static_clusters: vec![static_cluster("inbound|8080||", app)],
    };
    let listener = |mode| {
        inbound_listener(
            addr,
            8080,
            &dir,
            mode,
            vec![],
            mesh_istiod::model::release::IstioRelease::CURRENT,
        )
    };
    let good = Dynamic {
        listeners: vec![listener(MtlsMode::Permissive)],
        ..Dynamic::default()
    };
    let xds = mesh_lab::xds::Xds::start().await.unwrap();
    let mut envoy = Envoy::start(&bin, &dir, &boot, &good, &xds).await.unwrap();
    let before = plain_get(&addr.to_string());
    // STRICT with its filter chain twice: Envoy refuses the listener naming it, and keeps the one it had.
    let mut strict = listener(MtlsMode::Strict);
    strict.filter_chains.push(strict.filter_chains[0].clone());
    let bad = Dynamic {
        listeners: vec![strict],
        ..Dynamic::default()
    };
    let err = envoy.update(&bad).await.unwrap_err();
    let kept = envoy.current() == &good;
    let after = plain_get(&addr.to_string());
    let status = xds.status();
    envoy.kill();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(before.starts_with("HTTP/1.1 503 "), "{before:?}");
    let err = format!("{err:#}");
    assert!(
        err.contains("rejected configuration version 3 (LDS)") && err.contains("virtualInbound"),
        "{err}"
    );
    let lds = &status[0].status[mesh_lab::xds::LISTENER];
    assert_eq!(lds.sync_status(), "STALE", "{status:?}");
    assert!(
        lds.nack
            .as_ref()
            .is_some_and(|n| n.message.contains("virtualInbound")),
        "the NACK and Envoy's reason are on record: {status:?}"
    );
    assert!(kept, "the previous configuration stays in force");
    assert!(
        after.starts_with("HTTP/1.1 503 "),
        "PERMISSIVE still answers plain text: {after:?}"
    );
}

/// Certificates are renewed at half their lifetime, as istio-agent renews them, by swapping the SDS
/// secrets in place: with a 6 s lifetime, across two renewals and past the first certificates' expiry,
/// every request through the gateway (one every 100 ms) answers 200 — no listener drained, no cluster
/// rebuilt, no certificate expired before its successor landed — and preference's sidecar serves a
/// renewed certificate to a client holding customer's (without the renewal that handshake fails:
/// `InvalidCertificate(Expired…)`, and so does every hop of the chain).
#[tokio::test]
async fn certificates_are_renewed_before_they_expire() {
    tutorial_common::boot::install_crypto_provider();
    let lab = Lab::start(LabOptions {
        repo: crate::repo(),
        cert_lifetime: Some(Duration::from_secs(6)),
        ..LabOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the local mesh must start: {e:#}"));
    let customer = lab.pod_name("customer").await.unwrap();
    let preference = lab.pod_name("preference-v1").await.unwrap();
    let pref = inbound(&lab, "preference-v1").await;
    let pem = || std::fs::read(lab.dir.join(&preference).join("certs/cert-chain.pem")).unwrap();
    let first = pem();
    // STRICT: every hop is mutual TLS, and the TLS chain takes a client without Istio's ALPN.
    lab.apply_file(&istio("peer-authentication-tutorial-strict.yml"))
        .await
        .unwrap();
    let started = Instant::now();
    let client = http();
    let mut answers = Vec::new();
    // Requests every 100 ms until the first certificates are past their 6 s and two renewals are done;
    // bounded to 20 s.
    while started.elapsed() < Duration::from_secs(20)
        && !(started.elapsed() > Duration::from_millis(6500) && lab.renewals() >= 2)
    {
        let a = requests(&client, &lab.gateway_url, 1, None).await;
        answers.push((started.elapsed(), a[0].status, a[0].body.clone()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let renewals = lab.renewals();
    let renewed = pem() != first;
    let https = format!("https://{pref}/");
    let tls = tls_client(&lab, Some(&customer)).get(&https).send().await;
    let tls = match tls {
        Ok(r) => Ok((r.status().as_u16(), r.text().await.unwrap_or_default())),
        Err(e) => Err(format!("{e:?}")),
    };
    let after = requests(&client, &lab.gateway_url, 1, None).await;
    lab.stop().await;
    assert!(renewals >= 2, "{renewals} renewal(s) within 20 s");
    assert!(renewed, "preference's certificate is still the first one");
    let statuses: Vec<u16> = answers.iter().map(|(_, s, _)| *s).collect();
    let failed: Vec<_> = answers.iter().filter(|(_, s, _)| *s != 200).collect();
    assert!(
        statuses.len() > 20 && failed.is_empty(),
        "{} of {} requests failed: {failed:?}",
        failed.len(),
        statuses.len()
    );
    assert_eq!(after[0].status, 200, "{}", after[0].body);
    let (status, body) = tls.unwrap_or_else(|e| panic!("the renewed certificates handshake: {e}"));
    assert_eq!(status, 200);
    assert!(body.starts_with("preference => recommendation v"), "{body}");
}
