//! Queries: a builder ([`Query`]), typed filters, a planner and an executor.

pub(crate) mod filter;
pub(crate) mod plan;

use std::cmp::Ordering;
use std::ops::Bound;

use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::read::{self, Reader, entity_name, render_key};
use crate::stats::Counters;
use crate::storage::{Guard, RawRange};
use filter::{Filter, Node, Order};
use plan::{Access, Path, Plan, Source};

/// A query over the rows of `T`, built by value (`q = q.limit(10)`) and run by
/// one of `all`, `first`, `count`, `exists`, `keys` or `iter`.
#[must_use]
pub struct Query<'tx, T> {
    reader: Reader<'tx>,
    filter: Option<Node<T>>,
    order: Vec<Order<T>>,
    limit: Option<usize>,
    offset: usize,
}

impl<T> Clone for Query<'_, T> {
    fn clone(&self) -> Self {
        Query {
            reader: self.reader,
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
        }
    }
}

impl<T> std::fmt::Debug for Query<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Query")
            .field("filter", &self.filter.as_ref().map(ToString::to_string))
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}

/// A streaming iterator over query results.
pub struct QueryIter<'tx, T> {
    inner: Box<dyn Iterator<Item = Result<T>> + 'tx>,
}

impl<T> Iterator for QueryIter<'_, T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        self.inner.next()
    }
}

impl<T> std::fmt::Debug for QueryIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryIter")
    }
}

/// Extracts the primary key from an access-path entry (index number, key, value).
type KeyOf = fn(usize, &Guard<'_>, &Guard<'_>) -> Result<Vec<u8>>;

/// A planned query, ready to run.
struct Prepared<'q, T> {
    path: Path,
    reverse: bool,
    sort: bool,
    residual: Vec<&'q Node<T>>,
    estimated: u64,
}

fn is_empty_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => {
            a >= b
        }
        _ => false,
    }
}

impl<'tx, T: Entity> Query<'tx, T> {
    pub(crate) fn new(reader: Reader<'tx>) -> Self {
        Query { reader, filter: None, order: Vec::new(), limit: None, offset: 0 }
    }

    /// Keeps the rows that match `filter` (and any filter given before).
    pub fn filter(mut self, filter: Filter<T>) -> Self {
        self.filter = Some(match self.filter.take() {
            None => filter.node,
            Some(prev) => (Filter { node: prev } & filter).node,
        });
        self
    }

    /// Orders the results; later calls add tie-breakers.
    pub fn order_by(mut self, order: Order<T>) -> Self {
        self.order.push(order);
        self
    }

    /// Returns at most `n` rows.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    fn prepare(&self) -> Result<Prepared<'_, T>> {
        if let Some((field, source)) = self.filter.as_ref().and_then(Node::operand_error) {
            return Err(Error::Key { entity: entity_name::<T>(), field, key: "(filter operand)".into(), source });
        }
        let info = read::info::<T>(self.reader.catalog)?;
        let conj = plan::conjuncts(self.filter.as_ref());
        let rows = self.reader.store.len(info.table)?;
        let (path, estimated) = plan::choose(info, &conj, rows);
        let residual = conj.iter().enumerate().filter(|(i, _)| !path.consumed.contains(i)).map(|(_, n)| *n).collect();
        let (reverse, sort) = match plan::order_served(&path, &self.order) {
            Some(rev) => (rev, false),
            None => (false, true),
        };
        Ok(Prepared { path, reverse, sort, residual, estimated })
    }

    /// The plan this query would run with, without running it.
    ///
    /// # Errors
    /// [`Error::Key`] for an operand that cannot be encoded, [`Error::Storage`].
    pub fn explain(&self) -> Result<Plan> {
        let p = self.prepare()?;
        let info = read::info::<T>(self.reader.catalog)?;
        let schema = info.schema;
        let fname = |i: usize| schema.fields[i].name.to_string();
        let access = match p.path.source {
            Source::Table if p.path.point => Access::KeyLookup,
            Source::Table if p.path.consumed.is_empty() => Access::FullScan,
            Source::Table => Access::KeyRange,
            Source::Index(i, true) if p.path.point => {
                Access::UniqueLookup { index: schema.indexes[i].name.to_string() }
            }
            Source::Index(i, _) => Access::IndexRange { index: schema.indexes[i].name.to_string() },
        };
        let residual = if p.residual.is_empty() {
            None
        } else {
            Some(p.residual.iter().map(ToString::to_string).collect::<Vec<_>>().join(" AND "))
        };
        let mut advice = Vec::new();
        if access == Access::FullScan && p.estimated > 1000 {
            for n in &p.residual {
                if let Node::Pred(pr) = n {
                    advice
                        .push(format!("add `#[drift(index)]` to `{}` to avoid scanning {} rows", pr.name, p.estimated));
                }
            }
        }
        Ok(Plan {
            entity: schema.name.to_string(),
            access,
            equality_fields: p.path.eq_fields.iter().map(|&i| fname(i)).collect(),
            range_field: p.path.range_field.map(fname),
            residual,
            sort: p.sort,
            reverse: p.reverse,
            estimated_rows: p.estimated,
            advice,
        })
    }

    /// Streams the primary keys (as stored bytes) from the access path, before the
    /// residual filter.
    fn raw_keys(&self, p: &Prepared<'_, T>) -> Result<Box<dyn Iterator<Item = Result<Vec<u8>>> + 'tx>> {
        let info = read::info::<T>(self.reader.catalog)?;
        let store = self.reader.store;
        let counters = self.reader.counters;
        let path = &p.path;
        if is_empty_range(&path.lo, &path.hi) {
            return Ok(Box::new(std::iter::empty()));
        }
        let lo = path.lo.as_ref().map(Vec::as_slice);
        let hi = path.hi.as_ref().map(Vec::as_slice);
        let (tid, key_of): (_, KeyOf) = match path.source {
            Source::Table => (info.table, |_, k, _| Ok(k.bytes().to_vec())),
            Source::Index(i, true) => (info.indexes[i], |_, _, v| Ok(v.bytes().to_vec())),
            Source::Index(i, false) => (info.indexes[i], |i, k, _| {
                let mut rest = k.bytes();
                T::__skip_index(i, &mut rest).map_err(|e| Error::Decode {
                    entity: entity_name::<T>(),
                    key: crate::error::hex(k.bytes()),
                    reason: format!("index entry: {e}"),
                })?;
                Ok(rest.to_vec())
            }),
        };
        let idx = match path.source {
            Source::Index(i, _) => i,
            Source::Table => 0,
        };
        if matches!(path.source, Source::Table) {
            Counters::bump(&counters.table_scans);
        } else {
            Counters::bump(&counters.index_scans);
        }
        let range: RawRange<'tx> = store.range(tid, lo, hi)?;
        let it: Box<dyn Iterator<Item = Result<(Guard<'tx>, Guard<'tx>)>> + 'tx> =
            if p.reverse { Box::new(range.rev()) } else { Box::new(range) };
        Ok(Box::new(it.map(move |r| r.and_then(|(k, v)| key_of(idx, &k, &v)))))
    }

    /// Streams the matching rows in path order (no sort, no offset, no limit).
    fn rows(&self, p: &Prepared<'_, T>) -> Result<Box<dyn Iterator<Item = Result<T>> + 'tx>> {
        let info = read::info::<T>(self.reader.catalog)?;
        let store = self.reader.store;
        let counters = self.reader.counters;
        let residual: Vec<Node<T>> = p.residual.iter().map(|n| (*n).clone()).collect();
        let matches = move |row: &T| residual.iter().all(|n| n.eval(row));
        if let Source::Table = p.path.source {
            // Rows come with the scan: no second lookup.
            if is_empty_range(&p.path.lo, &p.path.hi) {
                return Ok(Box::new(std::iter::empty()));
            }
            Counters::bump(&counters.table_scans);
            let lo = p.path.lo.as_ref().map(Vec::as_slice);
            let hi = p.path.hi.as_ref().map(Vec::as_slice);
            let range = store.range(info.table, lo, hi)?;
            let it: Box<dyn Iterator<Item = Result<(Guard<'tx>, Guard<'tx>)>> + 'tx> =
                if p.reverse { Box::new(range.rev()) } else { Box::new(range) };
            return Ok(Box::new(it.filter_map(move |r| {
                match r.and_then(|(k, v)| read::decode::<T>(counters, k.bytes(), v.bytes())) {
                    Ok(row) if matches(&row) => Some(Ok(row)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            })));
        }
        let keys = self.raw_keys(p)?;
        let reader = self.reader;
        Ok(Box::new(keys.filter_map(move |k| {
            let r = k.and_then(|k| {
                let info = read::info::<T>(reader.catalog)?;
                match reader.get_raw::<T>(info, &k)? {
                    Some(row) => Ok(Some(row)),
                    None => Err(Error::Decode {
                        entity: entity_name::<T>(),
                        key: render_key::<T>(&k),
                        reason: "an index entry points at a missing row".into(),
                    }),
                }
            });
            match r {
                Ok(Some(row)) if matches(&row) => Some(Ok(row)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })))
    }

    fn compare(order: &[Order<T>], a: &T, b: &T) -> Ordering {
        for o in order {
            let c = (o.cmp)(a, b);
            let c = if o.desc { c.reverse() } else { c };
            if c != Ordering::Equal {
                return c;
            }
        }
        Ordering::Equal
    }

    /// Streams the results: rows are read and decoded as the iterator advances,
    /// unless an `order_by` that the access path cannot serve forces a sort.
    ///
    /// # Errors
    /// As [`explain`](Self::explain); each item may carry a decode or storage error.
    pub fn iter(&self) -> Result<QueryIter<'tx, T>> {
        let p = self.prepare()?;
        let rows = self.rows(&p)?;
        let offset = self.offset;
        let limit = self.limit.unwrap_or(usize::MAX);
        if !p.sort {
            return Ok(QueryIter { inner: Box::new(rows.skip(offset).take(limit)) });
        }
        let keep = limit.saturating_add(offset);
        let mut all: Vec<T> = Vec::new();
        for r in rows {
            all.push(r?);
        }
        let order = self.order.clone();
        if keep < all.len() {
            all.select_nth_unstable_by(keep, |a, b| Self::compare(&order, a, b));
            all.truncate(keep);
        }
        all.sort_by(|a, b| Self::compare(&order, a, b));
        Ok(QueryIter { inner: Box::new(all.into_iter().skip(offset).take(limit).map(Ok)) })
    }

    /// All results.
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn all(&self) -> Result<Vec<T>> {
        self.iter()?.collect()
    }

    /// The first result, if any.
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn first(&self) -> Result<Option<T>> {
        self.clone().limit(1).iter()?.next().transpose()
    }

    /// Whether any row matches.
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn exists(&self) -> Result<bool> {
        Ok(self.count_up_to(1)? > 0)
    }

    /// The number of matching rows (after offset and limit). Counted from the
    /// access path without decoding rows when no residual filter remains.
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn count(&self) -> Result<u64> {
        self.count_up_to(u64::MAX)
    }

    fn count_up_to(&self, cap: u64) -> Result<u64> {
        let p = self.prepare()?;
        let skip = self.offset as u64;
        let take = self.limit.map_or(u64::MAX, |l| l as u64).min(cap);
        let total: u64 = if p.residual.is_empty() {
            if p.path.consumed.is_empty() && matches!(p.path.source, Source::Table) {
                let info = read::info::<T>(self.reader.catalog)?;
                self.reader.store.len(info.table)?
            } else {
                let mut n = 0u64;
                for k in self.raw_keys(&p)? {
                    k?;
                    n += 1;
                    if n >= skip.saturating_add(take) {
                        break;
                    }
                }
                n
            }
        } else {
            let mut n = 0u64;
            for r in self.rows(&p)? {
                r?;
                n += 1;
                if n >= skip.saturating_add(take) {
                    break;
                }
            }
            n
        };
        Ok(total.saturating_sub(skip).min(take))
    }

    /// The primary keys of the results, in result order.
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn keys(&self) -> Result<Vec<T::Key>> {
        self.iter()?.map(|r| r.map(|e| e.key())).collect()
    }
}
