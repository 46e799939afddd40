//! Queries: a builder ([`Query`]), typed filters, a cost-based planner, an executor,
//! aggregates and `group_by`.

pub(crate) mod aggregate;
pub(crate) mod exec;
pub(crate) mod filter;
pub(crate) mod group;
pub(crate) mod plan;
pub(crate) mod stats;
pub(crate) mod workload;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::catalog::Source;
use crate::codec::KeyCodec;
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::read::{self, Reader};
use crate::relation::{Eager, Relation};
use crate::row::entity_name;
use crate::transaction::{ReadTx, WriteTx};
use aggregate::{Agg, AggSet, Summable};
use exec::{Exec, Probe};
use filter::{Filter, Node, Order};
use group::{GroupBy, GroupKey};
use plan::{Access, Plan, Request, Step};

/// A query over the rows of `T`, built by value (`q = q.limit(10)`) and run by
/// one of `all`, `first`, `count`, `exists`, `keys`, `iter`, the aggregates, or
/// `group_by`.
#[must_use]
pub struct Query<'tx, T> {
    pub(crate) reader: Reader<'tx>,
    pub(crate) filter: Option<Node<T>>,
    pub(crate) order: Vec<Order<T>>,
    pub(crate) limit: Option<usize>,
    pub(crate) offset: usize,
    pub(crate) with: Vec<Arc<dyn Eager<T>>>,
}

impl<T> Clone for Query<'_, T> {
    fn clone(&self) -> Self {
        Query {
            reader: self.reader,
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            with: self.with.clone(),
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
    /// Counts the query in the workload when the iterator is dropped.
    observed: Option<IterObserved<'tx>>,
}

/// A query run through an iterator, counted when the iterator is dropped: only the
/// time and rows of its own `next` calls (and of its start), not the caller's work
/// between them (nor the queries the caller runs per row).
struct IterObserved<'tx> {
    reader: Reader<'tx>,
    hash: u64,
    info: Option<workload::ShapeInfo>,
    measure: workload::Measure,
}

impl<T> Iterator for QueryIter<'_, T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        let Some(o) = &mut self.observed else { return self.inner.next() };
        let (start, decoded) = (Instant::now(), o.reader.counters.rows_decoded.get());
        let next = self.inner.next();
        o.measure.time += start.elapsed();
        o.measure.examined += o.reader.counters.rows_decoded.get().saturating_sub(decoded);
        if let Some(Ok(_)) = &next {
            o.measure.returned += 1;
        }
        next
    }
}

impl<T> Drop for QueryIter<'_, T> {
    fn drop(&mut self) {
        if let Some(o) = self.observed.take() {
            let wl = o.reader.workload;
            let known = !matches!(wl.status(o.hash, o.measure.time), workload::Status::New);
            let plan = o.info.as_ref().map(|i| i.plan.clone());
            wl.record(o.hash, if known { None } else { o.info }, plan, o.measure);
        }
    }
}

/// A query being measured for the workload analyzer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observe {
    hash: u64,
    terminal: workload::Terminal,
    start: Instant,
    decoded: u64,
}

impl Observe {
    fn measure(&self, reader: &Reader<'_>, returned: u64, counted: u64) -> workload::Measure {
        let examined = reader.counters.rows_decoded.get().saturating_sub(self.decoded) + counted;
        workload::Measure { time: self.start.elapsed(), examined, returned }
    }
}

impl<T> std::fmt::Debug for QueryIter<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryIter")
    }
}

/// A planned query.
pub(crate) struct Prepared<'tx, T> {
    pub(crate) exec: Exec<'tx, T>,
    pub(crate) sort: bool,
}

/// A row with its arrival number, ordered by the query's ordering, for the top-k heap.
struct Ranked<'o, T> {
    row: T,
    seq: usize,
    order: &'o [Order<T>],
}

fn compare<T>(order: &[Order<T>], a: &T, b: &T) -> Ordering {
    for o in order {
        let c = (o.cmp)(a, b);
        let c = if o.desc { c.reverse() } else { c };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

impl<T> PartialEq for Ranked<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Ranked<'_, T> {}
impl<T> PartialOrd for Ranked<'_, T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Ranked<'_, T> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(self.order, &self.row, &other.row).then(self.seq.cmp(&other.seq))
    }
}

impl ReadTx {
    /// A query over the rows of `T`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&Task { id: 1, done: true })?;
    ///     tx.insert(&Task { id: 2, done: false })
    /// })?;
    /// let tx = db.begin_read()?;
    /// let open = tx.query::<Task>().filter(Task::DONE.eq(false)).keys()?;
    /// assert_eq!(open, [2]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn query<T: Entity>(&self) -> Query<'_, T> {
        Query::new(self.reader())
    }
}

impl WriteTx {
    /// A query over the rows of `T`, as this transaction sees them.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&Task { id: 1 })?;
    ///     // The transaction sees its own writes before it commits.
    ///     assert_eq!(tx.query::<Task>().count()?, 1);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn query<T: Entity>(&self) -> Query<'_, T> {
        Query::new(self.reader())
    }

    /// Deletes every row of `T` that matches `filter`, with each row's `on_delete`
    /// rules, as one statement: all of them or, on error, none. Returns how many
    /// rows were deleted.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, done: id % 2 == 1 }).map(drop)))?;
    /// let deleted = db.write(|tx| tx.delete_where(Task::DONE.eq(true)))?;
    /// assert_eq!(deleted, 3);
    /// assert_eq!(db.read(|tx| tx.query::<Task>().keys())?, [2, 4]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`delete`](Self::delete), and [`Error::Restrict`] when a protected row
    /// still has children once the deletes and their cascades have run.
    pub fn delete_where<T: Entity>(&mut self, filter: Filter<T>) -> Result<u64> {
        let mut keys = Vec::new();
        for row in self.query::<T>().filter(filter).iter()? {
            let row = row?;
            let mut kb = Vec::with_capacity(16);
            crate::row::encode_key::<T>(&row.key(), &mut kb)?;
            keys.push(kb);
        }
        self.delete_keys::<T>(&keys)
    }
}

impl<'tx, T: Entity> Query<'tx, T> {
    pub(crate) fn new(reader: Reader<'tx>) -> Self {
        Query { reader, filter: None, order: Vec::new(), limit: None, offset: 0, with: Vec::new() }
    }

    /// Loads a relation of every result in one batched pass (`.with(Post::AUTHOR)`,
    /// nested: `.with(User::POSTS.then(Post::TAGS))`), instead of one lazy load per
    /// row. The results are then collected before they are returned.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct User { #[drift(primary_key)] id: u64, name: String }
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Post {
    /// #     #[drift(primary_key)] id: u64,
    /// #     author_id: u64,
    /// #     #[drift(belongs_to(User, key = author_id, on_delete = cascade))] author: BelongsTo<User>,
    /// # }
    /// let db = Db::builder().entity::<User>().entity::<Post>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&User { id: 1, name: "Ann".into() })?;
    ///     tx.insert(&Post { id: 1, author_id: 1, ..Default::default() })
    /// })?;
    /// let posts = db.read(|tx| tx.query::<Post>().with(Post::AUTHOR).all())?;
    /// assert_eq!(posts[0].author.loaded().map(|u| u.name.as_str()), Some("Ann"));
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn with<R: Entity>(mut self, relation: Relation<T, R>) -> Self {
        self.with.push(Arc::new(relation));
        self
    }

    /// Keeps the rows that match `filter` (and any filter given before).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=6).try_for_each(|id| tx.insert(&Task { id, points: id as u32, done: id > 3 }).map(drop)))?;
    /// let keys = db.read(|tx| {
    ///     tx.query::<Task>()
    ///         .filter(Task::POINTS.gte(2))
    ///         .filter(Task::DONE.eq(false) | Task::ID.eq(6)) // `&`, `|` and `!` combine filters
    ///         .keys()
    /// })?;
    /// assert_eq!(keys, [2, 3, 6]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn filter(mut self, filter: Filter<T>) -> Self {
        self.filter = Some(match self.filter.take() {
            None => filter.node,
            Some(prev) => (Filter { node: prev } & filter).node,
        });
        self
    }

    /// Orders the results; later calls add tie-breakers.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     for (id, points) in [(1, 5), (2, 8), (3, 5)] {
    ///         tx.insert(&Task { id, points })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// let by_points = db.read(|tx| {
    ///     tx.query::<Task>().order_by(Task::POINTS.desc()).order_by(Task::ID.desc()).keys()
    /// })?;
    /// assert_eq!(by_points, [2, 3, 1]); // 8 points, then the two with 5, higher key first
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn order_by(mut self, order: Order<T>) -> Self {
        self.order.push(order);
        self
    }

    /// Returns at most `n` rows.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id }).map(drop)))?;
    /// let top = db.read(|tx| tx.query::<Task>().order_by(Task::ID.desc()).limit(3).keys())?;
    /// assert_eq!(top, [10, 9, 8]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id }).map(drop)))?;
    /// // The second page of four.
    /// let page = db.read(|tx| tx.query::<Task>().offset(4).limit(4).keys())?;
    /// assert_eq!(page, [5, 6, 7, 8]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    pub(crate) fn check_operands(&self) -> Result<()> {
        match self.filter.as_ref().and_then(Node::operand_error) {
            Some((field, source)) => {
                Err(Error::Key { entity: entity_name::<T>(), field, key: "(filter operand)".into(), source })
            }
            None => Ok(()),
        }
    }

    pub(crate) fn prepare_with(
        &self,
        order_fields: &[usize],
        keys_only: bool,
        probe: Option<Rc<Probe>>,
    ) -> Result<Prepared<'tx, T>> {
        self.check_operands()?;
        let info = read::info::<T>(self.reader.catalog)?;
        let conj = plan::conjuncts(self.filter.as_ref());
        let needed = self.limit.map(|l| (l as u64).saturating_add(self.offset as u64));
        let req = Request { order: order_fields, needed, keys_only };
        let chosen = plan::choose::<T>(&self.reader, info, &conj, &req)?;
        let consumed = chosen.consumed().to_vec();
        let residual =
            conj.iter().enumerate().filter(|(i, _)| !consumed.contains(i)).map(|(_, n)| (*n).clone()).collect();
        let (reverse, sort) = match plan::order_served(&chosen, &self.order) {
            Some(rev) => (rev, false),
            None => (false, true),
        };
        Ok(Prepared { exec: Exec { reader: self.reader, info, chosen, reverse, residual, probe }, sort })
    }

    fn prepare(&self, keys_only: bool, probe: Option<Rc<Probe>>) -> Result<Prepared<'tx, T>> {
        let fields: Vec<usize> = self.order.iter().map(|o| o.field).collect();
        self.prepare_with(&fields, keys_only, probe)
    }

    pub(crate) fn describe(&self, p: &Prepared<'tx, T>, index_only: bool) -> Plan {
        let info = p.exec.info;
        let schema = info.schema;
        let fname = |i: usize| schema.fields[i].name.to_string();
        let chosen = &p.exec.chosen;
        let path = &chosen.paths[0];
        let access = if chosen.union {
            Access::IndexUnion { indexes: chosen.paths.iter().map(|p| p.name(info)).collect() }
        } else {
            match path.source {
                Source::Table if path.point => Access::KeyLookup,
                Source::Table if path.consumed.is_empty() => Access::FullScan,
                Source::Table => Access::KeyRange,
                Source::Index(i, true) if path.point => {
                    Access::UniqueLookup { index: schema.indexes[i].name.to_string() }
                }
                Source::Index(i, _) => Access::IndexRange { index: schema.indexes[i].name.to_string() },
            }
        };
        let residual = if p.exec.residual.is_empty() {
            None
        } else {
            Some(p.exec.residual.iter().map(ToString::to_string).collect::<Vec<_>>().join(" AND "))
        };
        let mut advice = Vec::new();
        if access == Access::FullScan && chosen.table_rows > 1000 {
            for n in &p.exec.residual {
                if let Node::Pred(pr) = n {
                    let ranged = matches!(
                        pr.op,
                        filter::Op::Eq
                            | filter::Op::Lt
                            | filter::Op::Lte
                            | filter::Op::Gt
                            | filter::Op::Gte
                            | filter::Op::Between
                            | filter::Op::StartsWith
                            | filter::Op::InList
                    );
                    if ranged {
                        advice.push(format!(
                            "add `#[drift(index)]` to `{}` of {}: this query scans all {} rows",
                            pr.name, schema.name, chosen.table_rows
                        ));
                    }
                }
            }
        }
        let keep = self.limit.map(|l| l.saturating_add(self.offset));
        Plan {
            entity: schema.name.to_string(),
            access,
            equality_fields: if chosen.union { Vec::new() } else { path.eq_fields.iter().map(|&i| fname(i)).collect() },
            range_field: if chosen.union { None } else { path.range_field.map(fname) },
            residual,
            sort: p.sort,
            order: self.order.iter().map(|o| format!("{o:?}")).collect(),
            top_k: if p.sort { keep } else { None },
            reverse: p.exec.reverse,
            index_only,
            estimated_rows: chosen.estimated,
            table_rows: chosen.table_rows,
            offset: self.offset,
            limit: self.limit,
            group: None,
            having: None,
            advice,
            steps: Vec::new(),
            total_time: None,
        }
    }

    /// The plan this query would run with, without running it.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=100).try_for_each(|id| tx.insert(&Task { id, points: id as u32, done: false }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let plan = tx.query::<Task>().filter(Task::POINTS.gt(90) & Task::DONE.eq(false)).explain()?;
    /// assert_eq!(plan.access, drift::Access::IndexRange { index: "points".into() });
    /// assert_eq!(plan.range_field.as_deref(), Some("points"));
    /// assert_eq!(plan.residual.as_deref(), Some("done = false")); // checked on each row
    /// println!("{plan}");
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Key`] for an operand that cannot be encoded, [`Error::Storage`].
    pub fn explain(&self) -> Result<Plan> {
        let p = self.prepare(false, None)?;
        Ok(self.describe(&p, false))
    }

    /// Runs the query and returns its plan with the actual rows and time of each
    /// step (`access`, `filter`, `sort`, `limit`).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id, done: id > 7 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let plan = tx.query::<Task>().filter(Task::DONE.eq(true)).explain_analyze()?;
    /// assert_eq!(plan.access, drift::Access::FullScan);
    /// assert_eq!(plan.step("access").map(|s| s.rows), Some(10)); // rows read
    /// assert_eq!(plan.step("filter").map(|s| s.rows), Some(3)); // rows kept
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`all`](Self::all).
    pub fn explain_analyze(&self) -> Result<Plan> {
        let probe = Rc::new(Probe::default());
        let start = Instant::now();
        let p = self.prepare(false, Some(Rc::clone(&probe)))?;
        let mut plan = self.describe(&p, false);
        let has_residual = !p.exec.residual.is_empty();
        let sort = p.sort;
        let mut sort_time = std::time::Duration::ZERO;
        let n = {
            let rows = self.run(p, &mut sort_time)?;
            let mut n = 0u64;
            for r in rows {
                r?;
                n += 1;
            }
            n
        };
        plan.steps.push(Step { name: "access", rows: probe.access_rows.get(), time: probe.access_time.get() });
        if has_residual {
            plan.steps.push(Step { name: "filter", rows: probe.filter_rows.get(), time: probe.filter_time.get() });
        }
        if sort {
            plan.steps.push(Step { name: "sort", rows: n, time: sort_time });
        }
        plan.steps.push(Step { name: "limit", rows: n, time: std::time::Duration::ZERO });
        plan.total_time = Some(start.elapsed());
        Ok(plan)
    }

    fn run(
        &self,
        p: Prepared<'tx, T>,
        sort_time: &mut std::time::Duration,
    ) -> Result<Box<dyn Iterator<Item = Result<T>> + 'tx>> {
        let offset = self.offset;
        let limit = self.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            // Nothing to return: nothing is read (as `drive` does).
            return Ok(Box::new(std::iter::empty()));
        }
        if !p.sort {
            return Ok(Box::new(p.exec.rows()?.skip(offset).take(limit)));
        }
        let sorted = self.sorted(&p, sort_time)?;
        Ok(Box::new(sorted.into_iter().skip(offset).take(limit).map(Ok)))
    }

    /// The matching rows in the query's order, when the access path does not give
    /// it: a top-k heap of `offset + limit` rows when there is a limit, else all of
    /// them sorted. (Offset and limit are left to the caller.)
    fn sorted(&self, p: &Prepared<'tx, T>, sort_time: &mut std::time::Duration) -> Result<Vec<T>> {
        let start = Instant::now();
        let order = &self.order[..];
        let sorted: Vec<T> = match self.limit {
            Some(l) => {
                // Top-k: keep the offset + limit smallest rows in a max-heap.
                let keep = l.saturating_add(self.offset);
                let mut heap = BinaryHeap::with_capacity(keep.min(4096) + 1);
                let mut seq = 0;
                p.exec.for_each_row(&mut |row| {
                    heap.push(Ranked { row, seq, order });
                    seq += 1;
                    if heap.len() > keep {
                        heap.pop();
                    }
                    Ok(true)
                })?;
                heap.into_sorted_vec().into_iter().map(|r| r.row).collect()
            }
            None => {
                let mut all = Vec::new();
                p.exec.for_each_row(&mut |row| {
                    all.push(row);
                    Ok(true)
                })?;
                all.sort_by(|a, b| compare(order, a, b));
                all
            }
        };
        *sort_time = start.elapsed();
        Ok(sorted)
    }

    /// Calls `f` with each result in order (after offset and limit) until it
    /// returns `false`: rows are decoded straight from the store, without the
    /// iterator layers of [`iter`](Self::iter).
    fn drive(&self, p: Prepared<'tx, T>, f: &mut dyn FnMut(T) -> Result<bool>) -> Result<()> {
        let limit = self.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(());
        }
        let mut skip = self.offset;
        let mut n = 0usize;
        let mut each = |row: T| {
            if skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            n += 1;
            Ok(f(row)? && n < limit)
        };
        if p.sort {
            let mut t = std::time::Duration::ZERO;
            for row in self.sorted(&p, &mut t)? {
                if !each(row)? {
                    break;
                }
            }
            return Ok(());
        }
        p.exec.for_each_row(&mut each)
    }

    /// Starts measuring this query for the workload analyzer, when it is on.
    fn observe(&self, terminal: workload::Terminal) -> Option<Observe> {
        if !self.reader.workload.enabled() {
            return None;
        }
        let hash = workload::shape_hash(
            std::any::TypeId::of::<T>(),
            self.filter.as_ref(),
            &self.order,
            self.limit.is_some(),
            self.offset > 0,
            terminal,
        );
        Some(Observe { hash, terminal, start: Instant::now(), decoded: self.reader.counters.rows_decoded.get() })
    }

    /// The description of this query's shape, with `plan`.
    fn shape_info(&self, terminal: workload::Terminal, plan: String) -> workload::ShapeInfo {
        self.shape_info_grouped(terminal, &[], plan)
    }

    fn shape_info_grouped(&self, terminal: workload::Terminal, group: &[usize], plan: String) -> workload::ShapeInfo {
        let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
        let (limit, offset) = (self.limit.is_some(), self.offset > 0);
        workload::shape_info(schema, self.filter.as_ref(), &self.order, limit, offset, terminal, group, plan)
    }

    /// Starts measuring this query as the rows of a `group_by` over `group`.
    pub(crate) fn observe_group(&self, group: &[usize]) -> Option<Observe> {
        self.observe(workload::Terminal::Group).map(|mut o| {
            o.hash = workload::group_hash(o.hash, group);
            o
        })
    }

    /// A plan as `explain` prints it, capped.
    fn plan_text(plan: Result<Plan>) -> String {
        let mut text = plan.map_or_else(|e| format!("(not planned: {e})"), |p| p.to_string());
        workload::cap_text(&mut text, workload::MAX_PLAN_TEXT);
        text
    }

    /// Counts a finished call of this query in the workload (and, with the `tracing`
    /// feature, reports it; a slow call as a warning with its plan).
    fn observed(&self, o: Option<Observe>, returned: u64, counted: u64) {
        self.observed_as(o, &[], returned, counted, || self.explain());
    }

    /// Counts a finished call (of a `group_by` over `group` when it is not empty) that
    /// returned (or aggregated) `returned` rows; `plan` describes it when wanted.
    pub(crate) fn observed_as(
        &self,
        o: Option<Observe>,
        group: &[usize],
        returned: u64,
        counted: u64,
        plan: impl Fn() -> Result<Plan>,
    ) {
        let Some(o) = o else { return };
        let m = o.measure(&self.reader, returned, counted);
        let wl = self.reader.workload;
        let status = wl.status(o.hash, m.time);
        let described = status.wants_plan(wl.is_slow(m.time)).then(|| Self::plan_text(plan()));
        let info = (status == workload::Status::New)
            .then(|| self.shape_info_grouped(o.terminal, group, described.clone().unwrap_or_default()));
        #[cfg(feature = "tracing")]
        {
            let entity = entity_name::<T>();
            let micros = u64::try_from(m.time.as_micros()).unwrap_or(u64::MAX);
            let shape = || self.shape_info_grouped(o.terminal, group, String::new()).shape;
            if wl.is_slow(m.time) {
                let (shape, plan) = (shape(), described.as_deref().unwrap_or_default());
                tracing::warn!(target: "drift::slow_query", entity, %shape, micros, rows_examined = m.examined, rows_returned = m.returned, "slow query:\n{plan}");
            } else if tracing::enabled!(target: "drift::query", tracing::Level::DEBUG) {
                // The plan's access line ("Index range on `author_id` ..."), when this
                // call described it; else planned again: debug logging pays.
                let text = described.clone().unwrap_or_else(|| Self::plan_text(plan()));
                let access = text.lines().rev().find(|l| !l.trim_start().starts_with("advice:")).unwrap_or_default();
                let (shape, access) = (shape(), access.trim());
                tracing::debug!(target: "drift::query", entity, %shape, %access, micros, rows_examined = m.examined, rows_returned = m.returned, "query");
            }
        }
        wl.record(o.hash, info, described, m);
    }

    /// All results, with the relations named by `with` loaded.
    fn collect(&self) -> Result<Vec<T>> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("drift.query", entity = entity_name::<T>()).entered();
        let o = self.observe(workload::Terminal::Rows);
        let all = self.collect_rows()?;
        self.observed(o, all.len() as u64, 0);
        Ok(all)
    }

    fn collect_rows(&self) -> Result<Vec<T>> {
        let p = self.prepare(false, None)?;
        let mut all = Vec::new();
        self.drive(p, &mut |row| {
            all.push(row);
            Ok(true)
        })?;
        for loader in &self.with {
            loader.load(self.reader, &mut all)?;
        }
        Ok(all)
    }

    /// Streams the results: rows are read and decoded as the iterator advances,
    /// unless an `order_by` that the access path cannot serve forces a sort (a
    /// top-k heap of `offset + limit` rows when there is a limit).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=1_000).try_for_each(|id| tx.insert(&Task { id, points: 1 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let mut total = 0;
    /// for task in tx.query::<Task>().iter()? {
    ///     total += task?.points; // one row decoded at a time
    /// }
    /// assert_eq!(total, 1_000);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`explain`](Self::explain); each item may carry a decode or storage error.
    pub fn iter(&self) -> Result<QueryIter<'tx, T>> {
        if !self.with.is_empty() {
            return Ok(QueryIter { inner: Box::new(self.collect()?.into_iter().map(Ok)), observed: None });
        }
        let observe = self.observe(workload::Terminal::Rows);
        let p = self.prepare(false, None)?;
        // Described now when new: the iterator has no query to describe when dropped.
        let info = observe
            .filter(|o| self.reader.workload.wants_description(o.hash))
            .map(|o| self.shape_info(o.terminal, self.describe(&p, false).to_string()));
        let mut t = std::time::Duration::ZERO;
        let inner = self.run(p, &mut t)?;
        // Its start (planning, and the sort when the path does not give the order).
        let observed = observe.map(|o| IterObserved {
            reader: self.reader,
            hash: o.hash,
            info,
            measure: o.measure(&self.reader, 0, 0),
        });
        Ok(QueryIter { inner, observed })
    }

    /// All results.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=3).try_for_each(|id| tx.insert(&Task { id, done: id == 2 }).map(drop)))?;
    /// let done = db.read(|tx| tx.query::<Task>().filter(Task::DONE.eq(true)).all())?;
    /// assert_eq!(done, [Task { id: 2, done: true }]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn all(&self) -> Result<Vec<T>> {
        self.collect()
    }

    /// The first result, if any.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: 10 - id as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let lowest = tx.query::<Task>().order_by(Task::POINTS.asc()).first()?;
    /// assert_eq!(lowest, Some(Task { id: 5, points: 5 }));
    /// assert_eq!(tx.query::<Task>().filter(Task::POINTS.gt(9)).first()?, None);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn first(&self) -> Result<Option<T>> {
        // Within the query's own limit: `limit(0).first()` has no row.
        let n = self.limit.map_or(1, |l| l.min(1));
        self.clone().limit(n).iter()?.next().transpose()
    }

    /// Whether any row matches.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1, done: false }))?;
    /// let tx = db.begin_read()?;
    /// assert!(tx.query::<Task>().filter(Task::DONE.eq(false)).exists()?);
    /// assert!(!tx.query::<Task>().filter(Task::DONE.eq(true)).exists()?);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn exists(&self) -> Result<bool> {
        let n = self.limit.map_or(1, |l| l.min(1));
        Ok(self.clone().limit(n).count()? > 0)
    }

    /// The number of matching rows (after offset and limit). Answered from the
    /// table's length or from index entries, decoding no row, when the access path
    /// enforces the whole filter.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id, points: id as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// assert_eq!(tx.query::<Task>().count()?, 10);
    /// assert_eq!(tx.query::<Task>().filter(Task::POINTS.lte(4)).count()?, 4);
    /// assert_eq!(tx.query::<Task>().limit(3).count()?, 3);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn count(&self) -> Result<u64> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("drift.query", entity = entity_name::<T>()).entered();
        let o = self.observe(workload::Terminal::Count);
        let (n, counted) = self.count_rows()?;
        self.observed(o, n, counted);
        Ok(n)
    }

    /// The number of matching rows, and how many index entries or keys were counted
    /// to find it (rows decoded are counted apart).
    fn count_rows(&self) -> Result<(u64, u64)> {
        let p = self.prepare_with(&[], true, None)?;
        let mut counted = 0u64;
        let skip = self.offset as u64;
        let take = self.limit.map_or(u64::MAX, |l| l as u64);
        let cap = skip.saturating_add(take);
        let total: u64 = if p.exec.residual.is_empty() {
            let path = &p.exec.chosen.paths[0];
            if !p.exec.chosen.union && matches!(path.source, Source::Table) && path.consumed.is_empty() {
                self.reader.store.len(p.exec.info.table)?
            } else {
                let mut n = 0u64;
                for k in p.exec.keys()? {
                    k?;
                    n += 1;
                    if n >= cap {
                        break;
                    }
                }
                counted = n;
                n
            }
        } else {
            let mut n = 0u64;
            p.exec.for_each_row(&mut |_| {
                n += 1;
                Ok(n < cap)
            })?;
            n
        };
        Ok((total.saturating_sub(skip).min(take), counted))
    }

    /// The primary keys of the results, in result order.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, points: id as u32 % 2 }).map(drop)))?;
    /// let odd = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.eq(1)).keys())?;
    /// assert_eq!(odd, [1, 3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn keys(&self) -> Result<Vec<T::Key>> {
        self.iter()?.map(|r| r.map(|e| e.key())).collect()
    }

    /// Computes aggregates over the matching rows (after offset and limit) in one
    /// pass. One aggregate returns its value: `q.aggregate(count())` is a `u64`. A
    /// tuple returns the tuple of values: `q.aggregate((count(), sum(F), avg(F)))` is a
    /// `(u64, u64, Option<f64>)`. `count` and `sum` give a value (0 when no row
    /// matches); `avg`, `min` and `max` give an `Option`, `None` when no row matches.
    ///
    /// ```
    /// use drift_core::{Entity, Field, ReadTx, Result, avg, count, max, sum};
    ///
    /// // For any entity with a `u32` field, such as `Post::LIKES`.
    /// fn popular<P: Entity>(tx: &ReadTx, likes: Field<P, u32>) -> Result<(u64, u64, Option<f64>, Option<u32>)> {
    ///     let q = tx.query::<P>().filter(likes.gt(50));
    ///     let n: u64 = q.aggregate(count())?;
    ///     let total: u64 = q.aggregate(sum(likes))?;
    ///     let mean: Option<f64> = q.aggregate(avg(likes))?;
    ///     let top: Option<u32> = q.aggregate(max(likes))?;
    ///     Ok((n, total, mean, top))
    /// }
    /// ```
    ///
    /// # Errors
    /// [`Error::Overflow`] when an integer sum does not fit its type, and as
    /// [`iter`](Self::iter).
    pub fn aggregate<A: AggSet<T>>(&self, aggs: A) -> Result<A::Output> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("drift.query", entity = entity_name::<T>()).entered();
        let o = self.observe(workload::Terminal::Aggregate);
        let mut accs = aggs.init();
        let (mut counted, mut matched) = (0, 0u64);
        if aggs.needs_rows() {
            let p = self.prepare(false, None)?;
            self.drive(p, &mut |row| {
                matched += 1;
                aggs.update(&mut accs, &row)?;
                Ok(true)
            })?;
        } else {
            let (n, c) = self.count_rows()?;
            (counted, matched) = (c, n);
            aggs.add_rows(&mut accs, n);
        }
        let out = aggs.finish(&accs)?;
        self.observed(o, matched, counted);
        Ok(out)
    }

    fn one<A: Agg<T>>(&self, agg: A) -> Result<A::Output> {
        self.aggregate((agg,)).map(|(v,)| v)
    }

    /// The exact total of a numeric field over the matching rows (0 when none).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// assert_eq!(tx.query::<Task>().sum(Task::POINTS)?, 100);
    /// assert_eq!(tx.query::<Task>().filter(Task::ID.gt(9)).sum(Task::POINTS)?, 0);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Overflow`] when the total does not fit, and as [`iter`](Self::iter).
    pub fn sum<V: Summable + std::fmt::Debug>(&self, field: Field<T, V>) -> Result<V::Sum> {
        self.one(aggregate::sum(field))
    }

    /// The mean of a numeric field over the matching rows, `None` when none match.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, points: id as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// assert_eq!(tx.query::<Task>().avg(Task::POINTS)?, Some(2.5));
    /// assert_eq!(tx.query::<Task>().filter(Task::ID.gt(9)).avg(Task::POINTS)?, None);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`sum`](Self::sum).
    pub fn avg<V: Summable + std::fmt::Debug>(&self, field: Field<T, V>) -> Result<Option<f64>> {
        self.one(aggregate::avg(field))
    }

    /// The smallest value of a field over the matching rows.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&Task { id: 1, title: "write".into() })?;
    ///     tx.insert(&Task { id: 2, title: "plan".into() })
    /// })?;
    /// let tx = db.begin_read()?;
    /// assert_eq!(tx.query::<Task>().min(Task::TITLE)?.as_deref(), Some("plan"));
    /// assert_eq!(tx.query::<Task>().filter(Task::ID.gt(9)).min(Task::TITLE)?, None);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn min<V: KeyCodec + Clone + std::fmt::Debug + Send + Sync + 'static>(
        &self,
        field: Field<T, V>,
    ) -> Result<Option<V>> {
        self.one(aggregate::min(field))
    }

    /// The largest value of a field over the matching rows.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// assert_eq!(tx.query::<Task>().max(Task::POINTS)?, Some(40));
    /// assert_eq!(tx.query::<Task>().filter(Task::ID.lt(3)).max(Task::POINTS)?, Some(20));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`iter`](Self::iter).
    pub fn max<V: KeyCodec + Clone + std::fmt::Debug + Send + Sync + 'static>(
        &self,
        field: Field<T, V>,
    ) -> Result<Option<V>> {
        self.one(aggregate::max(field))
    }

    /// Groups the matching rows by one field (`group_by(F)`) or several
    /// (`group_by((F1, F2))`); then `.aggregate(...)`, `.having(...)`,
    /// `.order_by(...)`, `.limit(...)`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: String, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     for (id, owner, points) in [(1, "ann", 3), (2, "bob", 5), (3, "ann", 4)] {
    ///         tx.insert(&Task { id, owner: owner.into(), points })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// let tx = db.begin_read()?;
    /// let per_owner = tx.query::<Task>().group_by(Task::OWNER).aggregate((count(), sum(Task::POINTS))).all()?;
    /// assert_eq!(per_owner, [("ann".to_string(), (2, 7)), ("bob".to_string(), (1, 5))]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn group_by<G: GroupKey<T>>(self, key: G) -> GroupBy<'tx, T, G> {
        GroupBy::new(self, key)
    }
}
