//! The lab's key set and tokens on the real Envoy, through the gateway: RS256 as Istio's demo key set
//! and the tutorial's tokens, so a token of the key set's `kid` and `alg` whose signature is wrong is
//! Envoy's 401 `Jwt verification fails` (the tutorial's tampered token), not a key-lookup failure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mesh_lab::dataplane::issuer::{Issuer, JWKS_FILE};
use mesh_lab::lab::tokens::TokenRequest;
use serde_json::{Value, json};

use crate::lab;
use crate::security::{apply, assert_answer, assert_chain, get, pods};

fn segment(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn header_of(token: &str) -> Value {
    let head = token.split('.').next().unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap()
}

#[tokio::test]
async fn an_rs256_token_of_the_key_sets_kid_with_a_wrong_signature_fails_verification() {
    let lab = lab().await;
    apply(&lab, "request-authentication-customer-jwt.yml").await;
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join(JWKS_FILE)).unwrap()).unwrap();
    let key = jwks["keys"][0].clone();
    let token = lab.token(&TokenRequest::default()).await.unwrap();
    // The tutorial's tampered token's form: RS256, the key set's key id, the claims the policy wants,
    // and the signature another key made.
    let iss = "testing@secure.istio.io";
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": iss, "sub": iss, "iat": now, "exp": now + 300});
    let other = Issuer::generate().unwrap().sign(&claims).unwrap();
    let (_, signature) = other.rsplit_once('.').unwrap();
    let header = json!({"alg": "RS256", "kid": key["kid"], "typ": "JWT"});
    let tampered = format!("{}.{}.{signature}", segment(&header), segment(&claims));
    let answers = [
        get(&lab, Some(&tampered)).await,
        get(&lab, Some(&token)).await,
    ];
    let pods = pods(&lab).await;
    lab.stop().await;

    assert_answer(
        &answers[0],
        401,
        "Jwt verification fails",
        "RS256, the key set's kid, another key's signature",
    );
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig")),
        "{jwks}"
    );
    let header = header_of(&token);
    assert_eq!(
        (&header["alg"], &header["kid"]),
        (&json!("RS256"), &key["kid"]),
        "the lab's token: {header}"
    );
    assert_chain(&pods, &answers[1], "the lab's token");
}
