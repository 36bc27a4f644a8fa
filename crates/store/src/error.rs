//! The one place where a `sqlx::Error` becomes a [`StoreError`].

use ferrite_core::StoreError;

/// Maps a database error: a uniqueness violation is a [`StoreError::Conflict`] (a duplicate key
/// or a lost race: the caller's concern); a value that does not decode is
/// [`StoreError::Corrupt`]; everything else is [`StoreError::Backend`] (the operator's concern).
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}
