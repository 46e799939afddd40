//! Tests of the dynamic codecs against postcard and [`KeyCodec`](crate::KeyCodec),
//! of `Value::fit`, and of `Row` over hand-built descriptors (derived entities are
//! tested in the workspace's `tests/dynamic_rows.rs`).

mod fit;
mod key;
mod row;
mod strategies;
mod wire;
