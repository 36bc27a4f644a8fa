//! Anti-replay nonces (RFC 8555 §6.5). `ferrite_core::nonce` issues and checks them; the
//! database keeps the shared key and the record of used nonces.
//!
//! Every POST redeems a nonce, so redemptions are the most frequent write. They are written in
//! batches, as a database groups commits: a redemption that finds no batch being written
//! starts one at once; those that arrive while a batch is being written wait for it and go
//! together in the next, one statement and one commit for all of them. An idle server adds no
//! delay; a busy one writes one row per redemption but one transaction per batch.
//!
//! A batch commits without waiting for its WAL to reach the disk (`synchronous_commit` off for
//! that transaction only), as the embedded SQLite store keeps nonces in a file it does not
//! fsync on commit. Nothing is lost that matters: WAL reaches the disk in order, so the durable
//! commit of whatever a request then changes also makes its nonce's record durable; a crash
//! can only forget the nonces of requests that changed nothing (reads, or changes that never
//! committed), and other instances see a record as soon as it commits either way. This holds
//! because the nonce is redeemed before a request does anything else, and a request's effects
//! outside the database follow a durable commit of its own (finalize's claim precedes the CT
//! submissions) or are harmless to repeat (a validation's queries to the subscriber's
//! servers, which a quick validation makes before it commits its result).
//!
//! A batch that takes longer than [`BATCH_TIMEOUT`] fails, and so do the redemptions waiting
//! behind it when the database is unreachable: a request waits for its own nonce at most about
//! that long, never for a queue of failures.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrite_core::StoreError;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::{PostgresStore, at};
use crate::codec::micros;

/// The most redemptions one statement carries; more wait for the next batch.
const MAX_BATCH: usize = 512;

/// How long a batch may take before its redemptions fail as `Unavailable` (a database that
/// does not answer a one-statement insert in this long is not serving).
const BATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The stored key, or `candidate` stored and returned if there is none. `DO UPDATE` (setting
/// the key to itself) rather than `DO NOTHING`: it locks and returns the row another instance
/// committed a moment ago, which this statement's snapshot would not show.
pub(crate) async fn key(store: &PostgresStore, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
    let row = store
        .query_opt(
            "INSERT INTO nonce_key (id, key) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET key = nonce_key.key RETURNING key",
            &[&candidate],
        )
        .await?
        .ok_or_else(|| StoreError::Corrupt("nonce_key returned no row".to_owned()))?;
    at(&row, 0, "key")
}

/// Redemptions waiting to be written, shared by the clones of one store.
#[derive(Default)]
pub(crate) struct NonceBatches {
    state: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Redemption>,
    /// Whether a writer task is running; it takes what is waiting until nothing is.
    writing: bool,
}

/// One redemption: the nonce's record and where its answer goes.
struct Redemption {
    expires: i64,
    value: String,
    answer: oneshot::Sender<Result<bool, StoreError>>,
}

impl NonceBatches {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// RFC 8555 §6.5.2: "The server MUST NOT accept a nonce more than once" — one insert that does
// nothing for a nonce already recorded. Of concurrent redeemers on any instance, the first to
// insert wins; the others wait for its commit and insert nothing. Within one batch, the first
// redemption of a nonce is the one that may win.
pub(crate) async fn consume(
    store: &PostgresStore,
    nonce: &str,
    expires: OffsetDateTime,
) -> Result<bool, StoreError> {
    let (answer, answered) = oneshot::channel();
    let start_writer = {
        let mut queue = store.nonce_batches.queue();
        queue.waiting.push(Redemption {
            expires: micros(expires),
            value: nonce.to_owned(),
            answer,
        });
        !std::mem::replace(&mut queue.writing, true)
    };
    // A task of its own, so that a request cancelled while its batch is written (a client
    // that disconnects) neither stops nor delays the other redemptions. The guard exists
    // before the task does: a task dropped before it first runs (the runtime shutting down)
    // still hands the writer's role back.
    if start_writer {
        let guard = WriterGuard {
            batches: Arc::clone(&store.nonce_batches),
            armed: true,
        };
        tokio::spawn(write_batches(store.clone(), guard));
    }
    answered.await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(
            "the nonce could not be recorded (the server is stopping or its nonce writer \
             failed); retry the request with a new nonce"
                .to_owned(),
        ))
    })
}

/// Writes what is waiting, batch after batch, and stops when nothing is.
async fn write_batches(store: PostgresStore, mut guard: WriterGuard) {
    loop {
        let batch = {
            let mut queue = guard.batches.queue();
            // A redeemer that stopped waiting (its request was cancelled) did nothing with
            // its nonce: there is nothing to record.
            queue.waiting.retain(|r| !r.answer.is_closed());
            if queue.waiting.is_empty() {
                queue.writing = false;
                guard.armed = false;
                return;
            }
            let take = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..take).collect::<Vec<_>>()
        };
        let result = match tokio::time::timeout(BATCH_TIMEOUT, insert(&store, &batch)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database did not record the nonce within {BATCH_TIMEOUT:?}"
            ))),
        };
        if let Err(e @ StoreError::Unavailable(_)) = &result {
            // The database is not answering: those waiting would wait for the same failure,
            // one batch after another.
            let waiting = std::mem::take(&mut guard.batches.queue().waiting);
            answer(waiting, Err(e.clone()));
        }
        answer(batch, result);
    }
}

/// The writer's role while its task lives: when the task ends other than by finding the queue
/// empty (dropped before it ran, or a panic), the next redemption must start a new writer, and
/// those waiting now are answered with an error (their senders are dropped).
struct WriterGuard {
    batches: Arc<NonceBatches>,
    armed: bool,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        if self.armed {
            let mut queue = self.batches.queue();
            queue.writing = false;
            queue.waiting.clear();
        }
    }
}

/// Inserts the batch's distinct records; returns those it inserted (the others were recorded
/// already). Rows go in in key order, so two instances inserting overlapping batches take
/// their locks in the same order and cannot deadlock. `set_config(…, true)` is `SET LOCAL`:
/// it relaxes the commit of this statement's own transaction only.
async fn insert(
    store: &PostgresStore,
    batch: &[Redemption],
) -> Result<HashSet<(i64, String)>, StoreError> {
    let mut records: Vec<(i64, &str)> = batch
        .iter()
        .map(|r| (r.expires, r.value.as_str()))
        .collect();
    records.sort_unstable();
    records.dedup();
    let (expires, values): (Vec<i64>, Vec<&str>) = records.into_iter().unzip();
    let rows = store
        .query(
            "INSERT INTO used_nonces (expires, value) \
             SELECT n.expires, n.value \
             FROM unnest($1::BIGINT[], $2::TEXT[]) AS n (expires, value), \
                  (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed \
             ORDER BY n.expires, n.value \
             ON CONFLICT DO NOTHING RETURNING expires, value",
            &[&expires, &values],
        )
        .await?;
    rows.iter()
        .map(|row| Ok((at(row, 0, "expires")?, at(row, 1, "value")?)))
        .collect()
}

/// Answers each redemption: true for the first of a nonce the batch inserted.
fn answer(batch: Vec<Redemption>, inserted: Result<HashSet<(i64, String)>, StoreError>) {
    match inserted {
        Ok(mut inserted) => {
            for redemption in batch {
                // Removed on its first redemption, so a second one in the batch gets false.
                let first = inserted.remove(&(redemption.expires, redemption.value));
                // A redeemer that stopped waiting (its request was cancelled) needs no answer.
                let _ = redemption.answer.send(Ok(first));
            }
        }
        Err(e) => {
            for redemption in batch {
                let _ = redemption.answer.send(Err(e.clone()));
            }
        }
    }
}

/// Deletes the records of nonces that expired at or before `now` (they can no longer be
/// presented: `ferrite_core::nonce` refuses an expired nonce before asking the store).
pub(crate) async fn purge(store: &PostgresStore, now: OffsetDateTime) -> Result<u64, StoreError> {
    store
        .execute(
            "DELETE FROM used_nonces WHERE expires <= $1",
            &[&micros(now)],
        )
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::postgres::PostgresOptions;
    use crate::testing::with_database;

    /// The relaxed commit is the batch's own: the one pooled connection, used for a batch,
    /// commits what comes next durably again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_relaxed_commit_does_not_outlive_the_batch() {
        with_database(|url| async move {
            let options = PostgresOptions {
                max_connections: 1,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::open(&url, &options).await.unwrap();
            // Durable commits for this session, whatever the test server's default.
            store
                .query_opt("SELECT set_config('synchronous_commit', 'on', false)", &[])
                .await
                .unwrap();
            let expires = OffsetDateTime::now_utc() + time::Duration::minutes(5);
            assert!(consume(&store, "n", expires).await.unwrap());
            let row = store
                .query_opt("SELECT current_setting('synchronous_commit') AS mode", &[])
                .await
                .unwrap()
                .unwrap();
            assert_eq!(at::<String>(&row, 0, "mode").unwrap(), "on");
            store.close();
        })
        .await;
    }

    /// A database that cannot be reached fails every redemption waiting, each within a few
    /// seconds, none left hanging; a closed store fails them too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redemptions_fail_rather_than_wait_when_the_database_is_gone() {
        // A loopback port nothing listens on: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("postgres://ferrite:secret@127.0.0.1:{port}/ferrite");
        let store = PostgresStore::connect(&url, &PostgresOptions::default()).unwrap();
        let expires = OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let redemptions: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { consume(&store, &format!("n-{i}"), expires).await })
            })
            .collect();
        for redemption in redemptions {
            let result = tokio::time::timeout(std::time::Duration::from_secs(30), redemption)
                .await
                .expect("a redemption left waiting")
                .unwrap();
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{result:?}"
            );
        }
        store.close();
        let closed = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            consume(&store, "after-close", expires),
        )
        .await
        .expect("a redemption on a closed store left waiting");
        assert!(closed.is_err());
    }
}
