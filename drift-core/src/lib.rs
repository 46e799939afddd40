//! Runtime of Drift KV: transactions, order-preserving keys, indexes and queries on
//! redb. Use it through the `drift-kv` facade (`use drift::prelude::*`).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod cache;
mod catalog;
mod changes;
pub mod check;
mod codec;
mod db;
pub mod dynamic;
mod engine;
mod entity;
mod error;
mod message;
mod meta;
mod operand;
mod query;
pub mod raw;
mod read;
mod relation;
mod row;
mod schema;
mod shape;
mod shared;
mod stats;
mod storage;
mod transaction;
mod validate;
pub mod watch;

pub use changes::ChangeKind;
pub use check::{CheckReport, Problem, ProblemKind};
pub use codec::{KeyCodec, KeyError, prefix_successor};
pub use db::{DEFAULT_CACHE_CAPACITY, Db, DbBuilder, WRITE_ATTEMPTS};
/// The storage trait of redb, Drift's embedded engine: implement it to keep a
/// database somewhere other than a plain file, and open it with
/// [`DbBuilder::open_backend`].
pub use engine::redb_engine::StorageBackend;
/// redb's own backends (a file, memory), for [`DbBuilder::open_backend`].
pub use engine::redb_engine::backends as redb_backends;
pub use entity::{Entity, Field};
pub use error::{Error, ErrorKind, Result, StorageError};
pub use operand::IntoOperand;
pub use query::aggregate::{
    Agg, AggOrder, AggSet, Avg, Count, Having, Max, Min, Scalar, Sum, Summable, avg, count, max, min, sum,
};
pub use query::filter::{Filter, Order};
pub use query::group::{GroupBy, GroupKey, GroupOrder, GroupOrdering, Grouped};
pub use query::plan::{Access, GroupStrategy, Plan, Step};
pub use query::workload::{IndexAdvice, QueryShape, QueryStats};
pub use query::{Query, QueryIter};
pub use relation::{BelongsTo, HasMany, HasOne, ManyToMany, Relation, Transaction};
pub use schema::{
    EntityDescriptor, FieldDefault, FieldDescriptor, FieldKind, FieldShape, IndexDescriptor, OnDelete,
    RelationDescriptor, RelationKind, Text,
};
pub use shape::{Describe, NamedShape, Shape, Variant};
pub use stats::{DbStats, TxStats};
pub use storage::Durability;
pub use transaction::{MAX_KEY_LEN, MAX_ROW_LEN, ReadTx, WriteTx};
pub use validate::{ValidationErrors, ValidationRule, Violation};
#[cfg(feature = "async")]
pub use watch::WatchStream;
pub use watch::{
    Change, Commit, DEFAULT_HISTORY_BYTES, DEFAULT_HISTORY_COMMITS, DEFAULT_WATCH_BYTES, DEFAULT_WATCH_CAPACITY, Watch,
};

/// Items the derive's generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private;
