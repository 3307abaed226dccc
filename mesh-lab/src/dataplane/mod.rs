//! The data plane: the real Envoy processes ([`envoy`]), the pods (each app in-process with its sidecar:
//! [`pods`]), kube-proxy for pods without one ([`kube_proxy`]), the certificate authority ([`ca`]), the
//! token issuer ([`issuer`]) and the apps' log lines ([`logs`]).

pub mod ca;
pub mod envoy;
pub mod files;
pub mod issuer;
pub mod kube_proxy;
pub mod logs;
pub mod pods;
pub mod ports;
