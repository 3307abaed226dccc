//! The apps' log lines, for `mesh-lab logs WORKLOAD` (what `oc logs deploy/NAME` shows).
//!
//! The apps run inside the lab's process, so their `tracing` events land in one place: [`LogBook`] is a
//! `tracing` layer that keeps the last lines (bounded). A line belongs to a pod when it names the pod
//! or its address (`recommendation request from recommendation-v2-…` names the pod, the
//! start-up line names its address), so `logs` shows the lines the app wrote. Every line has a sequence
//! number, so `logs -f` asks for the lines after the last it printed.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{Arc, LazyLock, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

const KEEP: usize = 20_000;

/// The process-wide book of log lines.
#[derive(Clone, Default)]
pub struct LogBook {
    lines: Arc<Mutex<Lines>>,
}

/// The kept lines and how many older ones were let go (the sequence number of the first kept).
#[derive(Default)]
struct Lines {
    kept: VecDeque<String>,
    dropped: u64,
}

static BOOK: LazyLock<LogBook> = LazyLock::new(|| {
    let book = LogBook::default();
    // Another subscriber may already be installed (a test binary's); then the lab sees no app lines.
    let _ = tracing::subscriber::set_global_default(Registry::default().with(book.clone()));
    book
});

/// The book, installed as the global `tracing` subscriber on first use.
pub fn book() -> &'static LogBook {
    &BOOK
}

impl LogBook {
    /// The lines `pred` keeps, oldest first.
    pub fn matching(&self, pred: impl Fn(&str) -> bool) -> Vec<String> {
        self.since(0, pred).0
    }

    /// The lines `pred` keeps whose sequence number is `from` or later, oldest first, and the sequence
    /// number of the next line to come.
    pub fn since(&self, from: u64, pred: impl Fn(&str) -> bool) -> (Vec<String>, u64) {
        let Ok(l) = self.lines.lock() else {
            return (Vec::new(), from);
        };
        let skip = usize::try_from(from.saturating_sub(l.dropped))
            .map_or(l.kept.len(), |s| s.min(l.kept.len()));
        let found = l.kept.range(skip..).filter(|s| pred(s)).cloned();
        (found.collect(), l.dropped + l.kept.len() as u64)
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for LogBook {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() > tracing::Level::INFO {
            return;
        }
        let mut m = Message(String::new());
        event.record(&mut m);
        let line = format!(
            "{} {} {}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            event.metadata().level(),
            m.0
        );
        if let Ok(mut lines) = self.lines.lock() {
            if lines.kept.len() == KEEP {
                lines.kept.pop_front();
                lines.dropped += 1;
            }
            lines.kept.push_back(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_gives_the_lines_after_a_sequence_number_and_the_next_one() {
        let book = LogBook::default();
        tracing::subscriber::with_default(Registry::default().with(book.clone()), || {
            tracing::info!("a from pod-1");
            tracing::info!("b from pod-2");
            tracing::info!("c from pod-1");
            tracing::debug!("d from pod-1 (below INFO: not kept)");
        });
        let (all, next) = book.since(0, |l| l.contains("pod-1"));
        assert_eq!(next, 3);
        assert_eq!(all.len(), 2);
        assert!(all[0].ends_with(" INFO a from pod-1"), "{all:?}");
        assert!(all[1].ends_with(" INFO c from pod-1"), "{all:?}");
        let (later, next) = book.since(2, |l| l.contains("pod-1"));
        assert_eq!((later.len(), next), (1, 3));
        assert_eq!(book.since(3, |_| true), (Vec::new(), 3));
    }
}
