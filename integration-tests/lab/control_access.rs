//! Only the lab's own command line drives it (mesh-lab/src/lab/access.rs): a web page the learner opens
//! cannot reset the lab or mint a token, a DNS-rebinding page cannot read it, and the secret's file is
//! readable by its user only.

use std::os::unix::fs::PermissionsExt;

use crate::http;
use crate::served::Served;

/// What `mesh-lab show --json` says of the applied objects: to see the lab unchanged.
async fn applied(served: &Served) -> String {
    let show = served.client().show(true).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&show).unwrap();
    v["objects"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_page_cannot_drive_the_lab_and_its_own_command_line_can() {
    let served = Served::start().await;
    let c = served.client();
    c.apply(&crate::istio("destination-rule-recommendation-v1-v2.yml"))
        .await
        .unwrap();
    let before = applied(&served).await;
    let url = |path: &str| format!("http://{}{path}", served.addr);
    // What any page can send without a preflight: a "simple" cross-origin POST.
    let page = http()
        .post(url("/reset"))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(
        page.text().await.unwrap().starts_with(
            "this lab's control endpoint takes commands from its own command line only"
        )
    );
    let token = http().post(url("/token")).send().await.unwrap();
    assert_eq!(token.status(), 401);
    assert_eq!(applied(&served).await, before, "the lab is unchanged");
    // The secret, but from a page (Origin) or by another name (DNS rebinding): still refused.
    let secret = std::fs::read_to_string(served.secret_file.path()).unwrap();
    let bearer = format!("Bearer {}", secret.trim());
    let from_page = http()
        .post(url("/reset"))
        .header("Authorization", &bearer)
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    assert_eq!(
        from_page.text().await.unwrap(),
        "a request from a web page (Origin \"http://evil.example\") may not drive the lab\n"
    );
    let rebound = http()
        .get(url("/show"))
        .header("Authorization", &bearer)
        .header("Host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert_eq!(applied(&served).await, before, "the lab is unchanged");
    // The command line, which reads the secret file: it works.
    let (code, out, err) = served.run(&["reset"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_ne!(applied(&served).await, before, "reset went through");
    // The secret's file: its user's only.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(served.secret_file.path()), 0o600);
    assert_eq!(mode(served.secret_file.path().parent().unwrap()), 0o700);
    served.stop().await;
}
