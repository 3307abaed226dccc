//! The lab's token issuer: an ES256 (P-256) key kept in the lab's directory, its public key set (what every
//! RequestAuthentication `jwksUri` resolves to in the lab), and tokens minted on demand for `mesh-lab token`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
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

/// The lab's token issuer: an ECDSA P-256 key (ES256, which Envoy's jwt_authn verifies).
pub struct Issuer {
    pkcs8: Vec<u8>,
    key: EcdsaKeyPair,
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
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| format!("generating the token signing key: {e}"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    /// The key from its PKCS#8 DER form.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, String> {
        let rng = ring::rand::SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?;
        let mut issuer = Self {
            pkcs8: der.to_vec(),
            key,
            kid: String::new(),
        };
        issuer.kid = issuer.thumbprint();
        Ok(issuer)
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

    fn coordinates(&self) -> (String, String) {
        // ring gives the uncompressed point 0x04 ‖ X ‖ Y.
        let point = self.key.public_key().as_ref();
        (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        )
    }

    fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ))
    }

    /// The public key set, as a jwksUri would serve it.
    pub fn jwks(&self) -> String {
        let (x, y) = self.coordinates();
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": self.kid, "alg": "ES256", "use": "sig"
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
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8);
        jsonwebtoken::encode(&header, claims, &key).map_err(|e| format!("signing a token: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let key = jsonwebtoken::DecodingKey::from_ec_components(
            k["x"].as_str().unwrap(),
            k["y"].as_str().unwrap(),
        )
        .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(issuer.kid()));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
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
