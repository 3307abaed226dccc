//! `proxy-config secret`: the SDS secrets Envoy holds (the workload certificate `default`, the root
//! `ROOTCA`), each certificate's type, validity and serial as istioctl reads them
//! (istioctl/pkg/writer/compare/sds/util.go `GetEnvoySecrets`, writer.go `printSecretItemsTabular`).

use anyhow::anyhow;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{dump_of, tabwrite};

/// What istioctl's `secretMetaFromCert` reads of a certificate.
#[derive(Debug, Default, PartialEq)]
pub struct CertMeta {
    pub kind: &'static str,
    pub valid: bool,
    pub serial: String,
    pub not_after: String,
    pub not_before: String,
    pub trust_domain: String,
}

/// One secret as istioctl lists it.
struct Item {
    name: String,
    state: &'static str,
    meta: CertMeta,
}

/// Go's RFC 3339 form of a certificate time (UTC: `Z`).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The first PEM certificate of `pem`: type, validity at `now`, serial (`%032x`), dates, SPIFFE trust
/// domain; `None` when it does not parse (istioctl then lists it not valid, its fields empty).
pub fn cert_meta(pem: &[u8], now: DateTime<Utc>) -> Option<CertMeta> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let cert = pem.parse_x509().ok()?;
    let time = |t: x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
    let not_before = time(cert.validity().not_before)?;
    let not_after = time(cert.validity().not_after)?;
    let trust_domain = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().rev().find_map(|n| match n {
                x509_parser::extensions::GeneralName::URI(u) => u
                    .strip_prefix("spiffe://")
                    .map(|rest| rest.split('/').next().unwrap_or_default().to_owned()),
                _ => None,
            })
        })
        .unwrap_or_default();
    Some(CertMeta {
        kind: if cert.is_ca() { "CA" } else { "Cert Chain" },
        valid: now > not_before && now < not_after,
        serial: format!("{:032x}", cert.serial),
        not_after: rfc3339(not_after),
        not_before: rfc3339(not_before),
        trust_domain,
    })
}

/// A data source's bytes: `inline_bytes` (base64 in the dump, as istio-agent sends them) or
/// `inline_string` (the lab's SDS files carry the PEM as a string).
fn inline(source: &Value) -> Vec<u8> {
    if let Some(b) = source["inline_bytes"].as_str() {
        return base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_default();
    }
    source["inline_string"]
        .as_str()
        .unwrap_or_default()
        .as_bytes()
        .to_vec()
}

/// `parseDynamicSecret`: the certificate chain, else the trusted CA.
fn item(s: &Value, state: &'static str, now: DateTime<Utc>) -> Item {
    let secret = &s["secret"];
    let chain = inline(&secret["tls_certificate"]["certificate_chain"]);
    let data = if chain.is_empty() {
        inline(&secret["validation_context"]["trusted_ca"])
    } else {
        chain
    };
    let meta = if data.is_empty() {
        None
    } else {
        cert_meta(&data, now)
    };
    Item {
        name: s["name"].as_str().unwrap_or_default().to_owned(),
        state,
        meta: meta.unwrap_or_default(),
    }
}

/// The secrets section of the config dump.
fn secrets_section(dump: &Value) -> anyhow::Result<&Value> {
    dump_of(dump, "SecretsConfigDump")
        .ok_or_else(|| anyhow!("sidecar doesn't support secrets: no secrets in its config dump"))
}

/// `PrintSecretDump`: the whole section (`-o json|yaml`).
pub fn secrets_dump(dump: &Value) -> anyhow::Result<Value> {
    let mut section = secrets_section(dump)?.clone();
    if let Some(o) = section.as_object_mut() {
        o.remove("@type");
    }
    Ok(section)
}

/// `PrintSecretSummary`: the warming secrets then the active ones; TRUST DOMAIN only when every one has.
pub fn secrets_table(dump: &Value, now: DateTime<Utc>) -> anyhow::Result<String> {
    let section = secrets_section(dump)?;
    let of = |key: &str, state| {
        section[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(move |s| item(s, state, now))
    };
    let items: Vec<Item> = of("dynamic_warming_secrets", "WARMING")
        .chain(of("dynamic_active_secrets", "ACTIVE"))
        .collect();
    if items.is_empty() {
        return Ok("No active or warming secrets found.\n".into());
    }
    let domains = items.iter().all(|i| !i.meta.trust_domain.is_empty());
    let mut header: Vec<String> = [
        "RESOURCE NAME",
        "TYPE",
        "STATUS",
        "VALID CERT",
        "SERIAL NUMBER",
        "NOT AFTER",
        "NOT BEFORE",
    ]
    .map(String::from)
    .to_vec();
    if domains {
        header.push("TRUST DOMAIN".into());
    }
    let mut rows = vec![header];
    for i in items {
        let m = i.meta;
        let mut row = vec![
            i.name,
            m.kind.to_owned(),
            i.state.to_owned(),
            m.valid.to_string(),
            m.serial,
            m.not_after,
            m.not_before,
        ];
        if domains {
            row.push(m.trust_domain);
        }
        rows.push(row);
    }
    Ok(tabwrite(&rows, 5))
}
