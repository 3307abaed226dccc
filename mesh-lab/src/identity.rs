//! Workload identities: the lab's certificate authority and the SPIFFE certificates it issues.
//!
//! On a cluster istiod runs the CA (its self-signed root, `istio-ca-secret`) and each pod's istio-agent
//! asks it for a certificate over SDS. The lab creates one CA when it starts, in its own directory
//! (`<lab dir>/ca/root-cert.pem`, `ca-key.pem`; never part of the repository), and writes every proxy's
//! certificate next to that proxy's files (`<proxy dir>/certs/`), where its Envoy reads them.
//!
//! What is issued follows istio's CA (security/pkg/pki/util/generate_cert.go, `genCertTemplateFromCSR`
//! and `GenCertKeyFromOptions`; san.go `BuildSubjectAltNameExtension`):
//!
//! - the root: self-signed, organisation = the trust domain `cluster.local`, CA (basic constraints), key
//!   usage certificate signing only, valid ten years (`DefaultSelfSignedCACertTTL`);
//! - a workload: empty subject, the SPIFFE identity `spiffe://cluster.local/ns/<namespace>/sa/<service
//!   account>` as the only (URI) subject alternative name, marked critical because the subject is empty;
//!   not a CA; key usage digital signature + key encipherment; extended key usage server and client
//!   authentication; valid from two minutes ago (`ClockSkewGracePeriod`) for 24 hours
//!   (`DefaultWorkloadCertTTL`), never beyond the root.
//!
//! Keys are ECDSA P-256 (istio-agent's `ECC_SIGNATURE_ALGORITHM=ECDSA`; its default is RSA 2048, which the
//! `rcgen` crate cannot generate). The lab renews every proxy's certificate at half its lifetime
//! ([`crate::Lab::renew_certificates`], under new file names: [`CertFiles::generation`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

/// The trust domain (mesh config `trustDomain`'s default).
pub const TRUST_DOMAIN: &str = "cluster.local";
/// The service account of a pod template that names none (Kubernetes' default).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ingress gateway's namespace and service account: those of Istio's default ingress gateway
/// (manifests/charts/gateways/istio-ingress, the `default` profile): `istio-ingressgateway-service-account`
/// in `istio-system`.
pub const GATEWAY_NAMESPACE: &str = "istio-system";
pub const GATEWAY_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";

/// How long a workload certificate is valid (istio's `DefaultWorkloadCertTTL`).
pub const WORKLOAD_TTL: Duration = Duration::from_secs(24 * 3600);
/// How far back a certificate's validity starts (istio's `ClockSkewGracePeriod`).
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);
const ROOT_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);

/// `spiffe://cluster.local/ns/<namespace>/sa/<service account>` (pkg/spiffe `Identity.String`).
pub fn spiffe_id(namespace: &str, service_account: &str) -> String {
    format!("spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}")
}

/// The ingress gateway's identity.
pub fn gateway_identity() -> String {
    spiffe_id(GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT)
}

/// Where one proxy's certificate files are (the names istio-agent uses for file-mounted certificates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    /// The workload certificate (PEM).
    pub chain: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key: PathBuf,
    /// The lab CA's root certificate, to validate peers with.
    pub root: PathBuf,
}

impl CertFiles {
    /// The files of the proxy whose directory is `proxy_dir` (the first certificates, generation 0).
    pub fn in_dir(proxy_dir: &Path) -> Self {
        Self::generation(proxy_dir, 0)
    }

    /// The files of rotation `generation` (`certs/`, then `certs-1/`, `certs-2/`, …): Envoy reads file
    /// data sources when a cluster or listener is (re)created, so a rotated certificate gets new paths,
    /// and the configuration that names them is a new one.
    pub fn generation(proxy_dir: &Path, generation: u64) -> Self {
        let d = match generation {
            0 => proxy_dir.join("certs"),
            g => proxy_dir.join(format!("certs-{g}")),
        };
        Self {
            chain: d.join("cert-chain.pem"),
            key: d.join("key.pem"),
            root: d.join("root-cert.pem"),
        }
    }
}

/// The lab's certificate authority.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    root_pem: String,
    /// `<lab dir>/ca/root-cert.pem`.
    pub root_file: PathBuf,
    /// How long a workload certificate is valid ([`WORKLOAD_TTL`] unless told otherwise).
    pub lifetime: Duration,
}

fn random_serial() -> SerialNumber {
    use std::hash::{BuildHasher, Hasher};
    // Two independently keyed hashes: 128 random bits, positive (first bit clear), like Go's serials.
    let mut bytes = Vec::with_capacity(16);
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        bytes.extend_from_slice(&h.finish().to_be_bytes());
    }
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

impl Ca {
    /// A new self-signed root, its certificate and key written to `<lab_dir>/ca/`.
    pub fn create(lab_dir: &Path) -> anyhow::Result<Self> {
        let now = time_now();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, TRUST_DOMAIN);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.not_before = now;
        params.not_after = now + ROOT_TTL;
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().context("generating the lab CA's key")?;
        let cert = params
            .self_signed(&key)
            .context("signing the lab CA's root")?;
        let dir = lab_dir.join("ca");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let root_file = dir.join("root-cert.pem");
        std::fs::write(&root_file, cert.pem())
            .with_context(|| format!("writing {}", root_file.display()))?;
        write_private(&dir.join("ca-key.pem"), &key.serialize_pem())?;
        Ok(Self {
            root_pem: cert.pem(),
            issuer: Issuer::new(params, key),
            root_file,
            lifetime: WORKLOAD_TTL,
        })
    }

    /// The same CA issuing workload certificates valid for `lifetime`.
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The root certificate (PEM).
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A certificate for `identity` (a SPIFFE URI), written with its key and the root to `files`.
    pub fn issue(&self, identity: &str, files: &CertFiles) -> anyhow::Result<()> {
        let leaf = self.leaf(identity)?;
        let dir = files
            .chain
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", files.chain.display()))?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(&files.chain, &leaf.pem)
            .with_context(|| format!("writing {}", files.chain.display()))?;
        write_private(&files.key, &leaf.key_pem)?;
        std::fs::write(&files.root, &self.root_pem)
            .with_context(|| format!("writing {}", files.root.display()))?;
        Ok(())
    }

    /// A workload certificate and its key for `identity`.
    pub fn leaf(&self, identity: &str) -> anyhow::Result<Leaf> {
        let now = time_now();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(
            identity
                .try_into()
                .with_context(|| format!("{identity:?} is not a URI"))?,
        )];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + self.lifetime;
        params.serial_number = Some(random_serial());
        let key = KeyPair::generate().context("generating a workload key")?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("issuing the certificate of {identity}"))?;
        Ok(Leaf {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// An issued workload certificate.
pub struct Leaf {
    pub der: Vec<u8>,
    pub pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_workload_certificate_carries_its_spiffe_id_and_istios_key_usages() {
        let dir =
            std::env::temp_dir().join(format!("mesh-lab-identity-test-{}", std::process::id()));
        let started = std::time::Instant::now();
        let ca = Ca::create(&dir).unwrap();
        let id = spiffe_id("tutorial", "preference");
        assert_eq!(id, "spiffe://cluster.local/ns/tutorial/sa/preference");
        let leaf = ca.leaf(&id).unwrap();
        let files = CertFiles::in_dir(&dir.join("pod"));
        ca.issue(&id, &files).unwrap();
        let took = started.elapsed();
        // DER: the SAN extension (2.5.29.17) is critical and holds the URI ([6] implicit IA5String).
        let mut san = vec![0x06, 0x03, 0x55, 0x1d, 0x11, 0x01, 0x01, 0xff];
        let uri_len = u8::try_from(id.len()).unwrap();
        san.extend([0x04, uri_len + 4, 0x30, uri_len + 2, 0x86, uri_len]);
        san.extend(id.as_bytes());
        assert!(contains(&leaf.der, &san), "critical URI SAN {id}");
        // Key usage (2.5.29.15, critical): digitalSignature + keyEncipherment.
        assert!(contains(
            &leaf.der,
            &[
                0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x05, 0xa0
            ]
        ));
        // Extended key usage (2.5.29.37): serverAuth, clientAuth.
        assert!(contains(
            &leaf.der,
            &[
                0x06, 0x03, 0x55, 0x1d, 0x25, 0x04, 0x16, 0x30, 0x14, 0x06, 0x08, 0x2b, 0x06, 0x01,
                0x05, 0x05, 0x07, 0x03, 0x01, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03,
                0x02
            ]
        ));
        // Basic constraints (2.5.29.19): not a CA.
        assert!(contains(
            &leaf.der,
            &[
                0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00
            ]
        ));
        let root = std::fs::read_to_string(&files.root).unwrap();
        assert_eq!(root, ca.root_pem());
        assert!(
            std::fs::read_to_string(&files.chain)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(
            std::fs::read_to_string(&files.key)
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----")
        );
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("CA and two workload certificates in {took:?}");
        assert!(took < Duration::from_secs(2), "certificates took {took:?}");
    }
}
