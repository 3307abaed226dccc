//! Which steps of a chapter a guided run shows ([`Pick`]: all, `--step N`…, `--from N`) and the pacing of
//! `-i` ([`Enter`]: a line on the standard input before each shown step).

use anyhow::bail;

use crate::guided::Chapter;

/// The steps shown in full; the steps before the last one shown that are not shown run quietly first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Every step.
    All,
    /// `--step N` (repeatable): these, in the chapter's order; the run ends after the last of them.
    Steps(Vec<u32>),
    /// `--from N`: N to the end.
    From(u32),
}

impl Pick {
    /// From the command line's `--step` and `--from` (clap keeps them apart).
    pub fn of(steps: &[u32], from: Option<u32>) -> Self {
        match (steps, from) {
            (_, Some(n)) => Pick::From(n),
            ([], None) => Pick::All,
            (s, None) => Pick::Steps(s.to_vec()),
        }
    }

    /// Is step `n` shown in full?
    pub fn shows(&self, n: u32) -> bool {
        match self {
            Pick::All => true,
            Pick::Steps(s) => s.contains(&n),
            Pick::From(from) => n >= *from,
        }
    }

    /// The last step that runs.
    pub fn last(&self, chapter: Chapter) -> u32 {
        match self {
            Pick::Steps(s) => s.iter().copied().max().unwrap_or(0),
            Pick::All | Pick::From(_) => u32::MAX,
        }
        .min(chapter.numbers().last().copied().unwrap_or(0))
    }

    /// A usage error naming the chapter's steps when a step asked for is not one of them.
    pub fn check(&self, chapter: Chapter) -> anyhow::Result<()> {
        let numbers = chapter.numbers();
        let asked: Vec<u32> = match self {
            Pick::All => Vec::new(),
            Pick::Steps(s) => s.clone(),
            Pick::From(n) => vec![*n],
        };
        if let Some(bad) = asked.iter().find(|n| !numbers.contains(n)) {
            bail!(
                "the {} chapter has no step {bad}: its steps are {}",
                chapter.name(),
                spans(&numbers)
            );
        }
        Ok(())
    }

    /// `--step` and `--from` name steps of one chapter: with `all` they are refused.
    pub fn check_all(&self, chapters: &[Chapter]) -> anyhow::Result<()> {
        if *self != Pick::All && chapters.len() > 1 {
            bail!(
                "--step and --from pick steps of one chapter, and `all` is six: name the chapter \
                 (egress, routing, resilience, chaos, security or troubleshoot), e.g. mesh-lab guided egress --from 8"
            );
        }
        Ok(())
    }
}

/// `1 to 13` (the numbers are consecutive) or the list.
fn spans(numbers: &[u32]) -> String {
    match (numbers.first(), numbers.last()) {
        (Some(a), Some(b)) if (b - a) as usize + 1 == numbers.len() => format!("{a} to {b}"),
        _ => numbers
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The learner's Enter: the lines of the standard input, read by a thread of their own (a read that blocks
/// never holds up the runtime, and Ctrl-C is heard while it waits).
pub struct Enter(tokio::sync::mpsc::UnboundedReceiver<()>);

impl Enter {
    /// Starts reading the standard input.
    pub fn stdin() -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            // Ends at the end of the input, or when nobody waits for a line any more.
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        Self(rx)
    }

    /// Waits for a line: false when the input has ended.
    pub async fn wait(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_show_their_steps_and_end_after_the_last() {
        let p = Pick::of(&[5, 3], None);
        assert!(p.shows(3) && p.shows(5) && !p.shows(4));
        assert_eq!(p.last(Chapter::Egress), 5);
        assert_eq!(Pick::of(&[], Some(8)).last(Chapter::Egress), 12);
        assert!(Pick::of(&[], Some(8)).shows(12) && !Pick::of(&[], Some(8)).shows(7));
        assert_eq!(Pick::of(&[], None), Pick::All);
    }

    #[test]
    fn a_step_that_does_not_exist_is_refused_naming_the_steps() {
        let e = Pick::of(&[13], None).check(Chapter::Egress).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the egress chapter has no step 13: its steps are 1 to 12"
        );
        assert!(Pick::of(&[], Some(0)).check(Chapter::Chaos).is_err());
        assert!(Pick::of(&[12], None).check(Chapter::Egress).is_ok());
        let all = crate::guided::chapters("all").unwrap();
        assert!(Pick::of(&[1], None).check_all(&all).is_err());
        assert!(Pick::All.check_all(&all).is_ok());
    }
}
