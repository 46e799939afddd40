//! The workload analyzer: every query a database runs is counted under its shape (the
//! entity, the filter's fields and operators without their values, the order, whether
//! it has a limit, what it returns), with its calls, total and worst time, rows
//! examined and returned, and the plan of its slowest call. [`Db::query_stats`]
//! reports them, and recommends the indexes that would help the workload as a whole,
//! as pg_stat_statements with an index advisor or MongoDB's performance advisor do.
//!
//! Recording a query costs two clock reads, one hash of its shape and one short lock
//! of one of 16 shards; the shape's text is built once, the first time it is seen.
//!
//! [`Db::query_stats`]: crate::Db::query_stats

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::query::filter::{Node, Op, Order};
use crate::schema::EntityDescriptor;

const SHARDS: usize = 16;

/// Shapes kept: a query of a shape beyond them is counted in
/// [`QueryStats::untracked_calls`] (filters built from request data, an `or` per id
/// asked for, say, would otherwise grow the record without bound).
const MAX_SHAPES: usize = 1024;

/// The longest shape text kept, in bytes; longer ones end with `…`.
const MAX_SHAPE_TEXT: usize = 400;

/// The longest plan text kept, in bytes.
pub(crate) const MAX_PLAN_TEXT: usize = 4096;

/// Cuts `text` to at most `max` bytes (on a character boundary) and an `…`, giving back
/// what the cut freed: a record holds what it keeps, not what it once grew to.
pub(crate) fn cap_text(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
        text.shrink_to_fit();
    }
}

/// The statistics of one query shape.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryShape {
    /// The entity queried.
    pub entity: String,
    /// The query with its values left out: `Post where author_id = ? and likes > ?
    /// order by likes desc limit ? (all)`.
    pub shape: String,
    /// The plan of its slowest call (as [`Query::explain`](crate::Query::explain)
    /// prints it).
    pub plan: String,
    /// How many times it ran.
    pub calls: u64,
    /// The time of all its calls.
    pub total_time: Duration,
    /// The time of its slowest call.
    pub worst_time: Duration,
    /// Rows read and decoded (or index entries counted) by all its calls.
    pub rows_examined: u64,
    /// Rows returned by all its calls; for a count or an aggregate, the rows it
    /// counted or aggregated (what matched its filter).
    pub rows_returned: u64,
    /// Calls at or over the slow-query threshold
    /// ([`DbBuilder::slow_query_threshold`](crate::DbBuilder::slow_query_threshold)).
    pub slow_calls: u64,
}

impl QueryShape {
    /// The mean time of a call.
    #[must_use]
    pub fn mean_time(&self) -> Duration {
        let calls = u32::try_from(self.calls.max(1)).unwrap_or(u32::MAX);
        self.total_time / calls
    }
}

/// An index the analyzer recommends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexAdvice {
    /// The entity to index.
    pub entity: String,
    /// The fields, in index order: fields compared for equality first, then the one
    /// compared by range (or ordered by).
    pub fields: Vec<String>,
    /// The attribute that declares it: `#[drift(index)]` on the field, or
    /// `#[drift(index(fields(a, b)))]` on the struct.
    pub attribute: String,
    /// Rows the workload so far examined without returning them, that the index
    /// would have let it skip: the advice's weight.
    pub rows_avoided: u64,
    /// The shapes it serves.
    pub shapes: Vec<String>,
}

/// What [`Db::query_stats`](crate::Db::query_stats) reports: the query shapes, most
/// total time first, and the recommended indexes, most rows avoided first.
///
/// ```
/// # use drift::prelude::*;
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Task { #[drift(primary_key)] id: u64, owner: u32 }
/// let db = Db::builder().entity::<Task>().in_memory()?;
/// db.write(|tx| (1..=1_000).try_for_each(|id| tx.insert(&Task { id, owner: (id % 100) as u32 }).map(drop)))?;
/// for owner in 0..5 {
///     db.read(|tx| tx.query::<Task>().filter(Task::OWNER.eq(owner)).all())?;
/// }
/// let stats = db.query_stats();
/// assert_eq!(stats.shapes[0].shape, "Task where owner = ? (rows)");
/// assert_eq!((stats.shapes[0].calls, stats.shapes[0].rows_examined), (5, 5_000));
/// // 10 rows of 1,000 per call: an index on `owner` would have avoided the rest.
/// assert_eq!(stats.advice[0].attribute, "#[drift(index)] on `owner`");
/// println!("{stats}");
/// # Ok::<(), drift::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryStats {
    /// One entry per query shape.
    pub shapes: Vec<QueryShape>,
    /// Indexes that would serve the workload's filters.
    pub advice: Vec<IndexAdvice>,
    /// Queries of shapes beyond the 1,024 kept.
    pub untracked_calls: u64,
}

impl fmt::Display for QueryStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>7} {:>10} {:>10} {:>10} {:>10}  shape", "calls", "total", "worst", "examined", "returned")?;
        for s in &self.shapes {
            writeln!(
                f,
                "{:>7} {:>10.3?} {:>10.3?} {:>10} {:>10}  {}",
                s.calls, s.total_time, s.worst_time, s.rows_examined, s.rows_returned, s.shape
            )?;
        }
        if self.untracked_calls > 0 {
            writeln!(f, "{:>7} calls of shapes beyond the 1,024 kept", self.untracked_calls)?;
        }
        for a in &self.advice {
            writeln!(
                f,
                "advice: {} `{}` ({}): would avoid {} rows, for {}",
                a.entity,
                a.fields.join(", "),
                a.attribute,
                a.rows_avoided,
                a.shapes.join("; ")
            )?;
        }
        Ok(())
    }
}

/// What a query returned: part of its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terminal {
    Rows,
    Count,
    Aggregate,
    Group,
}

/// A shape seen for the first time: its text and what the advisor needs.
#[derive(Debug, Clone)]
pub(crate) struct ShapeInfo {
    pub(crate) entity: &'static EntityDescriptor,
    pub(crate) shape: String,
    pub(crate) plan: String,
    /// Fields compared for equality (`eq`, `in_list`) by top-level conjuncts.
    pub(crate) eq: Vec<String>,
    /// The first field compared by range by a top-level conjunct.
    pub(crate) range: Option<String>,
    /// The first `order_by` field, when the query has a limit.
    pub(crate) order: Option<String>,
}

/// What the record knows of a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Seen; `wants_plan` when this call is its slowest (or slow).
    Known { wants_plan: bool },
    /// Not seen: describe it.
    New,
    /// Not seen, and no room for it: it is counted as untracked.
    Full,
}

impl Status {
    /// Whether the call's plan is worth describing: a new shape, the slowest call of a
    /// known one, or a `slow` call.
    pub(crate) fn wants_plan(self, slow: bool) -> bool {
        match self {
            Status::Known { wants_plan } => wants_plan,
            Status::New => true,
            Status::Full => slow,
        }
    }
}

/// One call's measures.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measure {
    pub(crate) time: Duration,
    pub(crate) examined: u64,
    pub(crate) returned: u64,
}

#[derive(Debug)]
struct Entry {
    info: ShapeInfo,
    calls: u64,
    total: Duration,
    worst: Duration,
    examined: u64,
    returned: u64,
    slow: u64,
}

/// A shape's hash is already a hash: taken as it is.
type Shard = Mutex<HashMap<u64, Entry, BuildHasherDefault<crate::catalog::TypeIdHasher>>>;

/// The per-database record of query shapes.
#[derive(Debug)]
pub(crate) struct Workload {
    enabled: bool,
    slow: Option<Duration>,
    shards: Vec<Shard>,
    untracked: std::sync::atomic::AtomicU64,
    /// Shapes kept, in all shards.
    shapes: std::sync::atomic::AtomicUsize,
}

impl Workload {
    pub(crate) fn new(enabled: bool, slow: Option<Duration>) -> Workload {
        Workload {
            enabled,
            slow,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            untracked: std::sync::atomic::AtomicU64::new(0),
            shapes: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled || self.slow.is_some()
    }

    fn shard(
        &self,
        hash: u64,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, Entry, BuildHasherDefault<crate::catalog::TypeIdHasher>>> {
        self.shards[(hash >> 59) as usize % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the shape `hash` is not kept yet and there is room for it: worth
    /// describing.
    pub(crate) fn wants_description(&self, hash: u64) -> bool {
        !self.shard(hash).contains_key(&hash) && self.shapes.load(Relaxed) < MAX_SHAPES
    }

    /// What the record knows of shape `hash` for a call of `time`.
    pub(crate) fn status(&self, hash: u64, time: Duration) -> Status {
        let shard = self.shard(hash);
        match shard.get(&hash) {
            None if self.shapes.load(Relaxed) >= MAX_SHAPES => Status::Full,
            None => Status::New,
            Some(e) => Status::Known { wants_plan: time > e.worst || self.is_slow(time) },
        }
    }

    /// Whether a call of `time` is slow.
    pub(crate) fn is_slow(&self, time: Duration) -> bool {
        self.slow.is_some_and(|s| time >= s)
    }

    /// Counts one call of shape `hash`. `info` is its description when the shape may
    /// be new; `plan` the plan of this call when it was described.
    pub(crate) fn record(&self, hash: u64, info: Option<ShapeInfo>, plan: Option<String>, m: Measure) {
        let slow = self.is_slow(m.time);
        let mut shard = self.shard(hash);
        let entry = match shard.get_mut(&hash) {
            Some(e) => e,
            None => match info {
                // Room for one more shape: take it, or count the call as untracked.
                Some(info)
                    if self.shapes.fetch_update(Relaxed, Relaxed, |n| (n < MAX_SHAPES).then_some(n + 1)).is_ok() =>
                {
                    shard.entry(hash).or_insert(Entry {
                        info,
                        calls: 0,
                        total: Duration::ZERO,
                        worst: Duration::ZERO,
                        examined: 0,
                        returned: 0,
                        slow: 0,
                    })
                }
                Some(_) => {
                    self.untracked.fetch_add(1, Relaxed);
                    return;
                }
                // Not described (reset meanwhile, or no room when it ran): counted as
                // untracked; the next call describes it again when there is room.
                None => {
                    self.untracked.fetch_add(1, Relaxed);
                    return;
                }
            },
        };
        entry.calls += 1;
        entry.total += m.time;
        entry.examined += m.examined;
        entry.returned += m.returned;
        entry.slow += u64::from(slow);
        if m.time > entry.worst {
            entry.worst = m.time;
            if let Some(plan) = plan {
                entry.info.plan = plan;
            }
        }
    }

    /// Forgets every shape.
    pub(crate) fn reset(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
        self.untracked.store(0, Relaxed);
        self.shapes.store(0, Relaxed);
    }

    /// The report: shapes by total time, and the index advice.
    pub(crate) fn report(&self) -> QueryStats {
        let mut entries: Vec<(ShapeInfo, QueryShape)> = Vec::new();
        for s in &self.shards {
            for e in s.lock().unwrap_or_else(PoisonError::into_inner).values() {
                let shape = QueryShape {
                    entity: e.info.entity.name.to_string(),
                    shape: e.info.shape.clone(),
                    plan: e.info.plan.clone(),
                    calls: e.calls,
                    total_time: e.total,
                    worst_time: e.worst,
                    rows_examined: e.examined,
                    rows_returned: e.returned,
                    slow_calls: e.slow,
                };
                entries.push((e.info.clone(), shape));
            }
        }
        entries.sort_by(|a, b| b.1.total_time.cmp(&a.1.total_time).then_with(|| a.1.shape.cmp(&b.1.shape)));
        let advice = advise(&entries);
        let untracked_calls = self.untracked.load(Relaxed);
        QueryStats { shapes: entries.into_iter().map(|(_, s)| s).collect(), advice, untracked_calls }
    }
}

/// The column lists of the primary key and of each index of `schema`.
fn column_lists(schema: &EntityDescriptor) -> impl Iterator<Item = &[crate::schema::Text]> + '_ {
    std::iter::once(&*schema.primary_key).chain(schema.indexes.iter().map(|i| &*i.fields))
}

/// Whether the first `eq.len()` of `cols` are the fields `eq`, in any order.
fn leads_with_set(cols: &[crate::schema::Text], eq: &[String]) -> bool {
    eq.len() <= cols.len() && eq.iter().all(|f| cols[..eq.len()].iter().any(|c| c == f))
}

/// The equality fields `eq` in index order. Equality fields can come in any order (the
/// filter's own order means nothing): first the longest run of them that leads an
/// existing index (or the primary key), so that the advice extends that index, then the
/// rest in the entity's field order, so that one set of fields is one advice.
fn index_order(schema: &EntityDescriptor, eq: &[String]) -> Vec<String> {
    let lead = |cols: &[crate::schema::Text]| cols.iter().take_while(|c| eq.iter().any(|f| f == &**c)).count();
    let mut out: Vec<String> = column_lists(schema)
        .max_by_key(|cols| lead(cols))
        .map(|cols| cols[..lead(cols)].iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    let position = |f: &String| schema.fields.iter().position(|d| d.name == *f).unwrap_or(usize::MAX);
    let mut rest: Vec<&String> = eq.iter().filter(|f| !out.contains(f)).collect();
    rest.sort_by_key(|f| position(f));
    out.extend(rest.into_iter().cloned());
    out
}

/// Whether an index (or the primary key) of `schema` leads with the equality fields
/// `eq` (in any order) followed by `next`: it exists already.
fn served(schema: &EntityDescriptor, eq: &[String], next: Option<&String>) -> bool {
    column_lists(schema)
        .any(|cols| leads_with_set(cols, eq) && next.is_none_or(|n| cols.get(eq.len()).is_some_and(|c| c == n)))
}

/// The indexes that would serve the workload: per shape that examined many more rows
/// than it returned, its equality fields then its range (or order) field, unless an
/// index already leads with them; an index that another one's fields start with is
/// folded into the longer one.
fn advise(entries: &[(ShapeInfo, QueryShape)]) -> Vec<IndexAdvice> {
    let mut candidates: Vec<IndexAdvice> = Vec::new();
    for (info, s) in entries {
        let wasted = s.rows_examined.saturating_sub(s.rows_returned);
        // Worth an index: on average more than 16 rows and twice the returned ones
        // read in vain.
        if wasted <= 16 * s.calls.max(1) || s.rows_examined <= 2 * s.rows_returned {
            continue;
        }
        let mut eq: Vec<String> = Vec::new();
        for f in &info.eq {
            if !eq.contains(f) {
                eq.push(f.clone());
            }
        }
        let next = info.range.as_ref().or(info.order.as_ref()).filter(|r| !eq.contains(r));
        if (eq.is_empty() && next.is_none()) || served(info.entity, &eq, next) {
            continue;
        }
        let mut fields = index_order(info.entity, &eq);
        fields.extend(next.cloned());
        let entity = info.entity.name.to_string();
        match candidates.iter_mut().find(|c| c.entity == entity && c.fields == fields) {
            Some(c) => {
                c.rows_avoided += wasted;
                c.shapes.push(s.shape.clone());
            }
            None => candidates.push(IndexAdvice {
                entity,
                attribute: attribute(&fields),
                fields,
                rows_avoided: wasted,
                shapes: vec![s.shape.clone()],
            }),
        }
    }
    // Fold a candidate into a longer one of the same entity that starts with it.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.fields.len()));
    let mut out: Vec<IndexAdvice> = Vec::new();
    for c in candidates {
        match out.iter_mut().find(|o| o.entity == c.entity && o.fields.starts_with(&c.fields)) {
            Some(o) => {
                o.rows_avoided += c.rows_avoided;
                o.shapes.extend(c.shapes);
            }
            None => out.push(c),
        }
    }
    out.sort_by(|a, b| b.rows_avoided.cmp(&a.rows_avoided).then_with(|| a.fields.cmp(&b.fields)));
    out
}

fn attribute(fields: &[String]) -> String {
    match fields {
        [one] => format!("#[drift(index)] on `{one}`"),
        many => format!("#[drift(index(fields({})))] on the struct", many.join(", ")),
    }
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Eq => "= ?",
        Op::Ne => "!= ?",
        Op::Lt => "< ?",
        Op::Lte => "<= ?",
        Op::Gt => "> ?",
        Op::Gte => ">= ?",
        Op::Between => "between ? and ?",
        Op::InList => "in (?)",
        Op::StartsWith => "starts with ?",
        Op::IsNone => "is none",
        Op::IsSome => "is some",
    }
}

fn node_text<T>(n: &Node<T>, out: &mut String) {
    let join = |v: &[Node<T>], sep: &str, out: &mut String| {
        out.push('(');
        for (i, c) in v.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            node_text(c, out);
        }
        out.push(')');
    };
    match n {
        Node::Pred(p) => {
            out.push_str(p.name);
            out.push(' ');
            out.push_str(op_text(p.op));
        }
        Node::And(v) => join(v, " and ", out),
        Node::Or(v) => join(v, " or ", out),
        Node::Not(c) => {
            out.push_str("not ");
            node_text(c, out);
        }
    }
}

fn node_hash<T>(n: &Node<T>, h: &mut foldhash::fast::FoldHasher) {
    match n {
        Node::Pred(p) => {
            h.write_u8(1);
            h.write_usize(p.field);
            h.write_u8(p.op as u8);
        }
        Node::And(v) | Node::Or(v) => {
            h.write_u8(if matches!(n, Node::And(_)) { 2 } else { 3 });
            h.write_usize(v.len());
            for c in v {
                node_hash(c, h);
            }
        }
        Node::Not(c) => {
            h.write_u8(4);
            node_hash(c, h);
        }
    }
}

/// The hash of a query's shape.
pub(crate) fn shape_hash<T>(
    entity: std::any::TypeId,
    filter: Option<&Node<T>>,
    order: &[Order<T>],
    limit: bool,
    offset: bool,
    terminal: Terminal,
) -> u64 {
    use std::hash::BuildHasher;
    let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
    std::hash::Hash::hash(&entity, &mut h);
    h.write_u8(terminal as u8);
    h.write_u8(u8::from(limit) | (u8::from(offset) << 1));
    if let Some(f) = filter {
        node_hash(f, &mut h);
    }
    for o in order {
        h.write_usize(o.field);
        h.write_u8(u8::from(o.desc));
    }
    h.finish()
}

/// The hash of a `group_by` over the fields `group` of a query whose shape hash is
/// `base`.
pub(crate) fn group_hash(base: u64, group: &[usize]) -> u64 {
    use std::hash::BuildHasher;
    let mut h = foldhash::fast::FixedState::with_seed(base).build_hasher();
    for &g in group {
        h.write_usize(g);
    }
    h.finish()
}

/// The text of a query's shape and what the advisor reads of it; `group` are the
/// fields of a `group_by`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn shape_info<T>(
    entity: &'static EntityDescriptor,
    filter: Option<&Node<T>>,
    order: &[Order<T>],
    limit: bool,
    offset: bool,
    terminal: Terminal,
    group: &[usize],
    plan: String,
) -> ShapeInfo {
    let mut shape = entity.name.to_string();
    let (mut eq, mut range) = (Vec::new(), None);
    if let Some(f) = filter {
        shape.push_str(" where ");
        let mut text = String::new();
        node_text(f, &mut text);
        // A top-level `and` needs no parentheses.
        let text = if matches!(f, Node::And(_)) { text[1..text.len() - 1].to_string() } else { text };
        shape.push_str(&text);
        let conjuncts: Vec<&Node<T>> = match f {
            Node::And(v) => v.iter().collect(),
            other => vec![other],
        };
        for c in conjuncts {
            if let Node::Pred(p) = c {
                match p.op {
                    Op::Eq | Op::InList => eq.push(p.name.to_string()),
                    Op::Lt | Op::Lte | Op::Gt | Op::Gte | Op::Between | Op::StartsWith if range.is_none() => {
                        range = Some(p.name.to_string());
                    }
                    _ => {}
                }
            }
        }
    }
    let field = |i: usize| entity.fields.get(i).map_or_else(|| "?".to_string(), |f| f.name.to_string());
    if !group.is_empty() {
        shape.push_str(" group by ");
        shape.push_str(&group.iter().map(|&g| field(g)).collect::<Vec<_>>().join(", "));
    }
    if !order.is_empty() {
        let parts: Vec<String> =
            order.iter().map(|o| format!("{}{}", field(o.field), if o.desc { " desc" } else { "" })).collect();
        shape.push_str(" order by ");
        shape.push_str(&parts.join(", "));
    }
    if limit {
        shape.push_str(" limit ?");
    }
    if offset {
        shape.push_str(" offset ?");
    }
    shape.push_str(match terminal {
        Terminal::Rows => " (rows)",
        Terminal::Count => " (count)",
        Terminal::Aggregate => " (aggregate)",
        Terminal::Group => " (groups)",
    });
    cap_text(&mut shape, MAX_SHAPE_TEXT);
    let order = order.first().filter(|_| limit).map(|o| field(o.field));
    ShapeInfo { entity, shape, plan, eq, range, order }
}
