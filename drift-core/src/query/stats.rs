//! Planner statistics: row counts and distinct-value estimates.
//!
//! - Row count per table: the engine's table length where it keeps one (redb does:
//!   exact and free), else a count.
//! - Distinct values of the leading field of each index (and of a composite primary
//!   key): counted by a skip scan that seeks from one value to the next, so it costs
//!   one seek per distinct value, stopping at [`DISTINCT_CAP`] (the count is then a
//!   lower bound, which is all the planner needs: such a field is selective). Counts
//!   live in memory per `Db`, are computed on first use and recomputed when the
//!   table's length has moved by more than a quarter since.
//! - Ranges are estimated by an index dive: the entries in the range are counted up
//!   to [`DIVE_CAP`]; beyond that the estimate falls back to a fixed fraction.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Mutex;

use crate::codec::{KeyError, prefix_successor};
use crate::error::Result;
use crate::storage::{ReadAccess, TableId};

/// Distinct values counted before a skip scan stops.
pub(crate) const DISTINCT_CAP: u64 = 1024;
/// Entries counted by a range dive before the estimate falls back to a fraction.
pub(crate) const DIVE_CAP: u64 = 256;

#[derive(Debug, Clone, Copy)]
struct Distinct {
    rows_at: u64,
    count: u64,
}

/// Distinct-value counts per (table, field position), shared by a database's
/// transactions.
#[derive(Debug, Default)]
pub(crate) struct PlannerStats {
    distinct: Mutex<HashMap<(TableId, usize), Distinct>>,
}

impl PlannerStats {
    /// Distinct values of the leading field of table `tid` (`skip` skips one value),
    /// cached while the row count stays within a quarter of what it was.
    pub(crate) fn distinct(
        &self,
        store: &dyn ReadAccess,
        tid: TableId,
        field: usize,
        rows: u64,
        skip: &dyn Fn(&mut &[u8]) -> Result<(), KeyError>,
    ) -> Result<u64> {
        let key = (tid, field);
        let cached = self.distinct.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key).copied();
        if let Some(d) = cached {
            let drift = rows.abs_diff(d.rows_at);
            if drift <= d.rows_at / 4 {
                return Ok(d.count.max(1));
            }
        }
        let count = skip_scan(store, tid, skip)?;
        self.distinct
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, Distinct { rows_at: rows, count });
        Ok(count.max(1))
    }
}

/// Counts distinct leading values by seeking past each one, up to [`DISTINCT_CAP`].
fn skip_scan(store: &dyn ReadAccess, tid: TableId, skip: &dyn Fn(&mut &[u8]) -> Result<(), KeyError>) -> Result<u64> {
    let mut count = 0;
    let mut from: Option<Vec<u8>> = None;
    while count < DISTINCT_CAP {
        let lo = from.as_deref().map_or(Bound::Unbounded, Bound::Included);
        let mut range = store.range(tid, lo, Bound::Unbounded)?;
        let Some(entry) = range.next() else { break };
        let (k, _) = entry?;
        let bytes = k.bytes();
        let mut rest = bytes;
        if skip(&mut rest).is_err() {
            break;
        }
        count += 1;
        match prefix_successor(&bytes[..bytes.len() - rest.len()]) {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    Ok(count)
}

/// Counts the entries of a range, stopping at `cap`.
pub(crate) fn dive(store: &dyn ReadAccess, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>, cap: u64) -> Result<u64> {
    let mut n = 0;
    for entry in store.range(tid, lo, hi)? {
        entry?;
        n += 1;
        if n >= cap {
            break;
        }
    }
    Ok(n)
}
