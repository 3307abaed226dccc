//! `mesh-lab guided security`: the tutorial's security chapter on the local mesh — mutual TLS between the
//! sidecars (PERMISSIVE by default, then STRICT), the AuthorizationPolicies that deny everything and then let
//! each hop in by its caller's identity, and the end user's JWT — each step with the `oc` command it stands
//! for and a ✔/✘ verdict against what istio/README.md says users see.

use std::io::Write;
use std::time::Duration;

use crate::guided::Step;
use crate::guided::guide::{Guide, LabFiles};
use crate::guided::send::{Answer, send};
use crate::lab::tokens::TokenRequest;

/// What the chain answers with the whole chain allowed (v1 or v2, any counter).
fn is_chain(a: &Answer) -> bool {
    a.status == 200
        && a.body
            .starts_with("customer => preference => recommendation v")
}

/// A plain-text request straight to a sidecar's inbound address, as a pod without a sidecar would send it
/// (`oc exec` into it, `curl preference:8080`): `Ok((status, body))`, or how the connection failed.
pub async fn plain_text(inbound: &str) -> Result<(u16, String), String> {
    let timeout = Duration::from_secs(5);
    let url = url::Url::parse(&format!("http://{inbound}/")).map_err(|e| e.to_string())?;
    // A client of its own: no connection kept from an earlier probe.
    let client = tutorial_common::client::client(timeout, None).map_err(|e| e.to_string())?;
    match client.get(url.clone()).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            Ok((status, r.text().await.unwrap_or_default()))
        }
        Err(e) => Err(tutorial_common::client::describe_failure(&e, &url, timeout)),
    }
}

/// The chapter's steps.
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "mutual TLS is already on (auto mTLS, PERMISSIVE): every sidecar has an identity",
            &["istioctl proxy-config secret deploy/preference-v1 -n tutorial"],
            &[],
            mtls_is_on
        ),
        step!(
            2,
            "PeerAuthentication STRICT: only mutual TLS",
            apply "peer-authentication-tutorial-strict.yml",
            strict_mtls
        ),
        step!(
            3,
            "AuthorizationPolicy deny-all (ALLOW with no rules)",
            apply "authorization-policy-deny-all.yml",
            deny_all
        ),
        step!(
            4,
            "anyone may call customer",
            apply "authorization-policy-customer.yml",
            allow_customer
        ),
        step!(
            5,
            "preference only from cluster.local/ns/tutorial/sa/customer",
            apply "authorization-policy-preference.yml",
            allow_preference
        ),
        step!(
            6,
            "recommendation only from cluster.local/ns/tutorial/sa/preference",
            apply "authorization-policy-recommendation.yml",
            allow_recommendation
        ),
        step!(
            7,
            "end-user JWT: RequestAuthentication + AuthorizationPolicy customer with requestPrincipals",
            apply "request-authentication-customer-jwt.yml",
            end_user_jwt
        ),
        step!(
            8,
            "clean up",
            &[
                "oc delete authorizationpolicy,requestauthentication,peerauthentication --all -n tutorial"
            ],
            &[
                "mesh-lab delete authorizationpolicy customer",
                "mesh-lab delete authorizationpolicy preference",
                "mesh-lab delete authorizationpolicy recommendation",
                "mesh-lab delete authorizationpolicy deny-all",
                "mesh-lab delete requestauthentication customer-jwt",
                "mesh-lab delete peerauthentication default"
            ],
            clean_up
        ),
    ]
}

impl<W: Write> Guide<'_, W> {
    async fn one(&mut self, token: Option<&str>) -> Answer {
        let shown = match token {
            Some(t) if t.len() > 24 => format!("-H \"Authorization: Bearer {}…\" ", &t[..16]),
            Some(t) => format!("-H \"Authorization: Bearer {t}\" "),
            None => String::new(),
        };
        self.say(&format!("  $ curl -s {shown}$GATEWAY_URL"));
        let mut req = self.http.get(&self.lab.gateway_url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let since = chrono::Utc::now();
        let a = send(req).await;
        self.say(&format!("  {} {}", a.status, a.body.trim_end()));
        self.explain_failures(since, std::slice::from_ref(&a)).await;
        a
    }

    /// `n` answers, each exactly `status` with `body`.
    async fn expect(&mut self, token: Option<&str>, status: u16, body: &str) {
        let a = self.one(token).await;
        self.verdict(
            a.status == status && a.body.trim_end() == body,
            &format!("{status} `{body}`"),
            format!(
                "expected {status} `{body}`, got {} `{}`",
                a.status,
                a.body.trim_end()
            ),
        );
    }

    async fn expect_chain(&mut self, token: Option<&str>, what: &str) {
        let a = self.one(token).await;
        self.verdict(
            is_chain(&a),
            what,
            format!(
                "expected the whole chain, got {} `{}`",
                a.status,
                a.body.trim_end()
            ),
        );
    }

    /// preference's inbound address, where a plain-text caller would land.
    async fn preference_inbound(&mut self) -> anyhow::Result<String> {
        let show = self.lab.show().await?;
        show.workloads
            .iter()
            .find(|w| w.name == "preference-v1")
            .and_then(|w| w.inbound.clone())
            .ok_or_else(|| anyhow::anyhow!("preference-v1 runs without a sidecar"))
    }

    async fn plain_text_step(&mut self, answered: bool) -> anyhow::Result<()> {
        let inbound = self.preference_inbound().await?;
        self.oc("oc exec deploy/<a pod without sidecar> -- curl -s http://preference:8080/");
        self.say(&format!(
            "  $ curl -s http://{inbound}/     # preference's sidecar, in plain text"
        ));
        let r = plain_text(&inbound).await;
        match &r {
            Ok((s, b)) => self.say(&format!("  {s} {}", b.trim_end())),
            Err(e) => self.say(&format!("  curl: (56) {e}")),
        }
        match (answered, r) {
            (true, Ok((200, b))) if b.starts_with("preference => recommendation") => self.verdict(
                true,
                "PERMISSIVE: the sidecar accepts plain text too",
                String::new(),
            ),
            (true, other) => self.verdict(
                false,
                "",
                format!("expected preference to answer in plain text, got {other:?}"),
            ),
            (false, Err(_)) => self.verdict(
                true,
                "STRICT: the sidecar refuses plain text at the connection, no HTTP answer",
                String::new(),
            ),
            (false, Ok((s, b))) => self.verdict(
                false,
                "",
                format!(
                    "expected the plain-text connection refused, got {s} `{}`",
                    b.trim_end()
                ),
            ),
        }
        Ok(())
    }
}

/// Step 1: auto mTLS, PERMISSIVE: every sidecar has an identity, and plain text still gets in.
async fn mtls_is_on<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) -> anyhow::Result<()> {
    g.oc("istioctl proxy-config secret deploy/preference-v1 -n tutorial");
    let show = g.lab.show().await?;
    for w in &show.workloads {
        g.say(&format!(
            "  {:<20} {:<52} {}",
            w.name,
            w.identity.as_deref().unwrap_or("(no sidecar: no identity)"),
            w.mtls
        ));
    }
    g.expect_chain(None, "the chain answers over mTLS").await;
    g.plain_text_step(true).await
}

/// Step 2: PeerAuthentication STRICT: the chain still answers, plain text no longer gets in.
async fn strict_mtls<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    if g.apply_step(&files.istio_file("peer-authentication-tutorial-strict.yml"))
        .await
    {
        g.expect_chain(None, "the chain still answers (the sidecars talk mTLS)")
            .await;
        g.plain_text_step(false).await?;
    }
    Ok(())
}

/// Step 3: an ALLOW policy with no rules denies everything.
async fn deny_all<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("authorization-policy-deny-all.yml"))
        .await
    {
        g.expect(None, 403, "RBAC: access denied").await;
    }
}

/// Step 4: customer lets anyone in; preference still denies it.
async fn allow_customer<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("authorization-policy-customer.yml"))
        .await
    {
        g.expect(None, 503, "customer => Error: 403 - RBAC: access denied")
            .await;
    }
}

/// Step 5: preference lets customer's identity in; recommendation still denies it.
async fn allow_preference<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("authorization-policy-preference.yml"))
        .await
    {
        g.expect(
            None,
            503,
            "customer => Error: 503 - preference => Error: 403 - RBAC: access denied",
        )
        .await;
    }
}

/// Step 6: recommendation lets preference's identity in: the whole chain answers.
async fn allow_recommendation<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("authorization-policy-recommendation.yml"))
        .await
    {
        g.expect_chain(None, "the whole chain answers again").await;
    }
}

/// Step 7: the end user's JWT: none is refused, a forged one fails verification, the lab's token gets in.
async fn end_user_jwt<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) -> anyhow::Result<()> {
    if g.apply_step(&files.istio_file("request-authentication-customer-jwt.yml"))
        .await
    {
        g.say("  without a token:");
        g.expect(None, 403, "RBAC: access denied").await;
        let token = g.lab.token(&TokenRequest::default()).await?;
        g.say("  $ TOKEN=$(mesh-lab token)");
        let forged = crate::dataplane::issuer::with_bad_signature(&token);
        g.say("  with the token's signature changed:");
        g.expect(Some(&forged), 401, "Jwt verification fails").await;
        g.say("  with the lab's token:");
        g.expect_chain(Some(&token), "the chain answers for the token's subject")
            .await;
    }
    Ok(())
}

/// Step 8: every policy deleted: the chain answers without a token, plain text gets in again.
async fn clean_up<W: Write>(g: &mut Guide<'_, W>, _: &LabFiles) -> anyhow::Result<()> {
    g.oc(
        "oc delete authorizationpolicy,requestauthentication,peerauthentication --all -n tutorial",
    );
    for (kind, name) in [
        ("authorizationpolicy", "customer"),
        ("authorizationpolicy", "preference"),
        ("authorizationpolicy", "recommendation"),
        ("authorizationpolicy", "deny-all"),
        ("requestauthentication", "customer-jwt"),
        ("peerauthentication", "default"),
    ] {
        g.delete(kind, name).await;
    }
    g.expect_chain(None, "the chain answers, no token needed")
        .await;
    g.plain_text_step(true).await
}
