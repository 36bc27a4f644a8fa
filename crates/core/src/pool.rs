//! [`IdlePool`]: connections kept open between requests to one peer (a remote perspective, a
//! Certificate Transparency log), so a request costs no new TCP and TLS handshake. The
//! connection type is the caller's (hyper's `SendRequest`); this module only keeps them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Idle connections to one peer, the most recently used last.
#[derive(Debug)]
pub struct IdlePool<T> {
    idle: Mutex<Vec<(T, Instant)>>,
}

impl<T> Default for IdlePool<T> {
    fn default() -> Self {
        IdlePool {
            idle: Mutex::new(Vec::new()),
        }
    }
}

impl<T> IdlePool<T> {
    /// The most recently used idle connection that `is_open` and has been idle less than
    /// `max_idle`; older or closed ones are dropped (closed).
    pub fn take(&self, max_idle: Duration, is_open: impl Fn(&T) -> bool) -> Option<T> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        idle.retain(|(conn, since)| is_open(conn) && since.elapsed() < max_idle);
        idle.pop().map(|(conn, _)| conn)
    }

    /// Keeps `conn` for the next request, unless `size` are kept already or it is closed.
    pub fn put(&self, conn: T, size: usize, is_open: impl Fn(&T) -> bool) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < size && is_open(&conn) {
            idle.push((conn, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_kept_open_connection_is_taken_first_and_closed_ones_are_dropped() {
        let pool: IdlePool<(u32, bool)> = IdlePool::default();
        let open = |c: &(u32, bool)| c.1;
        pool.put((1, true), 2, open);
        pool.put((2, false), 2, open);
        pool.put((3, true), 2, open);
        // Full at two: a third open one is not kept.
        pool.put((4, true), 2, open);
        assert_eq!(pool.take(Duration::from_secs(60), open), Some((3, true)));
        assert_eq!(pool.take(Duration::from_secs(60), open), Some((1, true)));
        assert_eq!(pool.take(Duration::from_secs(60), open), None);
        pool.put((5, true), 2, open);
        assert_eq!(pool.take(Duration::ZERO, open), None, "idle too long");
    }
}
