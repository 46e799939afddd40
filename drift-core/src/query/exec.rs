//! Running a chosen access path: entries, keys and rows, with the residual filter,
//! and the probes that `explain_analyze` reads.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::catalog::EntityInfo;
use crate::catalog::Source;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::message::hex;
use crate::query::filter::Node;
use crate::query::plan::{Chosen, Path, Range, is_empty_range};
use crate::read::Reader;
use crate::row::{entity_name, render_key};
use crate::stats::Counters;
use crate::storage::{Guard, RawRange, Visit};

/// Rows and time measured per step by `explain_analyze`.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    pub(crate) access_rows: Cell<u64>,
    pub(crate) access_time: Cell<Duration>,
    pub(crate) filter_rows: Cell<u64>,
    pub(crate) filter_time: Cell<Duration>,
}

/// Times each `next` of an iterator into a probe cell, counting items.
fn timed<'a, I: Iterator + 'a>(
    it: I,
    probe: Option<Rc<Probe>>,
    pick: fn(&Probe) -> (&Cell<u64>, &Cell<Duration>),
) -> Box<dyn Iterator<Item = I::Item> + 'a> {
    match probe {
        None => Box::new(it),
        Some(p) => {
            let mut it = it;
            Box::new(std::iter::from_fn(move || {
                let start = Instant::now();
                let item = it.next();
                let (rows, time) = pick(&p);
                time.set(time.get() + start.elapsed());
                if item.is_some() {
                    rows.set(rows.get() + 1);
                }
                item
            }))
        }
    }
}

/// An entry of an access path: the entry's own key bytes and the row's key.
pub(crate) struct Entry<'tx> {
    pub(crate) raw: Guard<'tx>,
    pub(crate) value: Guard<'tx>,
}

/// A prepared execution of a query over `T`.
pub(crate) struct Exec<'tx, T> {
    pub(crate) reader: Reader<'tx>,
    pub(crate) info: &'tx EntityInfo,
    pub(crate) chosen: Chosen,
    pub(crate) reverse: bool,
    pub(crate) residual: Vec<Node<T>>,
    pub(crate) probe: Option<Rc<Probe>>,
}

impl<'tx, T: Entity> Exec<'tx, T> {
    fn tid(&self, path: &Path) -> usize {
        match path.source {
            Source::Table => self.info.table,
            Source::Index(i, _) => self.info.indexes[i],
        }
    }

    /// The raw entries of one path, over all its ranges, in path order.
    pub(crate) fn entries(&self, path: &Path) -> Result<Box<dyn Iterator<Item = Result<Entry<'tx>>> + 'tx>> {
        let store = self.reader.store;
        let counters = self.reader.counters;
        let tid = self.tid(path);
        let mut ranges: Vec<Range> = path.ranges.iter().filter(|(lo, hi)| !is_empty_range(lo, hi)).cloned().collect();
        if self.reverse {
            ranges.reverse();
        }
        let reverse = self.reverse;
        let is_table = matches!(path.source, Source::Table);
        let it = ranges.into_iter().flat_map(move |(lo, hi)| {
            Counters::bump(if is_table { &counters.table_scans } else { &counters.index_scans });
            let opened = store.range(tid, lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice));
            let it: Box<dyn Iterator<Item = Result<(Guard<'tx>, Guard<'tx>)>> + 'tx> = match opened {
                Ok(r) if reverse => Box::new(r.rev()),
                Ok(r) => Box::new(r),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            it.map(|r| r.map(|(raw, value)| Entry { raw, value }))
        });
        Ok(Box::new(it))
    }

    /// The primary key of the row an entry of `path` stands for.
    pub(crate) fn key_of(path: &Path, e: &Entry<'_>) -> Result<Vec<u8>> {
        Self::key_in(path, e.raw.bytes(), e.value.bytes()).map(<[u8]>::to_vec)
    }

    /// The primary key of the row that the entry `raw -> value` of `path` stands for,
    /// borrowed from the entry.
    fn key_in<'e>(path: &Path, raw: &'e [u8], value: &'e [u8]) -> Result<&'e [u8]> {
        match path.source {
            Source::Table => Ok(raw),
            Source::Index(_, true) => Ok(value),
            Source::Index(i, false) => {
                let mut rest = raw;
                T::__skip_index(i, &mut rest).map_err(|err| Error::Decode {
                    entity: entity_name::<T>(),
                    key: hex(raw),
                    reason: format!("index entry: {err}"),
                })?;
                Ok(rest)
            }
        }
    }

    /// Calls `f` with each entry (`raw -> value`, borrowed) of `path`, over all its
    /// ranges in path order, until `f` returns `false`. Returns whether it reached
    /// the end. No iterator layers, no copy of the entry: the loop that reads many
    /// rows.
    pub(crate) fn scan_path(&self, path: &Path, f: &mut Visit<'_>) -> Result<bool> {
        let counters = self.reader.counters;
        let tid = self.tid(path);
        let counter = if matches!(path.source, Source::Table) { &counters.table_scans } else { &counters.index_scans };
        let n = path.ranges.len();
        for i in 0..n {
            let (lo, hi) = &path.ranges[if self.reverse { n - 1 - i } else { i }];
            if is_empty_range(lo, hi) {
                continue;
            }
            Counters::bump(counter);
            let below_hi = |key: &[u8]| match hi {
                Bound::Included(h) => key <= h.as_slice(),
                Bound::Excluded(h) => key < h.as_slice(),
                Bound::Unbounded => true,
            };
            if let (true, Source::Table, Bound::Included(key)) = (path.point, path.source, lo)
                && below_hi(key)
            {
                // A key fixed by equality on every primary-key field: the range holds
                // that one key or nothing (encodings are prefix-free), so a point get
                // reads it without opening a range.
                if let Some(v) = self.reader.store.get(tid, key)? {
                    if !f(key, v.bytes())? {
                        return Ok(false);
                    }
                }
                continue;
            }
            let mut go = true;
            let lo = lo.as_ref().map(Vec::as_slice);
            let hi = hi.as_ref().map(Vec::as_slice);
            self.reader.store.scan(tid, lo, hi, self.reverse, &mut |k, v| {
                go = f(k, v)?;
                Ok(go)
            })?;
            if !go {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Calls `f` with each matching row (after the residual filter), in path order,
    /// until it returns `false`: what [`rows`](Self::rows) yields, read without
    /// iterator layers. (With a probe, or over a union, it walks `rows`.)
    pub(crate) fn for_each_row(&self, f: &mut dyn FnMut(T) -> Result<bool>) -> Result<()> {
        if self.probe.is_some() || self.chosen.union {
            for r in self.rows()? {
                if !f(r?)? {
                    break;
                }
            }
            return Ok(());
        }
        let residual = &self.residual;
        let mut emit = |row: T| if residual.iter().all(|n| n.eval(&row)) { f(row) } else { Ok(true) };
        let path = &self.chosen.paths[0];
        let counters = self.reader.counters;
        if matches!(path.source, Source::Table) {
            self.scan_path(path, &mut |k, v| emit(crate::row::decode::<T>(counters, k, v)?))?;
        } else {
            let reader = self.reader;
            let info = self.info;
            self.scan_path(path, &mut |k, v| {
                let pk = Self::key_in(path, k, v)?;
                match reader.get_scanned::<T>(info, pk)? {
                    Some(row) => emit(row),
                    None => Err(Error::Decode {
                        entity: entity_name::<T>(),
                        key: render_key::<T>(pk),
                        reason: "an index entry points at a missing row".into(),
                    }),
                }
            })?;
        }
        Ok(())
    }

    /// The rows of the one path of a plan without a union, as one iterator (see
    /// [`PathRows`]).
    fn path_iter(&self) -> PathRows<'tx, T> {
        let path = self.chosen.paths[0].clone();
        let mut ranges: Vec<Range> = path.ranges.iter().filter(|(lo, hi)| !is_empty_range(lo, hi)).cloned().collect();
        if self.reverse {
            ranges.reverse();
        }
        PathRows {
            reader: self.reader,
            info: self.info,
            tid: self.tid(&path),
            path,
            residual: self.residual.clone(),
            reverse: self.reverse,
            pending: ranges.into_iter(),
            current: None,
        }
    }

    /// Primary keys from the access path (a union is deduplicated and in key order),
    /// before the residual filter.
    pub(crate) fn keys(&self) -> Result<Box<dyn Iterator<Item = Result<Vec<u8>>> + 'tx>> {
        if self.chosen.union {
            let mut all = BTreeSet::new();
            for path in &self.chosen.paths {
                for e in self.entries(path)? {
                    all.insert(Self::key_of(path, &e?)?);
                }
            }
            let it: Box<dyn Iterator<Item = Vec<u8>>> =
                if self.reverse { Box::new(all.into_iter().rev()) } else { Box::new(all.into_iter()) };
            return Ok(timed(it.map(Ok), self.probe.clone(), |p| (&p.access_rows, &p.access_time)));
        }
        let path = self.chosen.paths[0].clone();
        let entries = self.entries(&path)?;
        let it = entries.map(move |e| e.and_then(|e| Self::key_of(&path, &e)));
        Ok(timed(it, self.probe.clone(), |p| (&p.access_rows, &p.access_time)))
    }

    /// Rows from the access path, decoded (before the residual filter).
    fn path_rows(&self) -> Result<Box<dyn Iterator<Item = Result<T>> + 'tx>> {
        let counters = self.reader.counters;
        if !self.chosen.union && matches!(self.chosen.paths[0].source, Source::Table) {
            // A table path reads rows as it goes: no second lookup.
            let entries = self.entries(&self.chosen.paths[0])?;
            let it =
                entries.map(move |e| e.and_then(|e| crate::row::decode::<T>(counters, e.raw.bytes(), e.value.bytes())));
            return Ok(timed(it, self.probe.clone(), |p| (&p.access_rows, &p.access_time)));
        }
        let reader = self.reader;
        let info = self.info;
        let keys = self.keys()?;
        Ok(Box::new(keys.map(move |k| {
            k.and_then(|k| match reader.get_scanned::<T>(info, &k)? {
                Some(row) => Ok(row),
                None => Err(Error::Decode {
                    entity: entity_name::<T>(),
                    key: render_key::<T>(&k),
                    reason: "an index entry points at a missing row".into(),
                }),
            })
        })))
    }

    /// Matching rows in path order.
    pub(crate) fn rows(&self) -> Result<Box<dyn Iterator<Item = Result<T>> + 'tx>> {
        if self.probe.is_none() && !self.chosen.union {
            return Ok(Box::new(self.path_iter()));
        }
        let rows = self.path_rows()?;
        if self.residual.is_empty() {
            return Ok(rows);
        }
        let residual = self.residual.clone();
        let probe = self.probe.clone();
        let it = rows.filter(move |r| match r {
            Ok(row) => {
                let start = probe.as_ref().map(|_| Instant::now());
                let keep = residual.iter().all(|n| n.eval(row));
                if let (Some(p), Some(s)) = (&probe, start) {
                    p.filter_time.set(p.filter_time.get() + s.elapsed());
                    if keep {
                        p.filter_rows.set(p.filter_rows.get() + 1);
                    }
                }
                keep
            }
            Err(_) => true,
        });
        Ok(Box::new(it))
    }
}

/// The matching rows of one access path, read and decoded as the iterator advances:
/// one iterator over the store's ranges in path order, with the residual filter
/// applied, in place of the stack of boxed and mapped iterators (what
/// [`Exec::rows`] streams when there is no probe and no union).
pub(crate) struct PathRows<'tx, T> {
    reader: Reader<'tx>,
    info: &'tx EntityInfo,
    tid: usize,
    path: Path,
    residual: Vec<Node<T>>,
    reverse: bool,
    /// The ranges not opened yet, in the order they are read.
    pending: std::vec::IntoIter<Range>,
    current: Option<RawRange<'tx>>,
}

impl<T: Entity> PathRows<'_, T> {
    /// The row an entry stands for: decoded from a table entry, read through the
    /// primary key of an index entry.
    fn row_of(&self, raw: &[u8], value: &[u8]) -> Result<T> {
        if matches!(self.path.source, Source::Table) {
            return crate::row::decode::<T>(self.reader.counters, raw, value);
        }
        let pk = Exec::<T>::key_in(&self.path, raw, value)?;
        match self.reader.get_scanned::<T>(self.info, pk)? {
            Some(row) => Ok(row),
            None => Err(Error::Decode {
                entity: entity_name::<T>(),
                key: render_key::<T>(pk),
                reason: "an index entry points at a missing row".into(),
            }),
        }
    }
}

impl<T: Entity> Iterator for PathRows<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        loop {
            let Some(current) = self.current.as_mut() else {
                let (lo, hi) = self.pending.next()?;
                let counters = self.reader.counters;
                Counters::bump(if matches!(self.path.source, Source::Table) {
                    &counters.table_scans
                } else {
                    &counters.index_scans
                });
                match self.reader.store.range(self.tid, lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice))
                {
                    Ok(r) => self.current = Some(r),
                    Err(e) => return Some(Err(e)),
                }
                continue;
            };
            let entry = if self.reverse { current.next_back() } else { current.next() };
            let Some(entry) = entry else {
                self.current = None;
                continue;
            };
            match entry.and_then(|(raw, value)| self.row_of(raw.bytes(), value.bytes())) {
                Ok(row) if !self.residual.iter().all(|n| n.eval(&row)) => {}
                other => return Some(other),
            }
        }
    }
}
