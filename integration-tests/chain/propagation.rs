use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};
use integration_tests::{serve_on_loopback, spawn_customer, spawn_preference};
use tutorial_common::headers::PROPAGATED_HEADERS;

type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A server standing in for recommendation that records the headers of every request it gets.
async fn spawn_recorder() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let data = web::Data::new(seen.clone());
    let url = serve_on_loopback(move |cfg| {
        cfg.app_data(data.clone()).default_service(web::to(
            |req: HttpRequest, seen: web::Data<Seen>| async move {
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                seen.lock().unwrap().push(headers);
                HttpResponse::Ok().body("recorder\n")
            },
        ));
    });
    (url, seen)
}

#[tokio::test]
async fn every_listed_header_reaches_recommendation_with_the_values_sent_to_customer() {
    // Arrange
    let (recorder, seen) = spawn_recorder().await;
    let preference = spawn_preference(&recorder, &[]).await;
    let customer = spawn_customer(&preference.url, &[]).await;
    let sent: Vec<(&str, &str)> = vec![
        ("user-agent", "Mozilla/5.0 (iPhone) Mobile Safari/604.1"),
        ("baggage-user-agent", "must be replaced by customer"),
        ("user-preference", "v2"),
        ("authorization", "Bearer secret-token"),
        ("x-request-id", "d5a1c5e0-1111-2222-3333-444455556666"),
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
        ("x-b3-spanid", "b7ad6b7169203331"),
        ("x-b3-parentspanid", "a2fb4a1d1a96d312"),
        ("x-b3-sampled", "1"),
        ("x-b3-flags", "1"),
        ("b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"),
        (
            "x-ot-span-context",
            "0af7651916cd43dd;b7ad6b7169203331;a2fb4a1d1a96d312",
        ),
    ];
    let mut request = integration_tests::reqwest_client().get(&customer.url);
    for (k, v) in &sent {
        request = request.header(*k, *v);
    }
    // Act
    let body = request.send().await.unwrap().text().await.unwrap();
    // Assert
    assert_eq!(body, "customer => preference => recorder\n");
    let seen = seen.lock().unwrap();
    let got = &seen[0];
    let value = |name: &str| got.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    for &name in PROPAGATED_HEADERS {
        let want = if name == "baggage-user-agent" {
            Some(sent[0].1)
        } else {
            sent.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        };
        assert_eq!(value(name), want, "header {name}");
    }
}

#[tokio::test]
async fn absent_headers_are_not_invented() {
    let (recorder, seen) = spawn_recorder().await;
    let preference = spawn_preference(&recorder, &[]).await;
    let customer = spawn_customer(&preference.url, &[]).await;
    integration_tests::reqwest_client()
        .get(&customer.url)
        .send()
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    for &name in PROPAGATED_HEADERS {
        assert!(
            !seen[0].iter().any(|(k, _)| k == name),
            "{name} was not sent, so must not arrive"
        );
    }
}
