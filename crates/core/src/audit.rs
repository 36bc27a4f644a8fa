//! The tamper-evident audit log: what every change an auditor asks about looks like once
//! recorded, and the hash chain that seals the entries.
//!
//! The store appends an entry in the transaction of each change (customers, API credentials,
//! MAC keys, accounts, certificates issued and revoked, blocked keys, CA certificates; and the
//! operator's commands and each start through [`crate::Store::append_audit`]). Housekeeping
//! then seals the entries in order ([`crate::Store::seal_audit_log`]): entry `n` of the chain
//! carries [`entry_hash`] of entry `n - 1`'s hash and its own fields, so an edit, a deletion
//! or a reordering of a sealed entry breaks every hash from it on, which [`verify`] finds.
//! Deleting the newest sealed entries leaves a shorter valid chain: keep the head
//! `ferrite audit verify` prints somewhere else to detect that too.

use time::OffsetDateTime;

/// The hash before the first entry of the chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Order of appending (unique, increasing; gaps where a transaction rolled back).
    pub seq: i64,
    /// When the change was made.
    pub at: OffsetDateTime,
    /// What happened: `certificate_issued`, `certificate_revoked`, `account_bound`, ….
    pub event: String,
    /// What it happened to: a serial, an account id, a customer id, a MAC key id, ….
    pub subject: String,
    /// The rest, a JSON object as the store wrote it (hashed as these exact bytes).
    pub details: String,
    /// Its place in the hash chain (1, 2, …) and its hash, once sealed.
    pub sealed: Option<(i64, String)>,
}

/// The hash of an entry at `chain` whose predecessor's hash is `previous`: lower-case hex
/// SHA-256 of the fields, each on a line of its own, the time in microseconds since the Unix
/// epoch. `seq` is not covered: the chain gives the order, and a copy to another database
/// (`ferrite store copy`) numbers the entries anew.
pub fn entry_hash(previous: &str, chain: i64, entry: &AuditEntry) -> String {
    let at = entry.at.unix_timestamp_nanos() / 1000;
    let text = format!(
        "{previous}\n{chain}\n{at}\n{}\n{}\n{}",
        entry.event, entry.subject, entry.details
    );
    crate::ids::sha256_hex(text.as_bytes())
}

/// How many entries one [`Store::seal_audit_log`](crate::Store::seal_audit_log) call seals
/// at most.
pub const SEAL_BATCH: u32 = 1000;

/// Seals every entry appended so far, a batch at a time; returns how many.
pub async fn seal_pending(store: &dyn crate::Store) -> Result<u64, crate::StoreError> {
    let mut total = 0;
    loop {
        let sealed = store.seal_audit_log(SEAL_BATCH).await?;
        total += sealed;
        if sealed < u64::from(SEAL_BATCH) {
            return Ok(total);
        }
    }
}

/// Where the chain holds: how many entries verified and the last one's place and hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    /// Entries verified.
    pub entries: u64,
    /// The last verified entry's place in the chain (0 for an empty chain).
    pub chain: i64,
    /// Its hash ([`GENESIS`] for an empty chain).
    pub hash: String,
}

/// The first entry at which the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the audit log is broken at chain entry {chain} (seq {seq}, {event}): {reason}")]
pub struct ChainBroken {
    /// The place in the chain where it breaks (the one expected, when entries are missing).
    pub chain: i64,
    /// The entry found there.
    pub seq: i64,
    /// Its event.
    pub event: String,
    /// What is wrong.
    pub reason: String,
}

/// Verifies sealed entries in chain order, continuing from `head` (start from
/// [`ChainHead::start`]): each must be the next place in the chain and carry the hash of its
/// fields and its predecessor's hash. Feed the whole chain page by page.
pub fn verify<'a>(
    head: &mut ChainHead,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<(), ChainBroken> {
    for entry in entries {
        let broken = |reason: String| ChainBroken {
            chain: head.chain + 1,
            seq: entry.seq,
            event: entry.event.clone(),
            reason,
        };
        let Some((chain, hash)) = &entry.sealed else {
            return Err(broken("the entry is not sealed".into()));
        };
        if *chain != head.chain + 1 {
            return Err(broken(format!(
                "the next entry is at {chain}: entries are missing or were moved"
            )));
        }
        let expected = entry_hash(&head.hash, *chain, entry);
        if *hash != expected {
            return Err(broken(
                "its hash is not that of its fields and the previous entry's hash: it, or an entry before it, was edited, deleted or reordered".into(),
            ));
        }
        head.entries += 1;
        head.chain = *chain;
        head.hash.clone_from(hash);
    }
    Ok(())
}

impl ChainHead {
    /// The head before the first entry.
    pub fn start() -> ChainHead {
        ChainHead {
            entries: 0,
            chain: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut previous = GENESIS.to_owned();
        (1..=n)
            .map(|i| {
                let mut entry = AuditEntry {
                    seq: i * 2,
                    at: OffsetDateTime::from_unix_timestamp(1_700_000_000 + i).unwrap(),
                    event: "certificate_issued".into(),
                    subject: format!("serial-{i}"),
                    details: format!("{{\"n\":{i}}}"),
                    sealed: None,
                };
                let hash = entry_hash(&previous, i, &entry);
                previous.clone_from(&hash);
                entry.sealed = Some((i, hash));
                entry
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_in_pages() {
        let entries = chain(5);
        let mut head = ChainHead::start();
        verify(&mut head, &entries[..2]).unwrap();
        verify(&mut head, &entries[2..]).unwrap();
        assert_eq!(head.entries, 5);
        assert_eq!(head.chain, 5);
        assert_eq!(&head.hash, &entries[4].sealed.as_ref().unwrap().1);
    }

    #[test]
    fn an_edit_a_deletion_and_a_reordering_are_found_where_they_are() {
        let mut edited = chain(5);
        edited[2].details = "{\"n\":99}".into();
        let e = verify(&mut ChainHead::start(), &edited).unwrap_err();
        assert_eq!((e.chain, e.seq), (3, 6), "{e}");

        let mut deleted = chain(5);
        deleted.remove(1);
        let e = verify(&mut ChainHead::start(), &deleted).unwrap_err();
        assert_eq!((e.chain, e.seq), (2, 6), "{e}");
        assert!(e.reason.contains("missing"), "{e}");

        // Two entries swapped, their places renumbered to look contiguous.
        let mut reordered = chain(5);
        reordered.swap(1, 2);
        reordered[1].sealed.as_mut().unwrap().0 = 2;
        reordered[2].sealed.as_mut().unwrap().0 = 3;
        let e = verify(&mut ChainHead::start(), &reordered).unwrap_err();
        assert_eq!(e.chain, 2, "{e}");

        let mut unsealed = chain(2);
        unsealed[1].sealed = None;
        assert!(verify(&mut ChainHead::start(), &unsealed).is_err());
    }
}
