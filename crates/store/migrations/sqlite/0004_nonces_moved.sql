-- Ferrite SQLite schema, version 4: nonces moved out of the main database.
--
-- RFC 8555 §6.5 nonces now live in a second database file attached to every connection as
-- schema `nonces` (`<name>.nonces.db` beside the main file; see `open.rs`). A nonce needs no
-- durability — one lost in a crash costs its client a single `badNonce` retry — so that file
-- commits without an fsync (WAL, synchronous=NORMAL), while this file keeps
-- synchronous=FULL for accounts, orders and certificates. Nonces still live in the Store, so
-- every instance sharing the files redeems any instance's nonce exactly once.
DROP TABLE main.nonces;
