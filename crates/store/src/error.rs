//! The one place where a `rusqlite::Error` becomes a [`StoreError`].

use ferrite_core::StoreError;
use rusqlite::ErrorCode;

/// Maps a database error: a uniqueness violation is a [`StoreError::Conflict`] (a duplicate key
/// or a lost race: the caller's concern); a value that does not decode is
/// [`StoreError::Corrupt`]; everything else is [`StoreError::Backend`] (the operator's concern).
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == ErrorCode::ConstraintViolation
                && (f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY) =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::InvalidColumnName(_)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::Utf8Error(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}
