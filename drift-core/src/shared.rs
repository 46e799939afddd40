//! What every transaction of one database shares: the storage engine, the catalog of
//! registered entities, the cache, planner statistics and counters.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use crate::cache::EntityCache;
use crate::catalog::{Catalog, StoredLinks};
use crate::storage::{Backend, Durability};

pub(crate) struct Shared {
    pub(crate) backend: RwLock<Backend>,
    pub(crate) catalog: Catalog,
    /// What the stored descriptors add to the catalog; replaced when a write
    /// transaction finds that another process changed them.
    pub(crate) links: RwLock<Arc<StoredLinks>>,
    /// Whether opening stored the descriptors of every registered entity.
    pub(crate) initialized: std::sync::atomic::AtomicBool,
    pub(crate) durability: Durability,
    pub(crate) commits: AtomicU64,
    pub(crate) rollbacks: AtomicU64,
    pub(crate) cache: Option<EntityCache>,
    pub(crate) planner: crate::query::stats::PlannerStats,
    pub(crate) strict_loading: bool,
    /// The file's name (or `:memory:`), for messages.
    pub(crate) display: String,
    /// The record of query shapes ([`crate::Db::query_stats`]).
    pub(crate) workload: crate::query::workload::Workload,
    /// Where commits are published to change subscriptions.
    pub(crate) watch: Arc<crate::watch::Hub>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Subscriptions end: nothing will be committed through this database again.
        self.watch.close();
    }
}

impl Shared {
    /// The stored links as they are now.
    pub(crate) fn links(&self) -> Arc<StoredLinks> {
        Arc::clone(&self.links.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}
