//! `mesh-lab guided chaos`: the tutorial's chaos chapter on the local mesh — faults that the caller's sidecar
//! injects (an abort, a delay) on half the requests — each step with a ✔/✘ verdict from the answers' bodies
//! and times.

use std::io::Write;
use std::time::Duration;

use crate::guided::Step;
use crate::guided::guide::{Guide, LabFiles};
use crate::guided::send::parallel;

/// The chapter's steps.
pub(crate) fn steps<W: Write>() -> Vec<Step<W>> {
    vec![
        step!(
            1,
            "abort 50 % with 503",
            apply "virtual-service-recommendation-fault-abort.yml",
            abort_half
        ),
        step!(
            2,
            "delay 7s on 50 %",
            apply "virtual-service-recommendation-fault-delay.yml",
            delay_half
        ),
    ]
}

/// Step 1: half of 100 requests aborted with 503 by the fault filter.
async fn abort_half<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("virtual-service-recommendation-fault-abort.yml"))
        .await
    {
        let a = g.send(100, None).await;
        let body = "customer => Error: 503 - preference => Error: 503 - fault filter abort\n";
        let aborted = a.iter().filter(|a| a.body == body).count();
        let fine = a.iter().filter(|a| a.version().is_some()).count();
        g.verdict(
            (30..=70).contains(&aborted) && aborted + fine == 100,
            &format!("{aborted} of 100 `{}`, the rest answered", body.trim_end()),
            format!("expected about half aborted, got {aborted} aborted and {fine} answers"),
        );
    }
}

/// Step 2: half of 16 requests at once delayed 7s, all answered.
async fn delay_half<W: Write>(g: &mut Guide<'_, W>, files: &LabFiles) {
    if g.apply_step(&files.istio_file("virtual-service-recommendation-fault-delay.yml"))
        .await
    {
        g.say("  $ 16 requests at once");
        let a = parallel(&g.http, &g.lab.gateway_url, 16).await;
        let slow = a
            .iter()
            .filter(|a| a.elapsed >= Duration::from_secs(7))
            .count();
        let ok = a.iter().all(|a| a.version().is_some()) && (2..=14).contains(&slow);
        g.verdict(
            ok,
            &format!("{slow} of 16 took 7s, all answers correct"),
            format!(
                "expected about half delayed 7s and all correct, got {slow} slow: {:?}",
                a.iter()
                    .map(|a| a.body.trim_end().to_owned())
                    .collect::<Vec<_>>()
            ),
        );
    }
}
