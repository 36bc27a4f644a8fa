//! Shares of the validation slots. An instance runs at most a fixed number of validations at
//! once; within that, one account and one customer each run at most their own share, so a
//! customer whose validations are slow (a server that answers late, a DNS that times out)
//! waits on its own slots and never holds every slot of the instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Slots per key (an account id or a customer id), at most `per_key` taken at once for one
/// key. A key's semaphore exists only while one of its slots is taken or awaited.
pub(super) struct KeyedSlots {
    per_key: usize,
    keys: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl KeyedSlots {
    pub(super) fn new(per_key: usize) -> Self {
        Self {
            per_key: per_key.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// A slot of `key`, waiting while `per_key` are taken.
    pub(super) async fn acquire(&self, key: &str) -> KeyedSlot<'_> {
        let semaphore = Arc::clone(
            self.lock()
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_key))),
        );
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = Arc::clone(&semaphore).acquire_owned().await.ok();
        KeyedSlot {
            owner: self,
            key: key.to_owned(),
            semaphore,
            permit,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Semaphore>>> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keys with a semaphore (tests: entries do not outlive their slots).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// A taken slot of one key; given back when dropped.
pub(super) struct KeyedSlot<'a> {
    owner: &'a KeyedSlots,
    key: String,
    semaphore: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for KeyedSlot<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut keys = self.owner.lock();
        // Forget the key when nobody else holds or awaits its semaphore: the map's reference
        // and this slot's are the only ones left.
        if Arc::strong_count(&self.semaphore) == 2
            && keys
                .get(&self.key)
                .is_some_and(|s| Arc::ptr_eq(s, &self.semaphore))
        {
            keys.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_key_takes_at_most_its_share_and_is_forgotten_when_done() {
        let slots = KeyedSlots::new(2);
        let a1 = slots.acquire("a").await;
        let a2 = slots.acquire("a").await;
        // A third slot of "a" waits; "b" does not.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slots.acquire("a"))
                .await
                .is_err()
        );
        let b = slots.acquire("b").await;
        assert_eq!(slots.len(), 2);
        drop(a1);
        let a3 = tokio::time::timeout(Duration::from_millis(50), slots.acquire("a"))
            .await
            .expect("a slot of a was given back");
        drop((a2, a3, b));
        assert_eq!(slots.len(), 0);
    }
}
