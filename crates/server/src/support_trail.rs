//! The support trail: every request answered with a problem document is kept in the database
//! ([`ferrite_core::Store::record_refused_requests`]) for
//! [`ferrite_core::ca::REFUSED_REQUEST_RETENTION`], so that `ferrite request show ID` answers a
//! customer who quotes a request id without anyone searching the logs of every instance.
//!
//! Off the request path: a refusal is handed to a bounded queue and one writer task per
//! instance stores the queue in batches. A flood of bad requests therefore costs one batched
//! insert per [`BATCH`] refusals, not a database write each; when the queue is full (the
//! database slower than the flood) further refusals are not kept, counted in
//! `ferrite_refused_requests_dropped_total`, and still logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrite_core::Store;
use ferrite_core::model::RefusedRequest;
use tokio::sync::mpsc;

/// Refusals waiting for the writer; more are dropped (and counted).
const QUEUE: usize = 4096;
/// Most refusals stored in one write.
const BATCH: usize = 256;
/// The longest request path kept, in bytes (a path is the client's, of any length).
const MAX_PATH: usize = 256;

/// One instance's queue of refusals to keep.
#[derive(Debug)]
pub(crate) struct SupportTrail {
    queue: Option<mpsc::Sender<RefusedRequest>>,
    dropped: AtomicU64,
}

impl SupportTrail {
    /// Starts the writer on the current Tokio runtime. Outside a runtime (a router built for
    /// a test that never serves), refusals are counted as dropped.
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let queue = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            let (tx, rx) = mpsc::channel(QUEUE);
            runtime.spawn(write(store, rx));
            tx
        });
        Self {
            queue,
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `refused` to be kept; never waits.
    pub(crate) fn keep(&self, mut refused: RefusedRequest) {
        truncate(&mut refused.path, MAX_PATH);
        let queued = self
            .queue
            .as_ref()
            .is_some_and(|q| q.try_send(refused).is_ok());
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refusals not kept because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The writer: stores what is queued, up to [`BATCH`] at a time, until every sender is gone.
async fn write(store: Arc<dyn Store>, mut queue: mpsc::Receiver<RefusedRequest>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        if let Err(e) = store.record_refused_requests(&batch).await {
            // The requests themselves were answered and logged; only the trail misses them.
            tracing::warn!(
                error = %e,
                refusals = batch.len(),
                "refused requests could not be kept for the support trail"
            );
        }
        batch.clear();
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn truncate_keeps_whole_characters() {
        let mut s = "/é".repeat(200);
        truncate(&mut s, 256);
        assert!(s.len() <= 256 && s.len() >= 254, "{}", s.len());
        assert!(s.starts_with("/é/é"));
        let mut short = "/directory".to_owned();
        truncate(&mut short, 256);
        assert_eq!(short, "/directory");
    }
}
