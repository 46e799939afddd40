//! The one error type of Drift.

use std::fmt;

use crate::codec::KeyError;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Drift. Each variant names the entity, and where
/// there is one the field and the key (rendered with `Debug`), so a message read
/// alone in a log says what happened to what.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `update` of a row that does not exist.
    #[error("{entity} with key {key} does not exist")]
    NotFound {
        /// Entity name.
        entity: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// `insert` of a key that is already taken.
    #[error("{entity} with key {key} already exists")]
    AlreadyExists {
        /// Entity name.
        entity: &'static str,
        /// The key that is taken.
        key: String,
    },
    /// A write would give two rows the same value in a unique index.
    #[error(
        "unique index `{index}` of {entity} already holds {value} (row with key {existing_key}); the {entity} with key {key} was not written"
    )]
    UniqueViolation {
        /// Entity name.
        entity: &'static str,
        /// Index name (the field name for a single-field index).
        index: &'static str,
        /// The duplicated value.
        value: String,
        /// The key of the row being written.
        key: String,
        /// The key of the row that holds the value.
        existing_key: String,
    },
    /// A value could not be encoded as a key (a NaN float, say).
    #[error("field `{field}` of {entity} (key {key}) cannot be encoded as a key: {source}")]
    Key {
        /// Entity name.
        entity: &'static str,
        /// Field name, or `primary key`.
        field: &'static str,
        /// The row's key, where it could be rendered.
        key: String,
        /// What was wrong with the value.
        source: KeyError,
    },
    /// Stored bytes could not be decoded into the entity.
    #[error("stored {entity} with key {key} cannot be decoded: {reason}")]
    Decode {
        /// Entity name.
        entity: &'static str,
        /// The row's key (raw bytes in hex when the key itself is unreadable).
        key: String,
        /// What the decoder reported.
        reason: String,
    },
    /// A row could not be encoded.
    #[error("{entity} with key {key} cannot be encoded: {reason}")]
    Encode {
        /// Entity name.
        entity: &'static str,
        /// The row's key.
        key: String,
        /// What the encoder reported.
        reason: String,
    },
    /// An entity type was used that the `Db` was not built with.
    #[error("entity {entity} is not registered: add `.entity::<{entity}>()` to `Db::builder()`")]
    UnknownEntity {
        /// Entity name.
        entity: &'static str,
    },
    /// `get_by` on a field that has no single-field unique index.
    #[error("field `{field}` of {entity} has no unique index: mark it `#[drift(unique)]` to look rows up by it")]
    NoUniqueIndex {
        /// Entity name.
        entity: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// The transaction cannot be used any more: a rollback of a failed statement
    /// itself failed.
    #[error("the transaction was poisoned by an earlier storage failure and can only be dropped")]
    Poisoned,
    /// The schema stored in the file differs from the compiled one.
    #[error("schema of {entity} differs from the one stored in the database: {}", changes.join("; "))]
    SchemaMismatch {
        /// Entity name.
        entity: String,
        /// The differences, one sentence each.
        changes: Vec<String>,
    },
    /// The file exists but is not a Drift database (or is damaged beyond opening).
    #[error("{path} is not a Drift database: {reason}")]
    NotADatabase {
        /// The path that was opened.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The underlying store failed (I/O, corruption, a lock held elsewhere).
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
}

/// What kind of [`Error`] this is, for matching without destructuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::NotFound`]
    NotFound,
    /// [`Error::AlreadyExists`]
    AlreadyExists,
    /// [`Error::UniqueViolation`]
    UniqueViolation,
    /// [`Error::Key`]
    Key,
    /// [`Error::Decode`]
    Decode,
    /// [`Error::Encode`]
    Encode,
    /// [`Error::UnknownEntity`]
    UnknownEntity,
    /// [`Error::NoUniqueIndex`]
    NoUniqueIndex,
    /// [`Error::Poisoned`]
    Poisoned,
    /// [`Error::SchemaMismatch`]
    SchemaMismatch,
    /// [`Error::NotADatabase`]
    NotADatabase,
    /// [`Error::Storage`]
    Storage,
}

impl Error {
    /// The kind of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::UniqueViolation { .. } => ErrorKind::UniqueViolation,
            Error::Key { .. } => ErrorKind::Key,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Encode { .. } => ErrorKind::Encode,
            Error::UnknownEntity { .. } => ErrorKind::UnknownEntity,
            Error::NoUniqueIndex { .. } => ErrorKind::NoUniqueIndex,
            Error::Poisoned => ErrorKind::Poisoned,
            Error::SchemaMismatch { .. } => ErrorKind::SchemaMismatch,
            Error::NotADatabase { .. } => ErrorKind::NotADatabase,
            Error::Storage(_) => ErrorKind::Storage,
        }
    }
}

/// A failure of the storage engine, kept opaque so that its types stay internal.
#[derive(Debug)]
pub struct StorageError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StorageError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        StorageError { message: message.into(), source: None }
    }

    pub(crate) fn wrap<E: std::error::Error + Send + Sync + 'static>(context: &str, err: E) -> Self {
        StorageError { message: format!("{context}: {err}"), source: Some(Box::new(err)) }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Renders raw key bytes for messages when they cannot be decoded.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
