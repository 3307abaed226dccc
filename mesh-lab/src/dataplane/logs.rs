//! The apps' log lines, for `mesh-lab logs WORKLOAD` (what `oc logs deploy/NAME` shows).
//!
//! The apps run inside the lab's process, so their `tracing` events land in one place: [`LogBook`] is a
//! `tracing` layer that keeps the last lines (bounded). A line belongs to a pod when it names the pod
//! or its address (`recommendation request from recommendation-v2-…` names the pod, the
//! start-up line names its address), so `logs` shows the lines the app wrote.

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
    lines: Arc<Mutex<VecDeque<String>>>,
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
        self.lines
            .lock()
            .map(|l| l.iter().filter(|s| pred(s)).cloned().collect())
            .unwrap_or_default()
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
            if lines.len() == KEEP {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }
}
