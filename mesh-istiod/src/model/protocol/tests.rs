//! A Service port's protocol as istiod reads it, and the refusal of what the lab cannot serve.

use super::*;

#[test]
fn the_protocol_comes_from_app_protocol_else_the_name_prefix() {
    let of = |name: Option<&str>, app: Option<&str>| Protocol::of_port(8080, name, false, app);
    assert_eq!(of(Some("http"), None), Protocol::Http);
    assert_eq!(of(Some("http-web"), None), Protocol::Http);
    assert_eq!(of(Some("HTTP"), None), Protocol::Http);
    assert_eq!(of(Some("tcp-8080"), None), Protocol::Tcp);
    assert_eq!(of(Some("grpc-web-x"), None), Protocol::GrpcWeb);
    assert_eq!(of(Some("grpc"), None), Protocol::Grpc);
    assert_eq!(of(Some("web"), None), Protocol::Unsupported);
    assert_eq!(of(None, None), Protocol::Unsupported);
    // appProtocol wins over the name, with Kubernetes' own names.
    assert_eq!(of(Some("http"), Some("tcp")), Protocol::Tcp);
    assert_eq!(of(Some("tcp"), Some("http")), Protocol::Http);
    assert_eq!(of(None, Some("kubernetes.io/h2c")), Protocol::Http2);
    assert_eq!(of(None, Some("kubernetes.io/ws")), Protocol::Http);
    assert_eq!(of(None, Some("kubernetes.io/wss")), Protocol::Https);
    assert_eq!(
        Protocol::of_port(8080, Some("http"), true, None),
        Protocol::Udp
    );
    assert_eq!(Protocol::of_port(3306, None, false, None), Protocol::Tcp);
    assert_eq!(
        Protocol::of_port(3306, Some("http"), false, None),
        Protocol::Http
    );
    assert_eq!(Protocol::GrpcWeb.to_string(), "GRPC-Web");
    assert_eq!(Protocol::Unsupported.to_string(), "UnsupportedProtocol");
}

#[test]
fn a_port_istio_would_not_serve_as_http_is_refused_naming_the_field_and_the_fix() {
    let check = |name, udp, app| {
        check_served_as_http("recommendation", "spec.ports.0", 8080, name, udp, app)
    };
    assert_eq!(check(Some("http"), false, None), Ok(()));
    assert_eq!(check(None, false, None), Ok(()));
    assert_eq!(check(Some("web"), false, None), Ok(()));
    assert_eq!(
        check(Some("tcp"), false, None).unwrap_err(),
        "Service recommendation: spec.ports.0.name \"tcp\" makes Istio serve the port as TCP (opaque bytes, \
         so a VirtualService's http routes (subsets, retries, timeouts, faults) do not apply to it). The \
         lab's services and proxies speak HTTP/1.1 only: name the port http (or http-<suffix>)"
    );
    let err = check(Some("http"), false, Some("kubernetes.io/h2c")).unwrap_err();
    assert!(
        err.starts_with("Service recommendation: spec.ports.0.appProtocol \"kubernetes.io/h2c\" makes Istio serve the port as HTTP2 (its proxies would speak HTTP/2"),
        "{err}"
    );
    assert!(
        err.ends_with("and set appProtocol: http or remove it"),
        "{err}"
    );
    let err = check(Some("http"), true, None).unwrap_err();
    assert!(
        err.contains("spec.ports.0.protocol UDP makes Istio serve the port as UDP"),
        "{err}"
    );
    assert!(err.ends_with("and remove protocol: UDP"), "{err}");
}
