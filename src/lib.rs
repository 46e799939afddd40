#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub use drift_core::*;
pub use drift_derive::Entity;

/// Everything an application usually needs: `use drift::prelude::*;`.
pub mod prelude {
    pub use drift_core::{Db, Durability, Entity, Error, Field, Filter, Query, ReadTx, Result, WriteTx};
    pub use drift_derive::Entity;
}
