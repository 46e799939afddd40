//! What every transaction of one database shares: the storage engine, the catalog of
//! registered entities, the cache, planner statistics and counters.

use std::sync::RwLock;
use std::sync::atomic::AtomicU64;

use crate::cache::EntityCache;
use crate::catalog::Catalog;
use crate::storage::{Backend, Durability};

pub(crate) struct Shared {
    pub(crate) backend: RwLock<Backend>,
    pub(crate) catalog: Catalog,
    pub(crate) durability: Durability,
    pub(crate) commits: AtomicU64,
    pub(crate) rollbacks: AtomicU64,
    pub(crate) cache: Option<EntityCache>,
    pub(crate) planner: crate::query::stats::PlannerStats,
    pub(crate) strict_loading: bool,
    /// The file's name (or `:memory:`), for messages.
    pub(crate) display: String,
}
