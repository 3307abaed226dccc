//! Security (pilot/pkg/security): peer and end-user authentication ([`authn`]), authorization
//! ([`authz`]).

pub mod authn;
pub mod authz;
