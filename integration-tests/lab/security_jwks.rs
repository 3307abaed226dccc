//! `mesh-lab jwks set URI FILE` on the real Envoy, through the gateway: a token signed by a key the lab
//! does not hold (the upstream tutorial's demo token is one) gets Envoy's 401 `Jwks doesn't have key to
//! match kid or alg from Jwt` while the lab's own key set answers the jwksUri; once the trainer gives the key
//! set istiod would have fetched there, the chain answers; `unset` puts the lab's own back; a file that is
//! not a key set is refused with the reason. The test's key is its own RSA key with its own `kid`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::json;

use crate::security::{apply, assert_answer, assert_chain, get, pods};
use crate::served::Served;

/// The jwksUri of istio/request-authentication-customer-jwt.yml.
const URI: &str = "https://raw.githubusercontent.com/istio/istio/release-1.20/security/tools/jwt/samples/jwks.json";
const ISS: &str = "testing@secure.istio.io";
const KID: &str = "classroom-key-1";

/// A key set of a new RSA key with [`KID`], and a token of the file's issuer and subject signed by it.
fn key_set_and_token() -> (String, String) {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let jwks = json!({"keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": KID,
        "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
    }]});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(KID.into());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": ISS, "sub": ISS, "iat": now, "exp": now + 600});
    let der = key.to_pkcs1_der().unwrap();
    let signing = jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims, &signing).unwrap();
    (jwks.to_string(), token)
}

#[tokio::test]
async fn a_key_set_given_for_the_jwks_uri_verifies_tokens_the_lab_did_not_sign() {
    let served = Served::start().await;
    let lab = served.lab.clone();
    apply(&lab, "request-authentication-customer-jwt.yml").await;
    let (jwks, token) = key_set_and_token();
    let dir = lab.dir.join("trainer");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("jwks.json");
    std::fs::write(&file, &jwks).unwrap();
    let bad = dir.join("login-page.html");
    std::fs::write(&bad, "<html>sign in</html>").unwrap();
    let file_arg = file.to_str().unwrap();
    let bad_arg = bad.to_str().unwrap();

    let before = get(&lab, Some(&token)).await;
    let not_a_uri = served.run(&["jwks", "set", "jwks.json", file_arg]).await;
    let not_given = served.run(&["jwks", "unset", URI]).await;
    let refused_file = served.run(&["jwks", "set", URI, bad_arg]).await;
    let still = get(&lab, Some(&token)).await;
    let set = served.run(&["jwks", "set", URI, file_arg]).await;
    let after = get(&lab, Some(&token)).await;
    let own = get(&lab, Some(&lab.token(&Default::default()).await.unwrap())).await;
    let listed = served.run(&["jwks", "list"]).await;
    let show = served.run(&["show"]).await;
    let unset = served.run(&["jwks", "unset", URI]).await;
    let again = get(&lab, Some(&token)).await;
    let empty = served.run(&["jwks", "list"]).await;
    let pods = pods(&lab).await;
    served.stop().await;

    let unknown_key = "Jwks doesn't have key to match kid or alg from Jwt";
    assert_answer(
        &before,
        401,
        unknown_key,
        "the lab's own key set answers the jwksUri",
    );
    refused(
        &refused_file,
        &format!(
            "{bad_arg}: not a JSON Web Key Set: not JSON: expected value at line 1 column 1; \
             download what {URI} serves on a machine with internet (curl -o FILE {URI}) and give that file"
        ),
    );
    assert_answer(&still, 401, unknown_key, "a refused file changes nothing");
    refused(
        &not_a_uri,
        "jwks.json: a jwksUri is an http:// or https:// URL",
    );
    refused(
        &not_given,
        &format!("jwksUri {URI}: no key set was given for it (mesh-lab jwks list)"),
    );
    done(
        &set,
        &format!(
            "jwksUri {URI}: the key set of {file_arg} (kid {KID}), inlined on every sidecar as istiod would after fetching it"
        ),
    );
    assert_chain(&pods, &after, "a token of the given key set");
    let replaced = "the given key set replaces the lab's for that jwksUri";
    assert_answer(&own, 401, unknown_key, replaced);
    done(&listed, &format!("{URI}  kid {KID}"));
    let line = format!("jwksUri {URI}: the key set given by mesh-lab jwks set\n");
    assert!(show.1.contains(&line), "{show:?}");
    done(
        &unset,
        &format!("jwksUri {URI}: the lab's own key set answers it again"),
    );
    assert_answer(&again, 401, unknown_key, "after unset");
    done(
        &empty,
        "no key set given: the lab's own key set answers every jwksUri",
    );
}

/// `mesh-lab …` answered `line` and exited 0.
fn done(out: &(i32, String, String), line: &str) {
    assert_eq!(out, &(0, format!("{line}\n"), String::new()));
}

/// `mesh-lab …` refused with `message` on stderr and exited 1.
fn refused(out: &(i32, String, String), message: &str) {
    assert_eq!(out, &(1, String::new(), format!("mesh-lab: {message}\n")));
}
