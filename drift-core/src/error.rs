//! The one error type of Drift.

use std::fmt;

use crate::codec::KeyError;
use crate::validate::ValidationErrors;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Drift. Each variant names the entity, and where
/// there is one the field and the key (rendered with `Debug`, shortened), so a
/// message read alone in a log says what happened to what. A message is complete on
/// its own: it includes the text of its cause, which [`source`](std::error::Error::source)
/// also returns for callers that walk the chain.
///
/// Match on [`Error::kind`] to tell errors apart without destructuring them. A failed
/// write statement (`insert`, `update`, `upsert`, `delete`) changes nothing, whatever
/// the error, and the transaction stays usable, except after [`Error::Poisoned`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entity broke one or more of its `#[drift(validate(...))]` or
    /// `#[drift(validate_with = ...)]` rules; all of them are listed.
    #[error(transparent)]
    Validation(ValidationErrors),
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
        /// The key or index field whose value failed.
        field: &'static str,
        /// The row's key, where it could be rendered, or what the value was for
        /// (`(filter operand)`, `(lookup operand)`).
        key: String,
        /// What was wrong with the value.
        source: KeyError,
    },
    /// An encoded primary key, or the encoded values of an index entry, are longer
    /// than [`MAX_KEY_LEN`](crate::MAX_KEY_LEN).
    #[error(
        "{} of {entity} with key {key} is {len} bytes encoded, over the limit of {max} (field `{field}`); nothing was written",
        index.map_or_else(|| "the primary key".to_string(), |i| format!("the entry of index `{i}`"))
    )]
    KeyTooLarge {
        /// Entity name.
        entity: &'static str,
        /// The index, or `None` for the primary key.
        index: Option<&'static str>,
        /// The key's or index's fields, comma-separated.
        field: String,
        /// The row's key, shortened.
        key: String,
        /// The encoded length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An encoded row is longer than [`MAX_ROW_LEN`](crate::MAX_ROW_LEN).
    #[error("{entity} with key {key} is {len} bytes encoded, over the row limit of {max}; nothing was written")]
    RowTooLarge {
        /// Entity name.
        entity: &'static str,
        /// The row's key, shortened.
        key: String,
        /// The encoded length.
        len: usize,
        /// The limit.
        max: usize,
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
    /// A child names a parent that does not exist.
    #[error("{entity} with key {key}: field `{field}` refers to {parent} with key {parent_key}, which does not exist")]
    ForeignKey {
        /// The child entity.
        entity: &'static str,
        /// The foreign-key field (fields joined by `, ` for a composite key).
        field: String,
        /// The child's key.
        key: String,
        /// The parent entity.
        parent: &'static str,
        /// The missing parent key.
        parent_key: String,
    },
    /// A delete was refused: rows with `on_delete = restrict` still refer to the row.
    #[error(
        "{entity} with key {key} cannot be deleted: {count} {child} row(s) refer to it through `{field}` (on_delete = restrict)"
    )]
    Restrict {
        /// The entity being deleted.
        entity: &'static str,
        /// Its key.
        key: String,
        /// The child entity that refers to it.
        child: &'static str,
        /// The child's foreign-key field.
        field: String,
        /// How many children refer to it.
        count: u64,
    },
    /// A delete that rows of an entity not registered in this process refer to with
    /// `on_delete = cascade` or `set_null` (as the schemas stored in the file say):
    /// this process cannot apply the rule to rows it cannot decode, so it refuses the
    /// delete instead of leaving dangling keys. Register the entity to delete.
    #[error(
        "{entity} with key {key} cannot be deleted here: {child} rows refer to it through `{field}` (on_delete = {}), and {child} is not registered in this process; add `.entity::<{child}>()` to `Db::builder()`",
        on_delete_name(*on_delete)
    )]
    Unregistered {
        /// The entity being deleted.
        entity: &'static str,
        /// Its key.
        key: String,
        /// The unregistered entity whose rows refer to it.
        child: String,
        /// The child's foreign-key field.
        field: String,
        /// The rule that could not be applied.
        on_delete: crate::schema::OnDelete,
    },
    /// A lazy load was attempted on a database opened with `strict_loading(true)`.
    #[error(
        "lazy load of relation `{relation}` of {entity} refused: strict loading is on; load it eagerly with `.with({entity}::{})`",
        relation.to_uppercase()
    )]
    StrictLoading {
        /// The entity whose relation was accessed.
        entity: &'static str,
        /// The relation field.
        relation: &'static str,
    },
    /// An integer sum does not fit its result type.
    #[error("sum of field `{field}` of {entity} overflows its result type")]
    Overflow {
        /// Entity name.
        entity: &'static str,
        /// Field summed.
        field: &'static str,
    },
    /// A query that cannot run as written.
    #[error("query on {entity}, field `{field}`: {reason}")]
    Query {
        /// Entity name.
        entity: &'static str,
        /// The field concerned.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// `get_by` on a field that has no single-field unique index.
    #[error("field `{field}` of {entity} has no unique index: mark it `#[drift(unique)]` to look rows up by it")]
    NoUniqueIndex {
        /// Entity name.
        entity: &'static str,
        /// Field name.
        field: &'static str,
    },
    /// The transaction lost a race: the storage engine found at commit that another
    /// commit changed what it read (engines with optimistic commits; redb, which runs
    /// one writer at a time, never reports it). Nothing was applied: run it again.
    #[error("the transaction conflicted with another commit and was not applied: {reason}")]
    Conflict {
        /// What the engine reported.
        reason: String,
    },
    /// A change subscription fell behind: its buffer was full, so the commits from
    /// number `from` on were not given to it. It goes on with later commits; to get the
    /// missed ones, call `Watch::resume_from(from)` while the database still holds them.
    #[error("the subscription to {entity} lagged: commits from number {from} on were not delivered")]
    Lagged {
        /// The entity watched.
        entity: &'static str,
        /// The first commit the subscription missed.
        from: u64,
    },
    /// A change subscription asked to resume from a commit the database no longer
    /// holds (or never numbered).
    #[error("cannot resume the subscription to {entity} from commit {requested}: the commits held go from {oldest} on")]
    HistoryGap {
        /// The entity watched.
        entity: &'static str,
        /// The commit asked for.
        requested: u64,
        /// The oldest commit it can resume from now.
        oldest: u64,
    },
    /// The transaction cannot be used any more: a rollback of a failed statement
    /// itself failed.
    #[error("the transaction was poisoned by an earlier storage failure and can only be dropped")]
    Poisoned,
    /// The entities given to `Db::builder()` do not fit together: a relation's target
    /// or join entity is not registered, two entities share a table, a relation has
    /// no index to find its rows by.
    #[error("cannot register {entity}: {reason}")]
    Registration {
        /// The entity at fault.
        entity: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The schema stored in the file differs from the compiled one.
    #[error("schema of {entity} differs from the one stored in the database: {}", changes.join("; "))]
    SchemaMismatch {
        /// Entity name.
        entity: String,
        /// The differences, one sentence each.
        changes: Vec<String>,
    },
    /// A migration step failed; nothing was written. Names the step, the entity, and
    /// where one is at fault the row's key and the field.
    #[error(
        "migration failed at {step}, {entity}{}{}: {reason}",
        key.as_ref().map(|k| format!(" key {k}")).unwrap_or_default(),
        field.as_ref().map(|f| format!(" field `{f}`")).unwrap_or_default()
    )]
    Migration {
        /// The step, in words (`"Post v1 -> v2"`, `"build unique index `email`"`).
        step: String,
        /// The entity being migrated.
        entity: String,
        /// The key of the row at fault, rendered.
        key: Option<String>,
        /// The field at fault.
        field: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// The file exists but is not a Drift database (or is damaged beyond opening).
    #[error("{path} is not a Drift database: {reason}")]
    NotADatabase {
        /// The path that was opened.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The underlying store failed (I/O, corruption, a lock held elsewhere). The
    /// message names the file or the statement (entity and key) when known.
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
}

/// What kind of [`Error`] this is, for matching without destructuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Validation`]
    Validation,
    /// [`Error::NotFound`]
    NotFound,
    /// [`Error::AlreadyExists`]
    AlreadyExists,
    /// [`Error::UniqueViolation`]
    UniqueViolation,
    /// [`Error::Key`]
    Key,
    /// [`Error::KeyTooLarge`]
    KeyTooLarge,
    /// [`Error::RowTooLarge`]
    RowTooLarge,
    /// [`Error::Decode`]
    Decode,
    /// [`Error::Encode`]
    Encode,
    /// [`Error::UnknownEntity`]
    UnknownEntity,
    /// [`Error::ForeignKey`]
    ForeignKey,
    /// [`Error::Restrict`]
    Restrict,
    /// [`Error::Unregistered`]
    Unregistered,
    /// [`Error::StrictLoading`]
    StrictLoading,
    /// [`Error::Overflow`]
    Overflow,
    /// [`Error::Query`]
    Query,
    /// [`Error::NoUniqueIndex`]
    NoUniqueIndex,
    /// [`Error::Conflict`]
    Conflict,
    /// [`Error::Lagged`]
    Lagged,
    /// [`Error::HistoryGap`]
    HistoryGap,
    /// [`Error::Poisoned`]
    Poisoned,
    /// [`Error::Registration`]
    Registration,
    /// [`Error::SchemaMismatch`]
    SchemaMismatch,
    /// [`Error::Migration`]
    Migration,
    /// [`Error::NotADatabase`]
    NotADatabase,
    /// [`Error::Storage`]
    Storage,
}

impl Error {
    /// The kind of this error: what to match on, whatever the details it carries.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct User { #[drift(primary_key)] id: u64, #[drift(unique)] email: String }
    /// let db = Db::builder().entity::<User>().in_memory()?;
    /// db.write(|tx| tx.insert(&User { id: 1, email: "a@x".into() }).map(drop))?;
    /// let err = db.write(|tx| tx.insert(&User { id: 2, email: "a@x".into() })).unwrap_err();
    /// assert_eq!(err.kind(), drift::ErrorKind::UniqueViolation);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation(_) => ErrorKind::Validation,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Error::UniqueViolation { .. } => ErrorKind::UniqueViolation,
            Error::Key { .. } => ErrorKind::Key,
            Error::KeyTooLarge { .. } => ErrorKind::KeyTooLarge,
            Error::RowTooLarge { .. } => ErrorKind::RowTooLarge,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Encode { .. } => ErrorKind::Encode,
            Error::UnknownEntity { .. } => ErrorKind::UnknownEntity,
            Error::ForeignKey { .. } => ErrorKind::ForeignKey,
            Error::Restrict { .. } => ErrorKind::Restrict,
            Error::Unregistered { .. } => ErrorKind::Unregistered,
            Error::StrictLoading { .. } => ErrorKind::StrictLoading,
            Error::Overflow { .. } => ErrorKind::Overflow,
            Error::Query { .. } => ErrorKind::Query,
            Error::NoUniqueIndex { .. } => ErrorKind::NoUniqueIndex,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Lagged { .. } => ErrorKind::Lagged,
            Error::HistoryGap { .. } => ErrorKind::HistoryGap,
            Error::Poisoned => ErrorKind::Poisoned,
            Error::Registration { .. } => ErrorKind::Registration,
            Error::SchemaMismatch { .. } => ErrorKind::SchemaMismatch,
            Error::Migration { .. } => ErrorKind::Migration,
            Error::NotADatabase { .. } => ErrorKind::NotADatabase,
            Error::Storage(_) => ErrorKind::Storage,
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(errors: ValidationErrors) -> Self {
        Error::Validation(errors)
    }
}

// Errors cross threads (a `Db` is shared) and go into `Box<dyn Error + Send + Sync>`.
const _: () = {
    const fn assert_send_sync_static<E: std::error::Error + Send + Sync + 'static>() {}
    assert_send_sync_static::<Error>();
};

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

    /// Prefixes the message with what was being done ("insert of User with key 5").
    #[must_use]
    pub(crate) fn during(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
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

fn on_delete_name(rule: crate::schema::OnDelete) -> &'static str {
    match rule {
        crate::schema::OnDelete::Cascade => "cascade",
        crate::schema::OnDelete::SetNull => "set_null",
        _ => "restrict",
    }
}
