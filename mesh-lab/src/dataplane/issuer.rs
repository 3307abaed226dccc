//! The lab's token issuer: an RS256 key (RSA 2048, the algorithm of Istio's demo key set and of the
//! tutorial's tokens) kept in the lab's directory, its public key set (what every RequestAuthentication
//! `jwksUri` resolves to in the lab unless `mesh-lab jwks set` gave that URI one, checked by
//! [`check_key_set`]; with the key's `kid` and `alg`), and tokens minted on demand for `mesh-lab token`. Envoy's jwt_authn picks the keys whose `kid` and `alg` match the token's and fails
//! with `Jwt verification fails` only when one matched and no signature verified; a token whose
//! algorithm or key id the set has not gets `Jwks doesn't have key to match kid or alg from Jwt` instead.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};

/// `token` with one character in the middle of its signature changed: a bad signature (Envoy's 401
/// `Jwt verification fails`), not a malformed token; the last character is avoided, its low bits may be
/// padding. A text without a signature segment gets an `x` appended.
pub fn with_bad_signature(token: &str) -> String {
    let Some(dot) = token.rfind('.') else {
        return format!("{token}x");
    };
    let at = dot + 1 + (token.len() - dot - 1) / 2;
    let Some(c) = token.get(at..at + 1) else {
        return format!("{token}x");
    };
    let mut out = token.to_owned();
    out.replace_range(at..at + 1, if c == "A" { "B" } else { "A" });
    out
}

/// The key file in the lab's directory (PKCS#8 DER, owner-only) and the public key set beside it.
pub const KEY_FILE: &str = "jwt-signing-key.p8";
pub const JWKS_FILE: &str = "jwks.json";

/// RSA modulus size: 2048 bits, as Istio's demo key.
const RSA_BITS: usize = 2048;

/// The lab's token issuer: an RSA key (RS256, which Envoy's jwt_authn verifies).
pub struct Issuer {
    pkcs8: Vec<u8>,
    /// The private key as jsonwebtoken's ring backend takes it (PKCS#1 DER).
    pkcs1: Vec<u8>,
    /// The public key's modulus and exponent, base64url (the JWK's `n`, `e`).
    n: String,
    e: String,
    kid: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// A new random key.
    pub fn generate() -> Result<Self, String> {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
            .map_err(|e| format!("generating the token signing key: {e}"))?;
        let doc = key
            .to_pkcs8_der()
            .map_err(|e| format!("encoding the token signing key: {e}"))?;
        Self::from_pkcs8(doc.as_bytes())
    }

    /// The key from its PKCS#8 DER form.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let key = rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| format!("not an RSA PKCS#8 key: {e}"))?;
        let pkcs1 = key
            .to_pkcs1_der()
            .map_err(|e| format!("encoding the token signing key: {e}"))?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ));
        Ok(Self {
            pkcs8: der.to_vec(),
            pkcs1: pkcs1.as_bytes().to_vec(),
            n,
            e,
            kid,
        })
    }

    /// Loads the key from `dir` (written by [`Issuer::save`]).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join(KEY_FILE);
        let der = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::from_pkcs8(&der).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Writes the key (owner-only) and the public key set to `dir`; returns the key file's path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join(KEY_FILE);
        crate::dataplane::files::write_atomically(&path, &self.pkcs8, true)
            .map_err(|e| format!("{e:#}"))?;
        let jwks = dir.join(JWKS_FILE);
        std::fs::write(&jwks, self.jwks())
            .map_err(|e| format!("writing {}: {e}", jwks.display()))?;
        Ok(path)
    }

    /// The key in `dir`, created (and saved) if there is none.
    pub fn load_or_create(dir: &Path) -> Result<Self, String> {
        if dir.join(KEY_FILE).exists() {
            return Self::load(dir);
        }
        let issuer = Self::generate()?;
        issuer.save(dir)?;
        Ok(issuer)
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key set, as a jwksUri would serve it.
    pub fn jwks(&self) -> String {
        json!({"keys": [{
            "kty": "RSA", "n": self.n, "e": self.e,
            "kid": self.kid, "alg": "RS256", "use": "sig"
        }]})
        .to_string()
    }

    /// A token `iss`/`sub` with the `extra` claims, issued now and expiring `expires_in` from now
    /// (negative: already expired; Envoy allows 60 s of clock skew, so an expired test token needs more
    /// than that).
    pub fn mint(
        &self,
        issuer: &str,
        subject: &str,
        expires_in: chrono::Duration,
        extra: Map<String, Value>,
    ) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp();
        let mut claims = extra;
        claims.insert("iss".into(), json!(issuer));
        claims.insert("sub".into(), json!(subject));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + expires_in.num_seconds()));
        self.sign(&Value::Object(claims))
    }

    /// A token with these claims exactly (`aud`, `exp` in the past, …).
    pub fn sign(&self, claims: &Value) -> Result<String, String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_der(&self.pkcs1);
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| format!("signing a token: {e}"))
    }
}

/// The members each key type needs (RFC 7518 section 6, RFC 8037 for OKP): what Envoy's jwt_authn reads.
const KEY_MEMBERS: &[(&str, &[&str])] = &[
    ("RSA", &["n", "e"]),
    ("EC", &["crv", "x", "y"]),
    ("OKP", &["crv", "x"]),
    ("oct", &["k"]),
];

/// Checks `text` is a JSON Web Key Set (RFC 7517 section 5) of public keys Envoy can use: an object whose
/// `keys` is a non-empty list of keys, each with a known `kty` and that type's members, none holding a
/// private part (`d`). Returns each key's `kid` (`-` for a key without one).
pub fn check_key_set(text: &str) -> Result<Vec<String>, String> {
    let set: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let keys = match set.get("keys") {
        Some(Value::Array(keys)) if !keys.is_empty() => keys,
        Some(Value::Array(_)) => return Err("its \"keys\" list is empty".into()),
        _ => return Err("no \"keys\" list (a JWKS is {\"keys\": [...]})".into()),
    };
    let mut kids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
        let Some((_, members)) = KEY_MEMBERS.iter().find(|(t, _)| *t == kty) else {
            return Err(format!(
                "keys[{i}]: kty {kty:?} is not one of RSA, EC, OKP, oct"
            ));
        };
        if let Some(m) = members
            .iter()
            .find(|m| !key.get(**m).is_some_and(Value::is_string))
        {
            return Err(format!(
                "keys[{i}]: a {kty} key needs the string member {m:?}"
            ));
        }
        if kty != "oct" && key.get("d").is_some() {
            return Err(format!(
                "keys[{i}]: holds a private key (\"d\"); a jwksUri serves public keys only"
            ));
        }
        kids.push(
            key.get("kid")
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned(),
        );
    }
    Ok(kids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_set_is_checked_as_envoy_reads_it() {
        let issuer = Issuer::generate().unwrap();
        assert_eq!(
            check_key_set(&issuer.jwks()),
            Ok(vec![issuer.kid().to_owned()])
        );
        let ec = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#;
        assert_eq!(check_key_set(ec), Ok(vec!["-".to_owned()]));
        for (text, err) in [
            ("<html>", "not JSON: expected value at line 1 column 1"),
            ("{}", "no \"keys\" list (a JWKS is {\"keys\": [...]})"),
            (r#"{"keys":[]}"#, "its \"keys\" list is empty"),
            (
                r#"{"keys":[{"kty":"XX"}]}"#,
                "keys[0]: kty \"XX\" is not one of RSA, EC, OKP, oct",
            ),
            (
                r#"{"keys":[{"kty":"RSA","n":"a"}]}"#,
                "keys[0]: a RSA key needs the string member \"e\"",
            ),
            (
                r#"{"keys":[{"kty":"RSA","n":"a","e":"b","d":"c"}]}"#,
                "keys[0]: holds a private key (\"d\"); a jwksUri serves public keys only",
            ),
        ] {
            assert_eq!(check_key_set(text), Err(err.to_owned()), "{text}");
        }
    }

    #[test]
    fn tokens_verify_against_the_published_key_set_and_the_key_survives_a_reload() {
        let dir = std::env::temp_dir().join(format!("mesh-lab-jwt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let issuer = Issuer::load_or_create(&dir).unwrap();
        let again = Issuer::load_or_create(&dir).unwrap();
        assert_eq!(issuer.kid(), again.kid());
        assert_eq!(
            issuer.jwks(),
            std::fs::read_to_string(dir.join(JWKS_FILE)).unwrap()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = again
            .mint(
                "issuer-a",
                "alice",
                chrono::Duration::minutes(5),
                Map::new(),
            )
            .unwrap();
        let jwks: Value = serde_json::from_str(&issuer.jwks()).unwrap();
        let k = &jwks["keys"][0];
        assert_eq!(
            (&k["kty"], &k["alg"], &k["e"]),
            (&json!("RSA"), &json!("RS256"), &json!("AQAB"))
        );
        let key = jsonwebtoken::DecodingKey::from_rsa_components(
            k["n"].as_str().unwrap(),
            k["e"].as_str().unwrap(),
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(issuer.kid()));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_issuer(&["issuer-a"]);
        let data = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        let other = Issuer::generate().unwrap();
        assert_ne!(other.kid(), issuer.kid());
        let forged = other
            .mint(
                "issuer-a",
                "alice",
                chrono::Duration::minutes(5),
                Map::new(),
            )
            .unwrap();
        assert!(jsonwebtoken::decode::<Value>(&forged, &key, &v).is_err());
        let spoiled = with_bad_signature(&token);
        assert_eq!(spoiled.len(), token.len());
        assert_ne!(spoiled, token);
        let err = jsonwebtoken::decode::<Value>(&spoiled, &key, &v).unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::InvalidSignature
        );
        let expired = issuer
            .mint(
                "issuer-a",
                "alice",
                chrono::Duration::minutes(-5),
                Map::new(),
            )
            .unwrap();
        let err = jsonwebtoken::decode::<Value>(&expired, &key, &v).unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::ExpiredSignature
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
