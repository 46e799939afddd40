#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub use drift_core::*;
pub use drift_derive::{Describe, Entity};
/// Schema migrations: diffs, plans, transforms over dynamic rows, the schema history.
pub use drift_migrate as migrate;

/// Everything an application usually needs: `use drift::prelude::*;`.
pub mod prelude {
    pub use drift_core::{
        BelongsTo, Db, Describe, Durability, Entity, Error, Field, Filter, HasMany, HasOne, ManyToMany, Query, ReadTx,
        Result, WriteTx, avg, count, max, min, sum,
    };
    pub use drift_derive::{Describe, Entity};
}
