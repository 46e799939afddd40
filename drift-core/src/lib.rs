//! Runtime of Drift KV: transactions, order-preserving keys, indexes and queries on
//! redb. Use it through the `drift-kv` facade (`use drift::prelude::*`).
#![forbid(unsafe_code)]

mod cache;
mod catalog;
mod codec;
mod db;
mod entity;
mod error;
mod operand;
mod query;
mod read;
mod schema;
mod stats;
mod storage;
mod transaction;
mod validate;

pub use codec::{KeyCodec, KeyError, prefix_successor};
pub use db::{Db, DbBuilder};
pub use entity::{Entity, Field};
pub use error::{Error, ErrorKind, Result, StorageError};
pub use operand::IntoOperand;
pub use query::aggregate::{
    Agg, AggOrder, AggSet, Avg, Count, Having, Max, Min, Scalar, Sum, Summable, avg, count, max, min, sum,
};
pub use query::filter::{Filter, Order};
pub use query::group::{GroupBy, GroupKey, GroupOrder, GroupOrdering, Grouped};
pub use query::plan::{Access, GroupStrategy, Plan, Step};
pub use query::{Query, QueryIter};
pub use schema::{EntityDescriptor, FieldDescriptor, FieldKind, IndexDescriptor, Text};
pub use stats::{DbStats, TxStats};
pub use storage::Durability;
pub use transaction::{MAX_KEY_LEN, MAX_ROW_LEN, ReadTx, WriteTx};
pub use validate::{ValidationErrors, ValidationRule, Violation};

/// Items the derive's generated code refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::codec::KeyCodec;
    pub use crate::codec::KeyError;
    pub use crate::entity::{Entity, Field};
    pub use crate::schema::{EntityDescriptor, FieldDescriptor, FieldKind, IndexDescriptor};
    pub use crate::validate::ValidationErrors;
    pub use crate::validate::rules as validate;
    pub use ::postcard;
    pub use ::serde;
    pub use std::borrow::Cow;

    /// Encodes a row with postcard, appending to `out`.
    ///
    /// # Errors
    /// The postcard error, rendered.
    pub fn encode_row<R: serde::Serialize + ?Sized>(row: &R, out: &mut Vec<u8>) -> Result<(), String> {
        let buf = std::mem::take(out);
        match postcard::to_extend(row, buf) {
            Ok(b) => {
                *out = b;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Decodes a postcard row that must span all of `bytes`.
    ///
    /// # Errors
    /// The postcard error, rendered, or the count of trailing bytes.
    pub fn decode_row<R: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<R, String> {
        match postcard::take_from_bytes(bytes) {
            Ok((r, [])) => Ok(r),
            Ok((_, rest)) => Err(format!("{} bytes left over after the row", rest.len())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Decodes key fields from the front of the stored key.
    ///
    /// # Errors
    /// The key error, rendered.
    pub fn decode_key_field<K: KeyCodec>(input: &mut &[u8]) -> Result<K, String> {
        K::decode_key(input).map_err(|e| e.to_string())
    }

    /// Skips one key-encoded value of type `K`.
    ///
    /// # Errors
    /// When the bytes are not a valid encoding.
    pub fn skip_key<K: KeyCodec>(input: &mut &[u8]) -> Result<(), KeyError> {
        K::decode_key(input).map(drop)
    }
}
