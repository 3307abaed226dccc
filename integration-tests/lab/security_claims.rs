//! AuthorizationPolicy `when: request.auth.claims[…]` on the real Envoy, through the gateway: the
//! tutorial's role policy with tokens minted by `mesh-lab token --claim` (over the control endpoint), and
//! istiod's list and nested claim forms.

use std::path::Path;

use mesh_lab::Lab;
use mesh_lab::lab::tokens::TokenRequest;

use crate::security::{RBAC, apply, assert_answer, assert_chain, get, pods};
use crate::served::Served;

/// An ALLOW AuthorizationPolicy for customer with these `rules`, under the name of the JWT file's policy
/// so that it replaces it.
fn customer_policy(rules: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: customer}}\n\
         spec:\n  selector: {{matchLabels: {{app: customer}}}}\n  action: ALLOW\n  rules:\n{rules}"
    )
}

/// The tutorial's role policy (its authorization-policy-jwt.yaml): the token's principal and a `role`
/// claim `customer`.
const ROLE_RULES: &str = "  - from:
    - source:
        requestPrincipals: [testing@secure.istio.io/testing@secure.istio.io]
    when:
    - key: request.auth.claims[role]
      values: [customer]
";

/// A list claim matched by any element, a nested claim, and a notValues.
const GROUPS_RULES: &str = "  - when:
    - key: request.auth.claims[groups]
      values: [group2]
      notValues: [banned]
    - key: request.auth.claims[realm_access][roles]
      values: ['admin*']
";

async fn with_claims(lab: &Lab, claims: &[&str]) -> String {
    lab.token(&TokenRequest {
        claims: claims.iter().map(|c| c.to_string()).collect(),
        ..TokenRequest::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{claims:?}: {e:#}"))
}

#[tokio::test]
async fn the_role_policy_and_list_and_nested_claims() {
    let served = Served::start().await;
    let (lab, c) = (served.lab.clone(), served.client());
    let lab = &lab;
    apply(lab, "request-authentication-customer-jwt.yml").await;
    lab.apply_text(
        Path::new("istio/authorization-policy-jwt.yml"),
        &customer_policy(ROLE_RULES),
    )
    .await
    .unwrap();
    let role = c
        .token(None, None, None, &["role=customer".to_owned()])
        .await
        .unwrap();
    let other_role = c
        .token(None, None, None, &["role=xxx".to_owned()])
        .await
        .unwrap();
    let plain = c.token(None, None, None, &[]).await.unwrap();
    let role_answers = [
        get(lab, Some(role.trim_end())).await,
        get(lab, Some(other_role.trim_end())).await,
        get(lab, Some(plain.trim_end())).await,
    ];
    let role_pods = pods(lab).await;

    lab.apply_text(
        Path::new("istio/groups.yml"),
        &customer_policy(GROUPS_RULES),
    )
    .await
    .unwrap();
    let admin = r#"realm_access={"roles":["user","admin-eu"]}"#;
    let cases = [
        (vec!["groups=group1", "groups=group2", admin], true),
        (vec!["groups=group2", admin], true),
        (vec!["groups=group1", admin], false),
        (vec!["groups=group2", "groups=banned", admin], false),
        (
            vec!["groups=group2", r#"realm_access={"roles":["user"]}"#],
            false,
        ),
        (vec!["groups=group2", "realm_access=admin"], false),
    ];
    let mut answers = Vec::new();
    for (claims, _) in &cases {
        answers.push(get(lab, Some(&with_claims(lab, claims).await)).await);
    }
    let pods = pods(lab).await;
    served.stop().await;

    assert_chain(&role_pods, &role_answers[0], "role=customer");
    assert_answer(&role_answers[1], 403, RBAC, "role=xxx");
    assert_answer(&role_answers[2], 403, RBAC, "no role claim");
    for ((claims, allowed), answer) in cases.iter().zip(&answers) {
        let step = format!("{claims:?}");
        if *allowed {
            assert_chain(&pods, answer, &step);
        } else {
            assert_answer(answer, 403, RBAC, &step);
        }
    }
}
