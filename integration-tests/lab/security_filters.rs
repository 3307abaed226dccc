//! The translated security filters on the real Envoy: one standalone Envoy with one HTTP listener per
//! case, each listener's filters the output of `mesh_istiod::security::authz::inbound_http_filters` (jwt_authn and
//! RBAC) before the router, in front of a loopback upstream answering 200 `ok`. Exact statuses and
//! bodies. Principals (the mTLS peer identity) need mTLS between proxies and are covered by the unit
//! tests of mesh-lab's authz module only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use mesh_istiod::security::authz::inbound_http_filters;
use mesh_istiod::util::protomarshal::to_json;
use mesh_lab::dataplane::issuer::Issuer;
use mesh_lab::dataplane::{envoy::find_envoy, ports::free_port};
use mesh_manifests::Resource;
use serde_json::{Value, json};

use crate::{http, istio};

fn resources_of(path: &Path, text: &str) -> Vec<Resource> {
    mesh_manifests::parse_str(path, text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|d| d.resource)
        .collect()
}

fn file(name: &str) -> Vec<Resource> {
    let path = istio(name);
    resources_of(&path, &std::fs::read_to_string(&path).expect("istio/ file"))
}

fn yaml(text: &str) -> Vec<Resource> {
    resources_of(Path::new("test.yml"), text)
}

fn labels(app: &str) -> BTreeMap<String, String> {
    [("app", app), ("version", "v1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A standalone Envoy, killed when dropped.
struct Envoy {
    child: Child,
    dir: PathBuf,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Envoy {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }
}

fn listener(name: &str, addr: SocketAddr, filters: &[HttpFilter]) -> Value {
    let mut filters: Vec<Value> = filters.iter().map(to_json).collect();
    filters.push(
        json!({"name": "envoy.filters.http.router", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}),
    );
    json!({
        "name": name,
        "address": {"socket_address": {"address": "127.0.0.1", "port_value": addr.port()}},
        "enable_reuse_port": false,
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": name,
            "route_config": {"name": "inbound", "virtual_hosts": [{"name": "app", "domains": ["*"],
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "app", "timeout": "0s"}}]}]},
            "http_filters": filters
        }}]}]
    })
}

/// Starts Envoy with these listeners (name, address, filters before the router) to `upstream`.
async fn start(cases: &[(&str, SocketAddr, Vec<HttpFilter>)], upstream: SocketAddr) -> Envoy {
    let bin = find_envoy().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::temp_dir().join(format!(
        "mesh-lab-security-filters-{}-{}",
        std::process::id(),
        free_port().unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let admin: SocketAddr = ([127, 0, 0, 1], free_port().unwrap()).into();
    let boot = json!({
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin.port()}}},
        "static_resources": {
            "listeners": cases.iter().map(|(n, a, f)| listener(n, *a, f)).collect::<Vec<_>>(),
            "clusters": [{
                "name": "app", "type": "STATIC", "connect_timeout": "5s",
                "load_assignment": {"cluster_name": "app", "endpoints": [{"lb_endpoints": [{"endpoint": {"address":
                    {"socket_address": {"address": "127.0.0.1", "port_value": upstream.port()}}}}]}]}
            }]
        }
    });
    let boot_file = dir.join("bootstrap.json");
    std::fs::write(&boot_file, serde_json::to_vec_pretty(&boot).unwrap()).unwrap();
    let child = Command::new(&bin)
        .arg("-c")
        .arg(&boot_file)
        .args([
            "--log-level",
            "warn",
            "--disable-hot-restart",
            "--concurrency",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("envoy.log")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let mut envoy = Envoy { child, dir };
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = envoy.child.try_wait().unwrap() {
            panic!(
                "Envoy rejected the configuration ({status}): {}",
                envoy.log()
            );
        }
        if let Ok(r) = client.get(format!("http://{admin}/ready")).send().await
            && r.status().is_success()
        {
            return envoy;
        }
        assert!(
            Instant::now() < deadline,
            "Envoy not ready after 20 s: {}",
            envoy.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut req = http().request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("http://{addr}{path}"),
    );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("Envoy answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn addr() -> SocketAddr {
    ([127, 0, 0, 1], free_port().unwrap()).into()
}

const DENIED: (u16, &str) = (403, "RBAC: access denied");

#[tokio::test]
async fn rbac_and_jwt_filters_decide_as_on_a_cluster() {
    tutorial_common::boot::install_crypto_provider();
    let upstream: SocketAddr = integration_tests::serve_on_loopback(|cfg| {
        cfg.default_service(actix_web::web::to(|| async { "ok" }));
    })
    .trim_start_matches("http://")
    .parse()
    .unwrap();
    let issuer = Issuer::generate().unwrap();
    let jwks = |_: &str, _: &str| issuer.jwks();

    let deny_all = inbound_http_filters(
        &file("authorization-policy-deny-all.yml"),
        &labels("preference"),
        &jwks,
    )
    .unwrap();
    let allow_all = inbound_http_filters(
        &file("authorization-policy-customer.yml"),
        &labels("customer"),
        &jwks,
    )
    .unwrap();
    let rules = inbound_http_filters(
        &yaml(
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: public-reads}
spec:
  rules:
  - to: [{operation: {methods: [GET, HEAD], paths: ['/public/*', /exact], notPaths: [/public/secret]}}]
  - to: [{operation: {methods: [POST]}}]
    when: [{key: 'request.headers[x-role]', values: [admin]}]
  - to: [{operation: {hosts: ['allowed.example*'], paths: [/by-host]}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: audited}
spec: {action: AUDIT, rules: [{}]}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: blocked}
spec:
  action: DENY
  rules: [{when: [{key: 'request.headers[x-block]', values: ['*']}]}]
",
        ),
        &labels("customer"),
        &jwks,
    )
    .unwrap();
    // Every identity shape Envoy must accept (regexes, prefixes); a plain-text caller has none of them.
    let identities = inbound_http_filters(
        &yaml(
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: identities}
spec:
  rules:
  - from: [{source: {principals: ['*', '*/sa/customer', 'cluster.local/ns/tutorial/*', cluster.local/ns/tutorial/sa/customer]}}]
  - from: [{source: {namespaces: [tutorial, 'istio-*'], notNamespaces: [other]}}]
  - from: [{source: {serviceAccounts: [customer, other/sa], trustDomains: ['*', cluster.local, '*.local']}}]
  - from: [{source: {requestPrincipals: ['*', '*/sub', 'iss/*', 'https://a/b/c', '*suffix', 'prefix*']}}]
    when: [{key: source.namespace, values: [tutorial]}, {key: request.auth.principal, notValues: [x/y]}]
",
        ),
        &labels("customer"),
        &jwks,
    )
    .unwrap();
    // istio's "mTLS only" pattern: DENY when the peer has no principal at all.
    let mtls_only = inbound_http_filters(
        &yaml(
            "
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: mtls-only}
spec:
  action: DENY
  rules: [{from: [{source: {notPrincipals: ['*']}}], to: [{operation: {paths: [/deny-plaintext]}}]}]
",
        ),
        &labels("customer"),
        &jwks,
    )
    .unwrap();
    let with_jwt = inbound_http_filters(
        &file("request-authentication-customer-jwt.yml"),
        &labels("customer"),
        &jwks,
    )
    .unwrap();
    assert_eq!(with_jwt.len(), 2, "jwt_authn then RBAC");
    let (a_deny, a_allow, a_rules, a_ids, a_mtls, a_jwt) =
        (addr(), addr(), addr(), addr(), addr(), addr());
    let envoy = start(
        &[
            ("deny_all", a_deny, deny_all),
            ("allow_all", a_allow, allow_all),
            ("rules", a_rules, rules),
            ("identities", a_ids, identities),
            ("mtls_only", a_mtls, mtls_only),
            ("jwt", a_jwt, with_jwt),
        ],
        upstream,
    )
    .await;

    let denied = (DENIED.0, DENIED.1.to_owned());
    let ok = (200, "ok".to_owned());
    assert_eq!(call(a_deny, "GET", "/", &[]).await, denied);
    assert_eq!(call(a_allow, "GET", "/", &[]).await, ok);
    assert_eq!(call(a_allow, "DELETE", "/x", &[]).await, ok);

    for (method, path, headers, want) in [
        ("GET", "/public/a", &[][..], &ok),
        ("HEAD", "/public/a", &[][..], &(200, String::new())),
        ("GET", "/exact", &[][..], &ok),
        ("GET", "/exact/more", &[][..], &denied),
        ("GET", "/public/secret", &[][..], &denied),
        ("GET", "/private", &[][..], &denied),
        ("PUT", "/public/a", &[][..], &denied),
        ("POST", "/public/a", &[][..], &denied),
        ("POST", "/any", &[("x-role", "admin")][..], &ok),
        ("POST", "/any", &[("x-role", "user")][..], &denied),
        ("GET", "/public/a", &[("x-block", "")][..], &denied),
        (
            "POST",
            "/any",
            &[("x-role", "admin"), ("x-block", "1")][..],
            &denied,
        ),
        (
            "GET",
            "/by-host",
            &[("host", "allowed.example.com")][..],
            &ok,
        ),
        (
            "GET",
            "/by-host",
            &[("host", "ALLOWED.EXAMPLE.com")][..],
            &ok,
        ),
        ("GET", "/by-host", &[("host", "other.example")][..], &denied),
    ] {
        assert_eq!(
            &call(a_rules, method, path, headers).await,
            want,
            "{method} {path} {headers:?}"
        );
    }

    assert_eq!(call(a_ids, "GET", "/", &[]).await, denied, "no identity");
    assert_eq!(call(a_mtls, "GET", "/", &[]).await, ok);
    assert_eq!(call(a_mtls, "GET", "/deny-plaintext", &[]).await, denied);

    let iss = "testing@secure.istio.io";
    let bearer = |t: &str| format!("Bearer {t}");
    let good = issuer
        .sign(&json!({"iss": iss, "sub": iss, "iat": now(), "exp": now() + 300}))
        .unwrap();
    let other_subject = issuer
        .sign(&json!({"iss": iss, "sub": "someone-else", "iat": now(), "exp": now() + 300}))
        .unwrap();
    let other_issuer = issuer
        .sign(&json!({"iss": "other@example.com", "sub": iss, "iat": now(), "exp": now() + 300}))
        .unwrap();
    // Envoy allows 60 s of clock skew: expired five minutes ago.
    let expired = issuer
        .sign(&json!({"iss": iss, "sub": iss, "iat": now() - 600, "exp": now() - 300}))
        .unwrap();
    // The signature of another payload: well-formed, wrong.
    let (head_payload, _) = good.rsplit_once('.').unwrap();
    let (_, other_sig) = other_subject.rsplit_once('.').unwrap();
    let bad_signature = format!("{head_payload}.{other_sig}");
    let forged = Issuer::generate()
        .unwrap()
        .sign(&json!({"iss": iss, "sub": iss, "iat": now(), "exp": now() + 300}))
        .unwrap();

    assert_eq!(call(a_jwt, "GET", "/", &[]).await, denied, "no token");
    assert_eq!(
        call(a_jwt, "GET", "/", &[("authorization", &bearer(&good))]).await,
        ok,
        "the lab's token"
    );
    assert_eq!(
        call(
            a_jwt,
            "GET",
            "/",
            &[("authorization", &bearer(&other_subject))]
        )
        .await,
        denied,
        "a valid token for another request principal"
    );
    for (why, token, body) in [
        (
            "another issuer",
            &other_issuer,
            "Jwt issuer is not configured",
        ),
        ("expired", &expired, "Jwt is expired"),
        ("bad signature", &bad_signature, "Jwt verification fails"),
        (
            "another key",
            &forged,
            "Jwks doesn't have key to match kid or alg from Jwt",
        ),
        (
            "not a JWT",
            &"abc.def".to_owned(),
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        ),
    ] {
        assert_eq!(
            call(a_jwt, "GET", "/", &[("authorization", &bearer(token))]).await,
            (401, body.to_owned()),
            "{why}"
        );
    }
    drop(envoy);
}
