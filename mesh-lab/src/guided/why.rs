//! The chain's reason in `guided`: under a failing answer, one line per failing hop (the proxy, Envoy's flag
//! in words, the route and cluster, the fix: [`crate::observe::explain`]), and the same words on the step's ✘
//! (the lines of the last send wait in the guide, `Guide::why`, until the next verdict takes them).

use crate::observe::explain::Explanation;

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
