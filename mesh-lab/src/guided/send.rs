//! The requests the chapters send through the gateway and what comes back: [`Answer`], timed; the chain's
//! bodies (`customer => preference => recommendation v1 from 'POD': N`); one request, `n` in a row or `n` at once.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::guided::guide::Guide;

/// A reply through the gateway, timed from the request to the end of its body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Answer {
    /// `v1`, `v2`, `v3` for a chain answer, else `None`.
    pub fn version(&self) -> Option<&str> {
        let rest = self
            .body
            .strip_prefix("customer => preference => recommendation ")?;
        rest.get(..2)
    }
}

/// The body of a chain answer from `pod` (version `v`), counter aside.
pub fn chain_prefix(v: &str, pod: &str) -> String {
    format!("customer => preference => recommendation {v} from '{pod}': ")
}

/// `n` requests through the gateway, one after the other, with a User-Agent.
pub async fn requests(
    http: &reqwest::Client,
    url: &str,
    n: usize,
    agent: Option<&str>,
) -> Vec<Answer> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(one(http, url, agent).await);
    }
    out
}

/// One GET of `url`, with `agent` as its User-Agent if given.
async fn one(http: &reqwest::Client, url: &str, agent: Option<&str>) -> Answer {
    let mut req = http.get(url);
    if let Some(a) = agent {
        req = req.header("user-agent", a);
    }
    send(req).await
}

/// Sends `req` and times it; a request that got no answer is status 0 with the reason as its body.
pub async fn send(req: reqwest::RequestBuilder) -> Answer {
    timed(req, "request failed").await
}

/// [`send`] as `sh run.sh` shows it: a request that got no answer has the body `curl failed: REASON`.
pub(crate) async fn curl(req: reqwest::RequestBuilder) -> Answer {
    timed(req, "curl failed").await
}

/// Sends `req` and times it to the end of the body; no answer is status 0 with the body `FAILED: REASON`.
async fn timed(req: reqwest::RequestBuilder, failed: &str) -> Answer {
    let start = Instant::now();
    let (status, body) = match req.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, format!("{failed}: {e}")),
    };
    Answer {
        status,
        body,
        elapsed: start.elapsed(),
    }
}

/// `n` requests at once (parallel load).
pub async fn parallel(http: &reqwest::Client, url: &str, n: usize) -> Vec<Answer> {
    futures_util::future::join_all((0..n).map(|_| one(http, url, None))).await
}

/// The pods of recommendation v1 and v2.
pub(crate) async fn pods<W: Write>(g: &Guide<'_, W>) -> anyhow::Result<(String, String)> {
    Ok((
        g.lab.pod_name("recommendation-v1").await?,
        g.lab.pod_name("recommendation-v2").await?,
    ))
}

impl<W: Write> Guide<'_, W> {
    /// `for i in $(seq n); do curl -s [-A agent] $GATEWAY_URL; done`, showing the first three answers.
    pub(crate) async fn send(&mut self, n: usize, agent: Option<&str>) -> Vec<Answer> {
        let a = match agent {
            Some(a) => format!("-A {a} "),
            None => String::new(),
        };
        self.say(&format!(
            "  $ for i in $(seq {n}); do curl -s {a}$GATEWAY_URL; done"
        ));
        let since = chrono::Utc::now();
        let answers = requests(&self.http, &self.lab.gateway_url, n, agent).await;
        for a in answers.iter().take(3) {
            self.say(&format!("  {}", a.body.trim_end()));
        }
        if n > 3 {
            self.say(&format!("  … ({} more)", n - 3));
        }
        self.explain_failures(since, &answers).await;
        answers
    }

    /// Under `answers` sent since `since`, when some failed: why, one `↳` line per failing hop, kept for the
    /// next verdict's ✘ ([`crate::guided::why`]).
    pub(crate) async fn explain_failures(
        &mut self,
        since: chrono::DateTime<chrono::Utc>,
        answers: &[Answer],
    ) {
        let mut reasons = Vec::new();
        if answers.iter().any(|a| a.status != 200) {
            let explained = self.lab.explain_since(since, answers.len()).await;
            reasons = crate::guided::why::lines(&explained);
            for r in &reasons {
                self.say(&format!("  ↳ {r}"));
            }
        }
        self.why = reasons;
    }

    /// The verdict that every answer came from `pod` of version `v` (`good` when so).
    pub(crate) fn all_from(&mut self, answers: &[Answer], v: &str, pod: &str, good: &str) {
        let prefix = chain_prefix(v, pod);
        let bad = answers
            .iter()
            .find(|a| a.status != 200 || !a.body.starts_with(&prefix));
        self.verdict(
            bad.is_none(),
            good,
            format!(
                "expected only `{prefix}N`, got {:?}",
                bad.map(|a| a.body.trim_end())
            ),
        );
    }
}
