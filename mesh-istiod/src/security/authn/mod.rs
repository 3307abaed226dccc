//! Authentication (pilot/pkg/security/authn): PeerAuthentication → mutual TLS ([`mtls`]),
//! RequestAuthentication → Envoy's jwt_authn ([`jwt`]).

pub mod jwt;
pub mod mtls;
