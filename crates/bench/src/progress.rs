//! The progress bar on stderr: redrawn in place on a terminal, a line every few seconds
//! otherwise (so a log file stays readable).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counters the clients bump and the bar reads.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
}

const WIDTH: usize = 30;

/// One line of the bar: the fraction done is the larger of issuances/total and time/duration,
/// since either bound may end the run.
pub(crate) fn render(
    completed: u64,
    failed: u64,
    total: u64,
    elapsed: Duration,
    limit: Duration,
) -> String {
    let by_count = (completed + failed) as f64 / total.max(1) as f64;
    let by_time = elapsed.as_secs_f64() / limit.as_secs_f64().max(1e-9);
    let done = by_count.max(by_time).clamp(0.0, 1.0);
    let filled = (done * WIDTH as f64).round() as usize;
    let rate = completed as f64 / elapsed.as_secs_f64().max(1e-9);
    format!(
        "[{}{}] {:>3.0}% {completed}/{total} ok, {failed} failed, {:.1} s, {rate:.1}/s",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        done * 100.0,
        elapsed.as_secs_f64(),
    )
}

/// Draws until aborted; the caller aborts it and calls [`finish`].
pub(crate) fn spawn(
    counters: Arc<Counters>,
    total: u64,
    limit: Duration,
    started: Instant,
) -> tokio::task::JoinHandle<()> {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(5)
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let line = render(
                counters.completed.load(Ordering::Relaxed),
                counters.failed.load(Ordering::Relaxed),
                total,
                started.elapsed(),
                limit,
            );
            let mut err = std::io::stderr().lock();
            let _ = if tty {
                write!(err, "\r{line}\x1b[K")
            } else {
                writeln!(err, "{line}")
            };
            let _ = err.flush();
        }
    })
}

/// Ends the bar's line on a terminal.
pub(crate) fn finish() {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_follows_the_nearer_bound() {
        let line = render(50, 0, 100, Duration::from_secs(1), Duration::from_secs(10));
        assert!(
            line.starts_with(&format!("[{}{}]", "#".repeat(15), "-".repeat(15))),
            "{line}"
        );
        assert!(
            line.contains(" 50% 50/100 ok, 0 failed, 1.0 s, 50.0/s"),
            "{line}"
        );
        let line = render(1, 1, 100, Duration::from_secs(9), Duration::from_secs(10));
        assert!(line.contains(" 90% "), "{line}");
        let line = render(
            500,
            0,
            100,
            Duration::from_secs(20),
            Duration::from_secs(10),
        );
        assert!(
            line.starts_with(&format!("[{}]", "#".repeat(WIDTH))),
            "{line}"
        );
    }
}
