//! The lab's certificate authority and the SPIFFE certificates it issues (the names are [`mesh_istiod::model::identity`]'s).
//!
//! On a cluster istiod runs the CA (its self-signed root, `istio-ca-secret`) and each pod's istio-agent
//! asks it for a certificate over SDS. The lab creates one CA when it starts, in its own directory
//! (`<lab dir>/ca/root-cert.pem`, `ca-key.pem`; never part of the repository), and writes every proxy's
//! certificate next to that proxy's files (`<proxy dir>/certs/`, and as SDS secrets in `<proxy dir>/sds/`,
//! where its Envoy reads them).
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
//! `rcgen` crate cannot generate). Envoy gets them as istio-agent hands them over, as SDS secrets (`default`,
//! `ROOTCA`), here from the files ([`CertFiles`]) the lab's xDS server reads and hands over by SDS; the lab
//! renews every proxy's certificate at half its lifetime by replacing those files and pushing them
//! ([`crate::Lab::renew_certificates`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use envoy_types::pb::envoy::config::core::v3::{DataSource, data_source};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, Secret, TlsCertificate, secret,
};
use envoy_types::util::pack_any;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};

use crate::dataplane::files::write_atomically;

use mesh_istiod::model::identity::{CertFiles, SDS_DEFAULT, SDS_ROOT, TRUST_DOMAIN};
use mesh_istiod::util::protomarshal::any_to_json;

/// How long a workload certificate is valid (istio's `DefaultWorkloadCertTTL`).
pub const WORKLOAD_TTL: Duration = Duration::from_secs(24 * 3600);
/// How far back a certificate's validity starts (istio's `ClockSkewGracePeriod`).
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);
const ROOT_TTL: Duration = Duration::from_secs(3650 * 24 * 3600);

/// An SDS file: an xDS response with one `envoy.extensions.transport_sockets.tls.v3.Secret` (`@type`
/// inside), as `read_secrets` of the lab's xDS server reads it.
fn secret_response(secret: Secret) -> anyhow::Result<Vec<u8>> {
    let secret = any_to_json(&pack_any(secret)).map_err(anyhow::Error::msg)?;
    Ok(serde_json::to_vec_pretty(
        &serde_json::json!({"resources": [secret]}),
    )?)
}

/// A `DataSource` of `text` inline.
fn inline(text: &str) -> Option<DataSource> {
    Some(DataSource {
        specifier: Some(data_source::Specifier::InlineString(text.to_owned())),
        ..DataSource::default()
    })
}

/// The SDS secret `ROOTCA`: the root, to validate peers with.
fn root_secret(root_pem: &str) -> Secret {
    Secret {
        name: SDS_ROOT.to_owned(),
        r#type: Some(secret::Type::ValidationContext(
            CertificateValidationContext {
                trusted_ca: inline(root_pem),
                ..CertificateValidationContext::default()
            },
        )),
    }
}

/// The SDS secret `default`: the workload's certificate and key.
fn default_secret(leaf: &Leaf) -> Secret {
    Secret {
        name: SDS_DEFAULT.to_owned(),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: inline(&leaf.pem),
            private_key: inline(&leaf.key_pem),
            ..TlsCertificate::default()
        })),
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
        write_atomically(
            &dir.join("ca-key.pem"),
            key.serialize_pem().as_bytes(),
            true,
        )?;
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

    /// A certificate for `identity` (a SPIFFE URI), written with its key and the root to `files`: the PEM
    /// files, then the SDS secrets `ROOTCA` and `default`. Every file is replaced atomically, so issuing
    /// again renews in place — Envoy swaps the secret without touching a listener or a cluster.
    pub fn issue(&self, identity: &str, files: &CertFiles) -> anyhow::Result<()> {
        let leaf = self.leaf(identity)?;
        let dir = files
            .chain
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no directory", files.chain.display()))?;
        for d in [dir, files.sds.as_path()] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        write_atomically(&files.chain, leaf.pem.as_bytes(), false)?;
        write_atomically(&files.key, leaf.key_pem.as_bytes(), true)?;
        write_atomically(&files.root, self.root_pem.as_bytes(), false)?;
        let root = secret_response(root_secret(&self.root_pem))?;
        write_atomically(&files.secret_file(SDS_ROOT), &root, false)?;
        let default = secret_response(default_secret(&leaf))?;
        write_atomically(&files.secret_file(SDS_DEFAULT), &default, true)
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
    use mesh_istiod::model::identity::spiffe_id;

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
        // The SDS secrets: `default` with the certificate and key inline, `ROOTCA` with the root.
        let secret = |name: &str| -> serde_json::Value {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(files.secret_file(name)).unwrap()).unwrap();
            v["resources"][0].clone()
        };
        let default = secret(SDS_DEFAULT);
        assert_eq!(default["name"], "default");
        assert_eq!(
            default["tls_certificate"]["certificate_chain"]["inline_string"],
            std::fs::read_to_string(&files.chain).unwrap()
        );
        assert_eq!(
            default["tls_certificate"]["private_key"]["inline_string"],
            std::fs::read_to_string(&files.key).unwrap()
        );
        let rootca = secret(SDS_ROOT);
        assert_eq!(rootca["name"], "ROOTCA");
        assert_eq!(
            rootca["validation_context"]["trusted_ca"]["inline_string"],
            ca.root_pem()
        );
        // Issuing again renews in place: a new certificate under the same names, no temporary file left.
        ca.issue(&id, &files).unwrap();
        assert_ne!(secret(SDS_DEFAULT), default);
        let mut names: Vec<String> = std::fs::read_dir(&files.sds)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ROOTCA.json", "default.json"]);
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("CA and two workload certificates in {took:?}");
        assert!(took < Duration::from_secs(2), "certificates took {took:?}");
    }
}
