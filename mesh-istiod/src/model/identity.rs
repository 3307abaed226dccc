//! Workload identities as names: the trust domain, SPIFFE IDs, the service accounts the lab's pods and
//! its gateway run as, the SDS secret names, and where a proxy's certificate files are. The certificate
//! authority that issues them is the runtime's (mesh-lab's `dataplane::ca`).
//!
//! Envoy gets a proxy's certificates as istio-agent hands them over, as SDS secrets (`default`, `ROOTCA`),
//! here from files ([`CertFiles`]) the lab's xDS server hands over by SDS on the proxy's ADS stream.

use std::path::{Path, PathBuf};

/// The trust domain (mesh config `trustDomain`'s default).
pub const TRUST_DOMAIN: &str = "cluster.local";
/// The service account of a pod template that names none (Kubernetes' default).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ingress gateway's namespace and service account: those of Istio's default ingress gateway
/// (manifests/charts/gateways/istio-ingress, the `default` profile): `istio-ingressgateway-service-account`
/// in `istio-system`.
pub const GATEWAY_NAMESPACE: &str = "istio-system";
pub const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// The scheme every SPIFFE ID starts with (pkg/spiffe `URIPrefix`).
pub const SPIFFE_URI_PREFIX: &str = "spiffe://";

/// `spiffe://cluster.local/ns/<namespace>/sa/<service account>` (pkg/spiffe `Identity.String`).
pub fn spiffe_id(namespace: &str, service_account: &str) -> String {
    format!("{SPIFFE_URI_PREFIX}{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}")
}

/// The ingress gateway's identity.
pub fn gateway_identity() -> String {
    spiffe_id(GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT)
}

/// The SDS resource name of a proxy's own certificate and key (istio-agent's `default`:
/// pilot/pkg/security/model/authentication.go `SDSDefaultResourceName`).
pub const SDS_DEFAULT: &str = "default";
/// The SDS resource name of the root certificate peers are validated with (`SDSRootResourceName`).
pub const SDS_ROOT: &str = "ROOTCA";

/// Where one proxy's certificates are: the PEM files istio-agent writes for file-mounted certificates
/// (`<proxy dir>/certs/`), and the two SDS secrets its Envoy gets (`<proxy dir>/sds/default.json`,
/// `ROOTCA.json`), each an xDS response holding one `Secret` with the PEM inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    /// The workload certificate (PEM).
    pub chain: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// The lab CA's root certificate, to validate peers with.
    pub root: PathBuf,
    /// The directory of the SDS secret files, which the lab's xDS server reads.
    pub sds: PathBuf,
}

impl CertFiles {
    /// The files of the proxy whose directory is `proxy_dir`.
    pub fn in_dir(proxy_dir: &Path) -> Self {
        let d = proxy_dir.join("certs");
        Self {
            chain: d.join("cert-chain.pem"),
            key: d.join("key.pem"),
            root: d.join("root-cert.pem"),
            sds: proxy_dir.join("sds"),
        }
    }

    /// The file holding SDS secret `name` ([`SDS_DEFAULT`] or [`SDS_ROOT`]).
    pub fn secret_file(&self, name: &str) -> PathBuf {
        self.sds.join(format!("{name}.json"))
    }
}
