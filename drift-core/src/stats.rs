//! Counters of the storage work a transaction or a database did.

use std::cell::Cell;

/// Storage work done by one transaction so far (see `ReadTx::stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxStats {
    /// Point reads of a row or a unique-index entry.
    pub gets: u64,
    /// Range scans opened on an index.
    pub index_scans: u64,
    /// Range scans opened on a table of rows.
    pub table_scans: u64,
    /// Rows decoded into entities.
    pub rows_decoded: u64,
    /// Relations loaded lazily through an accessor.
    pub lazy_loads: u64,
    /// Reads answered from the decoded-entity cache.
    pub cache_hits: u64,
    /// Rows and index entries written or removed.
    pub writes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) gets: Cell<u64>,
    pub(crate) index_scans: Cell<u64>,
    pub(crate) table_scans: Cell<u64>,
    pub(crate) rows_decoded: Cell<u64>,
    pub(crate) lazy_loads: Cell<u64>,
    pub(crate) cache_hits: Cell<u64>,
    pub(crate) writes: Cell<u64>,
}

impl Counters {
    #[inline]
    pub(crate) fn bump(c: &Cell<u64>) {
        c.set(c.get() + 1);
    }

    pub(crate) fn snapshot(&self) -> TxStats {
        TxStats {
            gets: self.gets.get(),
            index_scans: self.index_scans.get(),
            table_scans: self.table_scans.get(),
            rows_decoded: self.rows_decoded.get(),
            lazy_loads: self.lazy_loads.get(),
            cache_hits: self.cache_hits.get(),
            writes: self.writes.get(),
        }
    }
}

/// Database-wide counters (see `Db::stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbStats {
    /// Write transactions committed.
    pub commits: u64,
    /// Write transactions rolled back (explicitly, by error, by panic or by drop).
    pub rollbacks: u64,
    /// Reads answered from the decoded-entity cache.
    pub cache_hits: u64,
    /// Cache look-ups that found no row valid for the reader's snapshot.
    pub cache_misses: u64,
}
