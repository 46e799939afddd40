//! Drift KV: a typed embedded ORM on redb.
//!
//! Annotate plain structs with `#[derive(Entity)]`, register them on a [`Db`], and
//! read and write them in ACID transactions with secondary indexes and typed queries.
//! See the README for a tour.
#![forbid(unsafe_code)]

pub use drift_core::*;
pub use drift_derive::Entity;

/// Everything an application usually needs: `use drift::prelude::*;`.
pub mod prelude {
    pub use drift_core::{
        Db, Durability, Entity, Error, Field, Filter, Query, ReadTx, Result, WriteTx,
    };
    pub use drift_derive::Entity;
}
