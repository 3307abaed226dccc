//! The security kinds' admission: PeerAuthentication, AuthorizationPolicy and RequestAuthentication, after
//! pkg/config/validation/validation.go (`ValidatePeerAuthentication`, `ValidateAuthorizationPolicy`,
//! `ValidateRequestAuthentication`), narrowed to what the local mesh translates. The AuthorizationPolicy and
//! RequestAuthentication checks live beside their translations (security/authz, security/authn/jwt), which
//! know the fields they read.

use mesh_manifests::kcr_security_istio_io::v1::{
    authorizationpolicies::AuthorizationPolicy, peerauthentications::PeerAuthentication,
    requestauthentications::RequestAuthentication,
};

use super::{check_fields, to_value};

/// PeerAuthentication (policy_applier.go `ComposePeerAuthentication`; `portLevelMtls` is not translated).
pub(super) const PEER_AUTHENTICATION_FIELDS: &[&str] =
    &["spec.selector.matchLabels.**", "spec.mtls.mode"];

pub(super) fn check_peer_authentication(pa: &PeerAuthentication) -> Result<(), String> {
    check_fields(&to_value(pa), PEER_AUTHENTICATION_FIELDS)
}

pub(super) fn check_authorization_policy(ap: &AuthorizationPolicy) -> Result<(), String> {
    crate::security::authz::model::check_authorization_policy(ap)
}

pub(super) fn check_request_authentication(ra: &RequestAuthentication) -> Result<(), String> {
    crate::security::authn::jwt::check_request_authentication(ra)
}
