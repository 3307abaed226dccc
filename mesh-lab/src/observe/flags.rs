//! Why a request failed, in words, read from one proxy's access-log entry: Envoy's response flag (`%RESPONSE_FLAGS%`,
//! the short names of Envoy's `StreamInfo::ResponseFlag`, `source/common/stream_info/utility.cc`) and, for the
//! filters that answer without a flag (RBAC, JWT), its response code details. The one home of these words:
//! `show`, the graph and `guided` all say them from here, so a class reads the same sentence everywhere.

use mesh_istiod::networking::core::cluster_builder::parse_subset_key;
use serde::Serialize;

use crate::dataplane::envoy::AccessLogEntry;
use mesh_istiod::networking::core::httproute::BLOCK_ALL;

/// Envoy's short flag names the lab's chapters produce or a learner's mistake can, with their meaning.
const FLAGS: &[(&str, &str)] = &[
    (
        "NR",
        "no route: no route of the proxy matches the request's Host and path",
    ),
    (
        "NC",
        "no cluster: the route names a cluster the proxy does not have (a subset no DestinationRule defines, or a host no ServiceEntry declares)",
    ),
    (
        "UH",
        "no healthy upstream: the cluster has no endpoint to send to (no pod runs, or every pod is ejected)",
    ),
    (
        "UF",
        "upstream connection failure: the proxy could not connect to the endpoint (nothing listens, or the TLS handshake failed)",
    ),
    (
        "URX",
        "retries exhausted: every attempt the retry policy allows failed",
    ),
    (
        "UT",
        "upstream request timeout: the route's timeout passed before the answer came",
    ),
    (
        "UO",
        "upstream overflow: the DestinationRule's connection pool is full, so the circuit breaker answers 503 at once",
    ),
    (
        "DC",
        "downstream connection termination: the caller hung up before the answer",
    ),
    (
        "UC",
        "upstream connection termination: the endpoint closed the connection",
    ),
    ("UR", "upstream remote reset: the endpoint reset the stream"),
    ("LR", "local reset: the proxy reset the stream itself"),
    (
        "FI",
        "fault injected: the VirtualService's fault.abort answered instead of the service",
    ),
    (
        "DI",
        "delay injected: the VirtualService's fault.delay held the request first",
    ),
    ("RL", "rate limited"),
    (
        "DPE",
        "downstream protocol error: the request was not valid HTTP",
    ),
    (
        "UPE",
        "upstream protocol error: the answer was not valid HTTP",
    ),
];

/// The meaning of one of Envoy's short response flags (`NC`, `UH`, …).
pub fn flag_words(flag: &str) -> Option<&'static str> {
    FLAGS.iter().find(|(f, _)| *f == flag).map(|(_, w)| *w)
}

/// Why one request failed, as one proxy saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Why {
    /// The status the proxy answered (0 when none).
    pub status: u16,
    /// Envoy's flags as logged (`NC`, `URX,UF`), or the filter that denied it (`RBAC`, `JWT`).
    pub flag: String,
    /// The flags (or the denial) in words.
    pub words: String,
}

impl Why {
    /// `503 NC (no cluster: …)`.
    pub fn line(&self) -> String {
        format!("{} {} ({})", self.status, self.flag, self.words)
    }
}

/// Why `e` failed, when it did: by its response flags, else by istiod's catch-all `block_all` (REGISTRY_ONLY,
/// a direct 502 without a flag), else by the filter that denied it; `None` for an answer no flag or denial
/// explains (2xx, or an app's own error passed through).
pub fn why(e: &AccessLogEntry) -> Option<Why> {
    let status = e.response_code.unwrap_or(0);
    let (flag, words) = flagged(e)
        .or_else(|| blocked(e))
        .or_else(|| denied(e.response_code_details.as_deref().unwrap_or("")))?;
    Some(Why {
        status,
        flag,
        words,
    })
}

/// Envoy's response flags of `e` (`URX,UF`) and their words, when it logged any.
fn flagged(e: &AccessLogEntry) -> Option<(String, String)> {
    let flags: Vec<&str> = e
        .response_flags
        .as_deref()
        .unwrap_or("-")
        .split(',')
        .filter(|f| !f.is_empty() && *f != "-")
        .collect();
    if flags.is_empty() {
        return None;
    }
    let words: Vec<String> = flags
        .iter()
        .map(|f| match flag_words(f) {
            Some(w) => w.to_owned(),
            None => format!("Envoy's response flag {f}"),
        })
        .collect();
    Some((flags.join(","), words.join("; ")))
}

/// istiod's catch-all `block_all` answered `e` (REGISTRY_ONLY: a direct 502 Envoy logs no flag for).
fn blocked(e: &AccessLogEntry) -> Option<(String, String)> {
    (e.route_name.as_deref() == Some(BLOCK_ALL)).then(|| {
        (
            BLOCK_ALL.into(),
            "blocked: the outbound policy is REGISTRY_ONLY and no ServiceEntry declares this host, so \
             istiod's catch-all route block_all answered"
                .into(),
        )
    })
}

/// The filter that denied a request without a flag, by its response code details: RBAC or JWT.
fn denied(details: &str) -> Option<(String, String)> {
    if let Some(rest) = details.strip_prefix("rbac_access_denied") {
        let policy = rest
            .strip_prefix("_matched_policy[")
            .and_then(|p| p.strip_suffix(']'))
            .filter(|p| *p != "none");
        let words = match policy {
            Some(p) => format!("denied by AuthorizationPolicy rule {p} (RBAC: access denied)"),
            None => "denied: no AuthorizationPolicy rule allows it (RBAC: access denied)".into(),
        };
        return Some(("RBAC".into(), words));
    }
    let rest = details.strip_prefix("jwt_authn_access_denied")?;
    let reason = rest
        .trim_start_matches('{')
        .trim_end_matches('}')
        .replace('_', " ");
    let words = if reason.is_empty() {
        "the RequestAuthentication rejected the request's JWT".into()
    } else {
        format!("the RequestAuthentication rejected the request's JWT: {reason}")
    };
    Some(("JWT".into(), words))
}

/// The Service and subset of an outbound cluster name (`outbound|8080|version-v3|recommendation.tutorial.svc.cluster.local`
/// is `("recommendation", Some("version-v3"))`), for saying which subset is missing.
pub fn cluster_subset(cluster: &str) -> Option<(&str, Option<&str>)> {
    let key = parse_subset_key(cluster).filter(|k| k.direction == "outbound")?;
    let service = key.host.split('.').next()?;
    Some((service, Some(key.subset).filter(|s| !s.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: u16, flags: &str, details: &str) -> AccessLogEntry {
        AccessLogEntry {
            response_code: Some(code),
            response_flags: Some(flags.into()),
            response_code_details: Some(details.into()),
            ..AccessLogEntry::default()
        }
    }

    #[test]
    fn a_flag_is_said_in_words() {
        let w = why(&entry(503, "NC", "cluster_not_found")).unwrap();
        assert_eq!(w.flag, "NC");
        assert!(w.line().starts_with("503 NC (no cluster: "), "{}", w.line());
        let w = why(&entry(503, "URX,UF", "x")).unwrap();
        assert_eq!(w.flag, "URX,UF");
        assert!(
            w.words.starts_with("retries exhausted")
                && w.words.contains("; upstream connection failure"),
            "{}",
            w.words
        );
        assert!(
            why(&entry(503, "ZZ", ""))
                .unwrap()
                .words
                .contains("flag ZZ")
        );
    }

    #[test]
    fn denials_without_a_flag_are_named_by_their_filter() {
        let w = why(&entry(403, "-", "rbac_access_denied_matched_policy[none]")).unwrap();
        assert_eq!((w.flag.as_str(), w.status), ("RBAC", 403));
        assert!(
            w.words.contains("no AuthorizationPolicy rule allows it"),
            "{}",
            w.words
        );
        let w = why(&entry(
            403,
            "-",
            "rbac_access_denied_matched_policy[ns[tutorial]-policy[deny]-rule[0]]",
        ))
        .unwrap();
        assert!(
            w.words.contains("rule ns[tutorial]-policy[deny]-rule[0]"),
            "{}",
            w.words
        );
        let w = why(&entry(401, "-", "jwt_authn_access_denied{Jwt_is_missing}")).unwrap();
        assert_eq!(w.flag, "JWT");
        assert!(w.words.ends_with("Jwt is missing"), "{}", w.words);
    }

    #[test]
    fn registry_onlys_catch_all_is_named_by_its_route() {
        let e = AccessLogEntry {
            route_name: Some("block_all".into()),
            ..entry(502, "-", "direct_response")
        };
        let w = why(&e).unwrap();
        assert_eq!((w.status, w.flag.as_str()), (502, "block_all"));
        assert!(
            w.words
                .starts_with("blocked: the outbound policy is REGISTRY_ONLY"),
            "{}",
            w.words
        );
    }

    #[test]
    fn answers_without_a_flag_or_denial_need_no_words() {
        assert_eq!(why(&entry(200, "-", "via_upstream")), None);
        assert_eq!(why(&entry(503, "-", "via_upstream")), None);
    }

    #[test]
    fn an_outbound_cluster_names_its_service_and_subset() {
        assert_eq!(
            cluster_subset("outbound|8080|version-v3|recommendation.tutorial.svc.cluster.local"),
            Some(("recommendation", Some("version-v3")))
        );
        assert_eq!(
            cluster_subset("outbound|8080||recommendation.tutorial.svc.cluster.local"),
            Some(("recommendation", None))
        );
        assert_eq!(cluster_subset("inbound|8080||"), None);
        assert_eq!(cluster_subset("PassthroughCluster"), None);
    }
}
