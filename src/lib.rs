#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use drift_core::*;
pub use drift_derive::Entity;

/// Everything an application usually needs: `use drift::prelude::*;`.
pub mod prelude {
    pub use drift_core::{
        BelongsTo, Db, Durability, Entity, Error, Field, Filter, HasMany, HasOne, ManyToMany, Query, ReadTx, Result,
        WriteTx, avg, count, max, min, sum,
    };
    pub use drift_derive::Entity;
}
