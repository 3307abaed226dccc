//! The chain's reason in `guided`: under a failing answer, one line per failing hop (the proxy, Envoy's flag
//! in words, the route and cluster, the fix: [`crate::observe::explain`]), and the same words on the step's ✘.
//! The lines of a lab's last send wait here, by the lab's gateway URL, until the next verdict takes them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::lab::Lab;
use crate::observe::explain::Explanation;

static LAST: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// One line per explanation: `preference-v1's sidecar: 503 NC (…); route …; cluster …; fix: …` (with the
/// count when more than one request failed so).
pub fn lines(explained: &[Explanation]) -> Vec<String> {
    explained
        .iter()
        .map(|x| match x.requests {
            1 => x.line(),
            n => format!("{} (x{n})", x.line()),
        })
        .collect()
}

/// Keeps the lines of `lab`'s last send for its verdict (none: that send did not fail).
pub(crate) fn remember(lab: &Lab, lines: Vec<String>) {
    if let Ok(mut last) = LAST.lock() {
        last.insert(lab.gateway_url.clone(), lines);
    }
}

/// The lines of `lab`'s last send, once.
pub(crate) fn take(lab: &Lab) -> Vec<String> {
    LAST.lock()
        .ok()
        .and_then(|mut last| last.remove(&lab.gateway_url))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::flags::Why;

    fn explanation(requests: usize) -> Explanation {
        Explanation {
            proxy: "preference-v1".into(),
            why: Why {
                status: 503,
                flag: "UO".into(),
                words: "upstream overflow".into(),
            },
            host: "recommendation:8080".into(),
            path: "/".into(),
            route: "[r] -> c".into(),
            cluster: "c".into(),
            fix: "fix: fewer".into(),
            requests,
        }
    }

    #[test]
    fn one_line_per_hop_with_the_count_past_one() {
        let one = "preference-v1's sidecar: 503 UO (upstream overflow); route [r] -> c; cluster c; fix: fewer";
        assert_eq!(
            lines(&[explanation(1), explanation(3)]),
            [one.to_owned(), format!("{one} (x3)")]
        );
    }
}
