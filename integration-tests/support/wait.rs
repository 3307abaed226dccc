//! Bounded waits: poll a condition every 10 ms until it holds or the deadline passes, then fail naming what did
//! not happen. Tests never sleep to synchronise.

use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(10);

/// Polls `check` until it gives a value; panics with `what` after `within`.
pub fn until<T>(what: &str, within: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(POLL);
    }
}

/// [`until`] for a check that awaits, without blocking the runtime between polls.
pub async fn until_async<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(POLL).await;
    }
}
