//! `group_by`: streaming over an index whose leading fields are the grouping
//! fields (constant memory), hash aggregation otherwise.

use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::Bound;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use crate::catalog::Source;
use crate::codec::{KeyCodec, KeyError};
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::aggregate::{AggOrder, AggSet, DynAcc, DynAgg, Having, Scalar};
use crate::query::exec::{Exec, Probe};
use crate::query::filter::Order;
use crate::query::plan::{GroupStrategy, Path, Plan, Step};
use crate::row::entity_name;

/// Groups by their encoded key (hashed with foldhash, seeded per process).
type Groups<G> = HashMap<Vec<u8>, G, foldhash::quality::RandomState>;

/// The fields a query is grouped by: one [`Field`] or a tuple of them.
pub trait GroupKey<T>: Clone + Send + Sync + 'static {
    /// The group key: the field's type, or the tuple of the fields' types.
    type Key: KeyCodec + Clone + Debug + Send + Sync + 'static;
    #[doc(hidden)]
    fn fields(&self) -> Vec<usize>;
    #[doc(hidden)]
    fn extract(&self, row: &T) -> Self::Key;
    /// Encodes the row's group key without cloning it.
    #[doc(hidden)]
    fn encode_from(&self, row: &T, out: &mut Vec<u8>) -> Result<(), KeyError>;
    /// Encodes component `j` of a key (for ordering groups by one grouping field).
    #[doc(hidden)]
    fn component(&self, key: &Self::Key, j: usize, out: &mut Vec<u8>) -> Result<(), KeyError>;
}

impl<T: 'static, V: KeyCodec + Clone + Debug + Send + Sync + 'static> GroupKey<T> for Field<T, V> {
    type Key = V;
    fn fields(&self) -> Vec<usize> {
        vec![self.position]
    }
    fn extract(&self, row: &T) -> V {
        self.get(row).clone()
    }
    fn encode_from(&self, row: &T, out: &mut Vec<u8>) -> Result<(), KeyError> {
        self.get(row).encode_key(out)
    }
    fn component(&self, key: &V, _j: usize, out: &mut Vec<u8>) -> Result<(), KeyError> {
        key.encode_key(out)
    }
}

macro_rules! group_tuple {
    ($($v:ident $i:tt),+) => {
        impl<T: 'static, $($v: KeyCodec + Clone + Debug + Send + Sync + 'static),+> GroupKey<T> for ($(Field<T, $v>,)+) {
            type Key = ($($v,)+);
            fn fields(&self) -> Vec<usize> {
                vec![$(self.$i.position),+]
            }
            fn extract(&self, row: &T) -> Self::Key {
                ($(self.$i.get(row).clone(),)+)
            }
            fn encode_from(&self, row: &T, out: &mut Vec<u8>) -> Result<(), KeyError> {
                $(self.$i.get(row).encode_key(out)?;)+
                Ok(())
            }
            fn component(&self, key: &Self::Key, j: usize, out: &mut Vec<u8>) -> Result<(), KeyError> {
                match j {
                    $($i => key.$i.encode_key(out),)+
                    _ => Ok(()),
                }
            }
        }
    };
}
group_tuple!(A 0, B 1);
group_tuple!(A 0, B 1, C 2);
group_tuple!(A 0, B 1, C 2, D 3);

/// A query grouped by `G`, waiting for its aggregates.
#[must_use]
pub struct GroupBy<'tx, T, G> {
    query: Query<'tx, T>,
    key: G,
}

impl<T, G: Debug> Debug for GroupBy<'_, T, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupBy").field("query", &self.query).field("key", &self.key).finish()
    }
}

impl<'tx, T: Entity, G: GroupKey<T>> GroupBy<'tx, T, G> {
    pub(crate) fn new(query: Query<'tx, T>, key: G) -> Self {
        GroupBy { query, key }
    }

    /// The aggregates computed per group: one (`count()`, each group's value a `u64`)
    /// or a tuple (`(count(), sum(F), ...)`, each group's value the tuple of values).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] done: bool, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, done: id > 3, points: id as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let counts = tx.query::<Task>().group_by(Task::DONE).aggregate(count()).all()?;
    /// assert_eq!(counts, [(false, 3), (true, 2)]);
    /// let top = tx.query::<Task>().group_by(Task::DONE).aggregate((count(), max(Task::POINTS))).all()?;
    /// assert_eq!(top, [(false, (3, Some(3))), (true, (2, Some(5)))]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn aggregate<A: AggSet<T>>(self, aggs: A) -> Grouped<'tx, T, G, A> {
        Grouped {
            query: self.query,
            key: self.key,
            aggs,
            having: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: 0,
            matched: std::cell::Cell::new(0),
        }
    }
}

/// How groups are ordered.
enum GroupOrd<T> {
    /// By component `j` of the group key.
    Key(usize, bool, &'static str),
    /// By an aggregate.
    Agg(Arc<dyn DynAgg<T>>, bool),
}

impl<T> Clone for GroupOrd<T> {
    fn clone(&self) -> Self {
        match self {
            GroupOrd::Key(j, d, n) => GroupOrd::Key(*j, *d, n),
            GroupOrd::Agg(a, d) => GroupOrd::Agg(Arc::clone(a), *d),
        }
    }
}

/// An ordering of groups: a grouping field's `asc()`/`desc()` or an aggregate's.
pub trait GroupOrder<T> {
    #[doc(hidden)]
    fn resolve(self, fields: &[usize]) -> Result<GroupOrdering<T>, &'static str>;
}

/// A resolved group ordering (opaque).
pub struct GroupOrdering<T>(GroupOrd<T>);

/// Shows the ordering as `explain` does: `age DESC`, `sum(likes) ASC`.
impl<T> Debug for GroupOrdering<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            GroupOrd::Key(_, desc, name) => write!(f, "{name} {}", if *desc { "DESC" } else { "ASC" }),
            GroupOrd::Agg(agg, _) => f.write_str(&agg.describe()),
        }
    }
}

impl<T: Entity> GroupOrder<T> for Order<T> {
    fn resolve(self, fields: &[usize]) -> Result<GroupOrdering<T>, &'static str> {
        match fields.iter().position(|&f| f == self.field) {
            Some(j) => Ok(GroupOrdering(GroupOrd::Key(j, self.desc, self.name))),
            None => Err(self.name),
        }
    }
}

impl<T: 'static, A> GroupOrder<T> for AggOrder<A>
where
    AggOrder<A>: DynAgg<T> + 'static,
{
    fn resolve(self, _fields: &[usize]) -> Result<GroupOrdering<T>, &'static str> {
        let desc = self.is_desc();
        Ok(GroupOrdering(GroupOrd::Agg(Arc::new(self), desc)))
    }
}

/// A grouped query with its aggregates: `having`, `order_by`, `limit`, `offset`,
/// then `all`, `explain` or `explain_analyze`.
#[must_use]
pub struct Grouped<'tx, T, G, A> {
    query: Query<'tx, T>,
    key: G,
    aggs: A,
    having: Vec<Arc<dyn DynAgg<T>>>,
    order: Vec<Result<GroupOrdering<T>, &'static str>>,
    limit: Option<usize>,
    offset: usize,
    /// Rows aggregated by the last run (for the workload analyzer).
    matched: std::cell::Cell<u64>,
}

impl<T, G: Debug, A: Debug> Debug for Grouped<'_, T, G, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let having: Vec<String> = self.having.iter().map(|h| h.describe()).collect();
        f.debug_struct("Grouped")
            .field("query", &self.query)
            .field("key", &self.key)
            .field("aggs", &self.aggs)
            .field("having", &having)
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish()
    }
}

/// One group being accumulated.
struct Group<T, K, Accs> {
    key: K,
    accs: Accs,
    extra: Vec<Box<dyn DynAcc<T>>>,
}

/// A group being streamed: its encoded key, state, and rows counted from keys alone.
type Current<T, K, Accs> = Option<(Vec<u8>, Group<T, K, Accs>, u64)>;

/// A finished group and its sort key.
type Done<K, O> = (Vec<Vec<u8>>, K, O);

impl<'tx, T: Entity, G: GroupKey<T>, A: AggSet<T>> Grouped<'tx, T, G, A> {
    /// Keeps the groups whose aggregate passes: `having(count().gt(2))`. Several
    /// calls must all pass.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=7).try_for_each(|id| tx.insert(&Task { id, owner: (id % 3) as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let busy = tx.query::<Task>().group_by(Task::OWNER).aggregate(count()).having(count().gt(2)).all()?;
    /// assert_eq!(busy, [(1, 3)]); // owner 1 has three tasks, the others two
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn having<S>(mut self, predicate: Having<impl Scalar<T, Scalar = S> + Debug, S>) -> Self
    where
        S: PartialOrd + Clone + Debug + Send + Sync + 'static,
    {
        self.having.push(Arc::new(predicate));
        self
    }

    /// Orders the groups by a grouping field (`Post::AUTHOR_ID.desc()`) or an
    /// aggregate (`count().desc()`); later calls break ties. Default: group key
    /// ascending.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     for (id, owner) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 3)] {
    ///         tx.insert(&Task { id, owner })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// let tx = db.begin_read()?;
    /// let grouped = tx.query::<Task>().group_by(Task::OWNER).aggregate(count());
    /// assert_eq!(grouped.order_by(count().desc()).all()?, [(3, 3), (2, 2), (1, 1)]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn order_by(mut self, order: impl GroupOrder<T>) -> Self {
        let fields = self.key.fields();
        self.order.push(order.resolve(&fields));
        self
    }

    /// Returns at most `n` groups.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id, owner: (id % 4) as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let first_two = tx.query::<Task>().group_by(Task::OWNER).aggregate(count()).limit(2).all()?;
    /// assert_eq!(first_two, [(0, 2), (1, 3)]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` groups.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id, owner: (id % 4) as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let rest = tx.query::<Task>().group_by(Task::OWNER).aggregate(count()).offset(2).all()?;
    /// assert_eq!(rest, [(2, 3), (3, 2)]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn offset(mut self, n: usize) -> Self {
        self.offset = n;
        self
    }

    fn orders(&self) -> Result<Vec<GroupOrd<T>>> {
        self.order
            .iter()
            .map(|o| match o {
                Ok(g) => Ok(g.0.clone()),
                Err(field) => Err(Error::Query {
                    entity: entity_name::<T>(),
                    field,
                    reason: "a grouped query can only be ordered by a grouping field or an aggregate".into(),
                }),
            })
            .collect()
    }

    fn needs_rows(&self, residual: bool) -> Result<bool> {
        let extra = self.having.iter().any(|h| h.needs_rows())
            || self.orders()?.iter().any(|o| matches!(o, GroupOrd::Agg(a, _) if a.needs_rows()));
        Ok(residual || self.aggs.needs_rows() || extra)
    }

    /// Plans: streams when the path (or an index it may switch to) is ordered by the
    /// grouping fields. Returns the execution, whether it streams, and whether it
    /// reads keys only.
    fn prepare(&self, probe: Option<Rc<Probe>>) -> Result<(Exec<'tx, T>, bool, bool)> {
        // Which rows a limit keeps before grouping would depend on the access path the
        // planner picks: refused, not silently ignored.
        let row_window = [("limit", self.query.limit.is_some()), ("offset", self.query.offset > 0)];
        if let Some((field, _)) = row_window.iter().find(|(_, set)| *set) {
            return Err(Error::Query {
                entity: entity_name::<T>(),
                field,
                reason: format!(
                    "`{field}` before `group_by` is not applied to rows: call it after `.aggregate(..)`, \
                     where it applies to the groups, or narrow the rows with a filter"
                ),
            });
        }
        let fields = self.key.fields();
        let q = Query { limit: None, offset: 0, order: Vec::new(), ..self.query.clone() };
        let mut p = q.prepare_with(&[], !self.aggs.needs_rows(), probe)?;
        let exec = &mut p.exec;
        let mut streaming = !exec.chosen.union && exec.chosen.paths[0].ordered_by(&fields);
        let rows_needed = self.needs_rows(!exec.residual.is_empty())?;
        if !streaming && !rows_needed && !exec.chosen.union && exec.chosen.paths[0].consumed.is_empty() {
            // Counting every row: walk the entries of an index that leads with the
            // grouping fields instead of the table, decoding no row. (When rows are
            // needed, a sequential table scan with hashing beats an index walk that
            // looks each row up.)
            let info = exec.info;
            let schema = info.schema;
            let pos = |name: &str| schema.fields.iter().position(|f| f.name == name);
            for (i, idx) in schema.indexes.iter().enumerate() {
                let cols: Vec<usize> = idx.fields.iter().filter_map(|n| pos(n)).collect();
                if cols.starts_with(&fields) && info.nullable[i].is_none() {
                    let mut path = Path::full_scan(cols);
                    path.source = Source::Index(i, idx.unique);
                    exec.chosen.paths[0] = path;
                    streaming = true;
                    break;
                }
            }
        }
        let path = &exec.chosen.paths[0];
        let index_only = streaming
            && !self.needs_rows(!exec.residual.is_empty())?
            && path.columns.starts_with(&fields)
            && path.eq_fields.is_empty()
            && path.ranges.iter().all(|(lo, hi)| matches!((lo, hi), (Bound::Unbounded, Bound::Unbounded)));
        Ok((p.exec, streaming, index_only))
    }

    /// The plan, without running it.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let tx = db.begin_read()?;
    /// let plan = tx.query::<Task>().group_by(Task::OWNER).aggregate(count()).explain()?;
    /// // Rows come in `owner` order from its index: each group is finished in turn.
    /// assert_eq!(plan.group, Some(drift::GroupStrategy::Streaming { index: "owner".into() }));
    /// assert!(plan.index_only); // counted from index entries, no row decoded
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Query::explain`].
    pub fn explain(&self) -> Result<Plan> {
        let (exec, streaming, index_only) = self.prepare(None)?;
        Ok(self.describe(&exec, streaming, index_only))
    }

    fn describe(&self, exec: &Exec<'tx, T>, streaming: bool, index_only: bool) -> Plan {
        let prepared = crate::query::Prepared { exec: clone_exec(exec), sort: false };
        let mut plan = self.query.describe(&prepared, index_only);
        plan.group = Some(if streaming {
            GroupStrategy::Streaming { index: exec.chosen.paths[0].name(exec.info) }
        } else {
            GroupStrategy::Hash
        });
        let mut order: Vec<String> = Vec::new();
        for o in self.order.iter().flatten() {
            order.push(match &o.0 {
                GroupOrd::Key(_, d, n) => format!("{n} {}", if *d { "DESC" } else { "ASC" }),
                GroupOrd::Agg(a, _) => a.describe(),
            });
        }
        plan.sort = !order.is_empty();
        plan.order = order;
        plan.limit = self.limit;
        plan.offset = self.offset;
        if !self.having.is_empty() {
            let h: Vec<String> = self.having.iter().map(|h| h.describe()).collect();
            plan.having = Some(h.join(" AND "));
        }
        plan
    }

    /// Runs the query: `(group key, aggregates)` per group.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] owner: u32, points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     for (id, owner, points) in [(1, 1, 1), (2, 0, 2), (3, 1, 3), (4, 0, 4)] {
    ///         tx.insert(&Task { id, owner, points })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// let tx = db.begin_read()?;
    /// let per_owner = tx.query::<Task>().group_by(Task::OWNER).aggregate((sum(Task::POINTS), avg(Task::POINTS)));
    /// assert_eq!(per_owner.all()?, [(0, (6, Some(3.0))), (1, (4, Some(2.0)))]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Overflow`] on an integer sum that does not fit, [`Error::Query`] for
    /// an ordering on a field that is not grouped, and as [`Query::all`].
    pub fn all(&self) -> Result<Vec<(G::Key, A::Output)>> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("drift.query", entity = entity_name::<T>()).entered();
        let group = self.key.fields();
        let o = self.query.observe_group(&group);
        let (exec, streaming, index_only) = self.prepare(None)?;
        self.matched.set(0);
        let groups = self.run(&exec, streaming, index_only)?;
        // Index-only counts examine entries, not rows: what they counted.
        let counted = if index_only { self.matched.get() } else { 0 };
        self.query.observed_as(o, &group, self.matched.get(), counted, || self.explain());
        Ok(groups)
    }

    /// Runs the query and returns its plan with actual rows and time per step.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, owner: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=10).try_for_each(|id| tx.insert(&Task { id, owner: (id % 4) as u32 }).map(drop)))?;
    /// let tx = db.begin_read()?;
    /// let plan = tx.query::<Task>().group_by(Task::OWNER).aggregate(count()).explain_analyze()?;
    /// assert_eq!(plan.group, Some(drift::GroupStrategy::Hash)); // `owner` has no index
    /// assert_eq!(plan.step("access").map(|s| s.rows), Some(10));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`all`](Self::all).
    pub fn explain_analyze(&self) -> Result<Plan> {
        let probe = Rc::new(Probe::default());
        let start = Instant::now();
        let (exec, streaming, index_only) = self.prepare(Some(Rc::clone(&probe)))?;
        let mut plan = self.describe(&exec, streaming, index_only);
        let t = Instant::now();
        let groups = self.run(&exec, streaming, index_only)?;
        let group_time = t.elapsed().saturating_sub(probe.access_time.get() + probe.filter_time.get());
        plan.steps.push(Step { name: "access", rows: probe.access_rows.get(), time: probe.access_time.get() });
        if !exec.residual.is_empty() {
            plan.steps.push(Step { name: "filter", rows: probe.filter_rows.get(), time: probe.filter_time.get() });
        }
        plan.steps.push(Step { name: "group", rows: groups.len() as u64, time: group_time });
        plan.total_time = Some(start.elapsed());
        Ok(plan)
    }

    fn start_group(&self, key: G::Key, extra_aggs: &[Arc<dyn DynAgg<T>>]) -> Group<T, G::Key, A::Accs> {
        Group { key, accs: self.aggs.init(), extra: extra_aggs.iter().map(|a| a.start()).collect() }
    }

    fn finish(&self, g: &Group<T, G::Key, A::Accs>, orders: &[GroupOrd<T>]) -> Result<Option<Done<G::Key, A::Output>>> {
        let nh = self.having.len();
        for acc in &g.extra[..nh] {
            if !acc.test()? {
                return Ok(None);
            }
        }
        let mut sort = Vec::with_capacity(orders.len());
        let mut next_agg = nh;
        for o in orders {
            match o {
                GroupOrd::Key(j, _, name) => {
                    let mut out = Vec::new();
                    self.key.component(&g.key, *j, &mut out).map_err(|source| Error::Key {
                        entity: entity_name::<T>(),
                        field: name,
                        key: format!("{:?}", g.key),
                        source,
                    })?;
                    sort.push(out);
                }
                GroupOrd::Agg(..) => {
                    sort.push(g.extra[next_agg].sort_key()?);
                    next_agg += 1;
                }
            }
        }
        Ok(Some((sort, g.key.clone(), self.aggs.finish(&g.accs)?)))
    }

    fn run(&self, exec: &Exec<'tx, T>, streaming: bool, index_only: bool) -> Result<Vec<(G::Key, A::Output)>> {
        let orders = self.orders()?;
        let mut extra_aggs: Vec<Arc<dyn DynAgg<T>>> = self.having.clone();
        for o in &orders {
            if let GroupOrd::Agg(a, _) = o {
                extra_aggs.push(Arc::clone(a));
            }
        }
        let mut done: Vec<Done<G::Key, A::Output>> = Vec::new();
        let name = entity_name::<T>();
        if index_only {
            // Count from index entries alone: the entry starts with the group key.
            let path = exec.chosen.paths[0].clone();
            let mut cur: Current<T, G::Key, A::Accs> = None;
            exec.scan_path(&path, &mut |bytes, _| {
                // Encodings are prefix-free: an entry that starts with the current
                // group's key bytes belongs to it, without decoding.
                if let Some((ckb, _, n)) = &mut cur {
                    if bytes.starts_with(ckb) {
                        *n += 1;
                        return Ok(true);
                    }
                }
                let mut rest = bytes;
                let key = G::Key::decode_key(&mut rest).map_err(|err| Error::Decode {
                    entity: name,
                    key: crate::message::hex(bytes),
                    reason: format!("index entry: {err}"),
                })?;
                let kb = &bytes[..bytes.len() - rest.len()];
                match &mut cur {
                    Some((ckb, _, n)) if ckb.as_slice() == kb => *n += 1,
                    _ => {
                        if let Some((_, mut g, n)) = cur.take() {
                            self.add_rows(&mut g, n);
                            done.extend(self.finish(&g, &orders)?);
                        }
                        cur = Some((kb.to_vec(), self.start_group(key, &extra_aggs), 1));
                    }
                }
                Ok(true)
            })?;
            if let Some((_, mut g, n)) = cur.take() {
                self.add_rows(&mut g, n);
                done.extend(self.finish(&g, &orders)?);
            }
        } else if streaming {
            let mut cur: Current<T, G::Key, A::Accs> = None;
            let mut kb = Vec::new();
            exec.for_each_row(&mut |row| {
                kb.clear();
                self.key
                    .encode_from(&row, &mut kb)
                    .map_err(|source| key_err::<T, _>(&self.key.extract(&row), source))?;
                let same = matches!(&cur, Some((ckb, _, _)) if *ckb == kb);
                if !same {
                    if let Some((_, g, _)) = cur.take() {
                        done.extend(self.finish(&g, &orders)?);
                    }
                    cur = Some((kb.clone(), self.start_group(self.key.extract(&row), &extra_aggs), 0));
                }
                if let Some((_, g, _)) = &mut cur {
                    self.update(g, &row)?;
                }
                Ok(true)
            })?;
            if let Some((_, g, _)) = cur.take() {
                done.extend(self.finish(&g, &orders)?);
            }
        } else {
            // foldhash (seeded per process): the group keys are short encoded values,
            // hashed once per row; SipHash cost more than the aggregates.
            let mut groups: Groups<Group<T, G::Key, A::Accs>> = HashMap::default();
            let mut kb = Vec::new();
            exec.for_each_row(&mut |row| {
                kb.clear();
                self.key
                    .encode_from(&row, &mut kb)
                    .map_err(|source| key_err::<T, _>(&self.key.extract(&row), source))?;
                let g = match groups.get_mut(&kb) {
                    Some(g) => g,
                    None => groups
                        .entry(kb.clone())
                        .or_insert_with(|| self.start_group(self.key.extract(&row), &extra_aggs)),
                };
                self.update(g, &row)?;
                Ok(true)
            })?;
            let mut keyed: Vec<_> = groups.into_iter().collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, g) in &keyed {
                done.extend(self.finish(g, &orders)?);
            }
        }
        if !orders.is_empty() {
            // Stable: ties keep group-key order.
            done.sort_by(|a, b| {
                for (i, o) in orders.iter().enumerate() {
                    let (ka, kb) = (&a.0[i], &b.0[i]);
                    let c = match o {
                        GroupOrd::Key(_, desc, _) => {
                            let c = ka.cmp(kb);
                            if *desc { c.reverse() } else { c }
                        }
                        // An aggregate's key leads with a flag, 1 for a value with no
                        // key (NaN): compared first and never reversed, so such groups
                        // come last in either direction.
                        GroupOrd::Agg(_, desc) => ka.first().cmp(&kb.first()).then_with(|| {
                            let c = ka.get(1..).cmp(&kb.get(1..));
                            if *desc { c.reverse() } else { c }
                        }),
                    };
                    if c.is_ne() {
                        return c;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let limit = self.limit.unwrap_or(usize::MAX);
        Ok(done.into_iter().skip(self.offset).take(limit).map(|(_, k, o)| (k, o)).collect())
    }

    fn update(&self, g: &mut Group<T, G::Key, A::Accs>, row: &T) -> Result<()> {
        self.matched.set(self.matched.get() + 1);
        self.aggs.update(&mut g.accs, row)?;
        for acc in &mut g.extra {
            acc.update(row)?;
        }
        Ok(())
    }

    fn add_rows(&self, g: &mut Group<T, G::Key, A::Accs>, n: u64) {
        self.matched.set(self.matched.get() + n);
        self.aggs.add_rows(&mut g.accs, n);
        for acc in &mut g.extra {
            acc.add_rows(n);
        }
    }
}

fn key_err<T: Entity, K: Debug>(key: &K, source: KeyError) -> Error {
    Error::Key { entity: entity_name::<T>(), field: "group key", key: format!("{key:?}"), source }
}

fn clone_exec<'tx, T: Entity>(exec: &Exec<'tx, T>) -> Exec<'tx, T> {
    Exec {
        reader: exec.reader,
        info: exec.info,
        chosen: exec.chosen.clone(),
        reverse: exec.reverse,
        residual: exec.residual.clone(),
        probe: None,
    }
}
