//! Which protocol Istio serves a Service port as: pkg/config/protocol/instance.go (`Instance`, `Parse`) and
//! pkg/config/kube/conversion.go (`ConvertProtocol`): UDP by the port's `protocol`, else `appProtocol` (with
//! Kubernetes' `kubernetes.io/h2c`, `ws`, `wss`), else the port name's prefix before the first `-`
//! (`grpc-web` whole); a name no protocol starts is `UnsupportedProtocol`, which istiod serves by
//! sniffing, unless the port is one of the well-known TCP ports.
//!
//! The lab's proxies serve HTTP/1.1 only, as Istio serves `HTTP` and sniffed ports. A Service port Istio
//! would serve otherwise (TCP, TLS, HTTP/2, gRPC…) is refused by name ([`check_served_as_http`]) rather than
//! run as HTTP: on a cluster such a port loses the VirtualService's HTTP routes, which the lab cannot show.

use std::fmt;

/// pkg/config/protocol `Instance`: the names istiod gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Grpc,
    GrpcWeb,
    Http,
    HttpProxy,
    Http2,
    Https,
    Tls,
    Mongo,
    Redis,
    MySql,
    /// No known prefix: istiod detects the protocol from the first bytes (sniffing).
    Unsupported,
}

impl Protocol {
    /// `protocol.Parse`: case-insensitive.
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Self::Tcp,
            "udp" => Self::Udp,
            "grpc" => Self::Grpc,
            "grpc-web" => Self::GrpcWeb,
            "http" => Self::Http,
            "http_proxy" => Self::HttpProxy,
            "http2" => Self::Http2,
            "https" => Self::Https,
            "tls" => Self::Tls,
            "mongo" => Self::Mongo,
            "redis" => Self::Redis,
            "mysql" => Self::MySql,
            _ => Self::Unsupported,
        }
    }

    /// `kube.ConvertProtocol` of a Service port.
    pub fn of_port(port: u16, name: Option<&str>, udp: bool, app_protocol: Option<&str>) -> Self {
        if udp {
            return Self::Udp;
        }
        let name = match app_protocol {
            Some("kubernetes.io/h2c") => return Self::Http2,
            Some("kubernetes.io/ws") => return Self::Http,
            Some("kubernetes.io/wss") => return Self::Https,
            Some(p) => p,
            None => name.unwrap_or_default(),
        };
        const GRPC_WEB: &str = "grpc-web";
        if name
            .get(..GRPC_WEB.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(GRPC_WEB))
        {
            return Self::GrpcWeb;
        }
        let prefix = name.split('-').next().unwrap_or_default();
        match Self::parse(prefix) {
            // Well-known ports are TCP when nothing names their protocol (SMTP, DNS, MySQL, MongoDB).
            Self::Unsupported if [25, 53, 3306, 27017].contains(&port) => Self::Tcp,
            p => p,
        }
    }

    /// Does Istio serve it as the lab does, HTTP/1.1 (`HTTP`, or sniffed)?
    pub fn served_as_http(self) -> bool {
        matches!(self, Self::Http | Self::Unsupported)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
            Self::Grpc => "GRPC",
            Self::GrpcWeb => "GRPC-Web",
            Self::Http => "HTTP",
            Self::HttpProxy => "HTTP_PROXY",
            Self::Http2 => "HTTP2",
            Self::Https => "HTTPS",
            Self::Tls => "TLS",
            Self::Mongo => "Mongo",
            Self::Redis => "Redis",
            Self::MySql => "MySQL",
            Self::Unsupported => "UnsupportedProtocol",
        })
    }
}

/// What Istio does with a port of `p` that the lab would not show: the reason for the refusal.
fn consequence(p: Protocol) -> &'static str {
    match p {
        Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb => {
            "its proxies would speak HTTP/2 to the app, which speaks HTTP/1.1"
        }
        Protocol::HttpProxy => "an HTTP proxy port, not a service",
        _ => {
            "opaque bytes, so a VirtualService's http routes (subsets, retries, timeouts, faults) do \
             not apply to it"
        }
    }
}

/// Refuses a Service port Istio would not serve as HTTP, naming the field that decides it and the fix.
/// `at` is the port's path (`spec.ports.0`).
pub fn check_served_as_http(
    service: &str,
    at: &str,
    port: u16,
    name: Option<&str>,
    udp: bool,
    app_protocol: Option<&str>,
) -> Result<(), String> {
    let p = Protocol::of_port(port, name, udp, app_protocol);
    if p.served_as_http() {
        return Ok(());
    }
    let why = match (udp, app_protocol, name) {
        (true, _, _) => format!("{at}.protocol UDP"),
        (false, Some(a), _) => format!("{at}.appProtocol {a:?}"),
        (false, None, Some(n)) => format!("{at}.name {n:?}"),
        (false, None, None) => format!("{at}.port {port} (a well-known TCP port)"),
    };
    Err(format!(
        "Service {service}: {why} makes Istio serve the port as {p} ({}). The lab's services and proxies speak \
         HTTP/1.1 only: name the port http (or http-<suffix>){}",
        consequence(p),
        if app_protocol.is_some() {
            " and set appProtocol: http or remove it"
        } else if udp {
            " and remove protocol: UDP"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests;
