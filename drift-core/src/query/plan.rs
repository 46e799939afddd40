//! Choosing an access path for a query, and describing the choice ([`Plan`]).

use std::fmt;
use std::ops::Bound;
use std::time::Duration;

use crate::catalog::{EntityInfo, Source};
use crate::codec::prefix_successor;
use crate::error::Result;
use crate::query::filter::{Node, Op, Operand, Order};
use crate::query::stats::{self, DIVE_CAP};
use crate::read::Reader;

/// How rows are reached.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// One primary key.
    KeyLookup,
    /// A range or prefix of the primary key.
    KeyRange,
    /// One entry of a unique index.
    UniqueLookup {
        /// Index name.
        index: String,
    },
    /// A range or prefix of a secondary index (several ranges for `in_list`).
    IndexRange {
        /// Index name.
        index: String,
    },
    /// The union of several index or key paths, one per branch of an `|`.
    IndexUnion {
        /// The index of each branch (`primary key` for a key path).
        indexes: Vec<String>,
    },
    /// Every row of the table.
    FullScan,
}

/// How `group_by` forms its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupStrategy {
    /// Rows arrive ordered by the grouping fields (they lead the path's index): each
    /// group is emitted when its key changes, in constant memory.
    Streaming {
        /// The index (or `primary key`) whose order is used.
        index: String,
    },
    /// Groups are kept in a hash map until the end.
    Hash,
}

/// One step of an analyzed plan: what it produced and the time spent in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// `access`, `filter`, `sort`, `group` or `limit`.
    pub name: &'static str,
    /// Rows (or groups) the step passed on.
    pub rows: u64,
    /// Time spent in the step itself.
    pub time: Duration,
}

/// The plan a query runs with: inspectable by tests, printable by `Display` as an
/// indented tree.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Plan {
    /// The entity queried.
    pub entity: String,
    /// The access path.
    pub access: Access,
    /// Fields fixed by equality on the access path.
    pub equality_fields: Vec<String>,
    /// Field bounded by a range on the access path, if any.
    pub range_field: Option<String>,
    /// The filter left to run on each row the access path returns.
    pub residual: Option<String>,
    /// Whether results are sorted after reading (false when the path's order serves).
    pub sort: bool,
    /// The ordering, as written.
    pub order: Vec<String>,
    /// With a sort and a limit: rows kept by the top-k heap.
    pub top_k: Option<usize>,
    /// Whether the path is walked backwards (descending order on the path).
    pub reverse: bool,
    /// Whether the answer comes from index or key entries alone, decoding no row.
    pub index_only: bool,
    /// Rows expected from the access path, from the statistics.
    pub estimated_rows: u64,
    /// Rows in the table when planned.
    pub table_rows: u64,
    /// `offset` and `limit`, when given.
    pub offset: usize,
    /// `limit`, when given.
    pub limit: Option<usize>,
    /// The grouping strategy of a `group_by` query.
    pub group: Option<GroupStrategy>,
    /// The `having` predicates of a `group_by` query.
    pub having: Option<String>,
    /// Advice, such as an index that would serve the filter.
    pub advice: Vec<String>,
    /// Actual rows and time per step, filled by `explain_analyze`.
    pub steps: Vec<Step>,
    /// Total time, filled by `explain_analyze`.
    pub total_time: Option<Duration>,
}

impl Plan {
    /// The analyzed step named `name`, if any.
    #[must_use]
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    fn actual(&self, name: &str) -> String {
        match self.step(name) {
            Some(s) => format!(" (actual rows={} time={:.3?})", s.rows, s.time),
            None => String::new(),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines: Vec<String> = Vec::new();
        if self.limit.is_some() || self.offset > 0 {
            let limit = self.limit.map_or_else(|| "none".to_string(), |l| l.to_string());
            lines.push(format!("Limit {limit} offset {}{}", self.offset, self.actual("limit")));
        }
        if self.sort {
            let k = self.top_k.map(|k| format!(" top-k {k}")).unwrap_or_default();
            lines.push(format!("Sort {}{k}{}", self.order.join(", "), self.actual("sort")));
        }
        if let Some(h) = &self.having {
            lines.push(format!("Having {h}"));
        }
        if let Some(g) = &self.group {
            let how = match g {
                GroupStrategy::Streaming { index } => format!("streaming over `{index}`"),
                GroupStrategy::Hash => "hash".to_string(),
            };
            lines.push(format!("Group {how}{}", self.actual("group")));
        }
        if let Some(r) = &self.residual {
            lines.push(format!("Filter {r}{}", self.actual("filter")));
        }
        let mut access = match &self.access {
            Access::KeyLookup => "Primary key lookup".to_string(),
            Access::KeyRange => "Primary key range".to_string(),
            Access::UniqueLookup { index } => format!("Unique lookup on `{index}`"),
            Access::IndexRange { index } => format!("Index range on `{index}`"),
            Access::IndexUnion { indexes } => format!("Index union of `{}`", indexes.join("`, `")),
            Access::FullScan => "Full scan".to_string(),
        };
        if !self.equality_fields.is_empty() {
            access.push_str(&format!(" eq({})", self.equality_fields.join(", ")));
        }
        if let Some(r) = &self.range_field {
            access.push_str(&format!(" range({r})"));
        }
        if self.reverse {
            access.push_str(" reverse");
        }
        if self.index_only {
            access.push_str(" index-only");
        }
        access.push_str(&format!(" est_rows={} of {}{}", self.estimated_rows, self.table_rows, self.actual("access")));
        lines.push(access);
        write!(f, "Query {}", self.entity)?;
        if let Some(t) = self.total_time {
            write!(f, " (total {t:.3?})")?;
        }
        for (depth, line) in lines.iter().enumerate() {
            write!(f, "\n{:indent$}{line}", "", indent = 2 * (depth + 1))?;
        }
        for a in &self.advice {
            write!(f, "\n  advice: {a}")?;
        }
        Ok(())
    }
}

pub(crate) type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// An access path: where to read, the byte ranges (in order), and what it enforces.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) source: Source,
    pub(crate) ranges: Vec<Range>,
    /// Indices into the top-level conjuncts that the ranges enforce exactly.
    pub(crate) consumed: Vec<usize>,
    pub(crate) eq_fields: Vec<usize>,
    pub(crate) range_field: Option<usize>,
    /// A point lookup (all key fields fixed by equality on a unique source).
    pub(crate) point: bool,
    /// The fields (positions) of the source, in its order.
    pub(crate) columns: Vec<usize>,
    /// Fields that order entries after `columns` (the key, in a non-unique index).
    pub(crate) tail: Vec<usize>,
    /// The field matched by `in_list` (one range per value, in value order).
    pub(crate) list_field: Option<usize>,
}

impl Path {
    pub(crate) fn full_scan(columns: Vec<usize>) -> Path {
        Path {
            source: Source::Table,
            ranges: vec![(Bound::Unbounded, Bound::Unbounded)],
            consumed: Vec::new(),
            eq_fields: Vec::new(),
            range_field: None,
            point: false,
            columns,
            tail: Vec::new(),
            list_field: None,
        }
    }

    /// Whether walking the path (forwards or backwards) yields rows ordered by
    /// `fields`: ignoring fields fixed by equality, they must be a prefix of the
    /// path's remaining columns.
    pub(crate) fn ordered_by(&self, fields: &[usize]) -> bool {
        let fixed = |c: &usize| self.eq_fields.contains(c) && self.list_field != Some(*c);
        let rest: Vec<usize> = self.columns.iter().chain(&self.tail).copied().filter(|c| !fixed(c)).collect();
        let wanted: Vec<usize> = fields.iter().copied().filter(|c| !fixed(c)).collect();
        rest.starts_with(&wanted)
    }

    pub(crate) fn name(&self, info: &EntityInfo) -> String {
        match self.source {
            Source::Table => "primary key".to_string(),
            Source::Index(i, _) => info.schema.indexes[i].name.to_string(),
        }
    }
}

/// Top-level conjuncts of a filter.
pub(crate) fn conjuncts<T>(node: Option<&Node<T>>) -> Vec<&Node<T>> {
    match node {
        None => Vec::new(),
        Some(Node::And(v)) => v.iter().collect(),
        Some(n) => vec![n],
    }
}

fn max_lo(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (&a, &b) {
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            if x >= y {
                a
            } else {
                b
            }
        }
    }
}

fn min_hi(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match (&a, &b) {
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            if x <= y {
                a
            } else {
                b
            }
        }
    }
}

fn cat(prefix: &[u8], v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + v.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(v);
    out
}

fn after(bytes: &[u8]) -> Bound<Vec<u8>> {
    match prefix_successor(bytes) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    }
}

pub(crate) fn is_empty_range(lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => {
            a >= b
        }
        _ => false,
    }
}

/// A range that holds nothing.
fn nothing() -> Range {
    (Bound::Excluded(vec![0]), Bound::Excluded(vec![0]))
}

/// Bounds on `columns` (field positions in key order) from the conjuncts: equality
/// (or `in_list`) on a leading run of columns, then at most one range column.
fn bounds_for<T>(columns: &[usize], tail: &[usize], conj: &[&Node<T>], source: Source) -> Option<Path> {
    // Each prefix is a possible byte prefix; in_list multiplies them.
    let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
    let mut consumed = Vec::new();
    let mut eq_fields = Vec::new();
    let mut range_field = None;
    let mut ranges: Option<Vec<Range>> = None;
    let mut list_field = None;
    for &col in columns {
        let eq = conj.iter().enumerate().find_map(|(i, n)| match n {
            Node::Pred(p) if p.field == col => match (&p.op, &p.operand) {
                (Op::Eq | Op::IsNone, Ok(Operand::One(b))) => Some((i, vec![b.clone()])),
                (Op::InList, Ok(Operand::List(list)))
                    if !list.is_empty() && list.len() <= 256 && list_field.is_none() =>
                {
                    let mut l = list.clone();
                    l.sort();
                    l.dedup();
                    list_field = Some(col);
                    Some((i, l))
                }
                _ => None,
            },
            _ => None,
        });
        if let Some((i, values)) = eq {
            prefixes = prefixes.iter().flat_map(|p| values.iter().map(move |v| cat(p, v))).collect();
            consumed.push(i);
            eq_fields.push(col);
            continue;
        }
        let mut lo = Bound::Unbounded;
        let mut hi = Bound::Unbounded;
        let mut empty = false;
        let mut bounded = false;
        for (i, n) in conj.iter().enumerate() {
            let Node::Pred(p) = n else { continue };
            if p.field != col || prefixes.len() != 1 {
                continue;
            }
            let prefix = &prefixes[0];
            let (l, h) = match (&p.op, &p.operand) {
                (Op::Gt, Ok(Operand::One(v))) => match prefix_successor(&cat(prefix, v)) {
                    Some(s) => (Bound::Included(s), Bound::Unbounded),
                    None => {
                        empty = true;
                        (Bound::Unbounded, Bound::Unbounded)
                    }
                },
                (Op::Gte, Ok(Operand::One(v))) => (Bound::Included(cat(prefix, v)), Bound::Unbounded),
                (Op::Lt, Ok(Operand::One(v))) => (Bound::Unbounded, Bound::Excluded(cat(prefix, v))),
                (Op::Lte, Ok(Operand::One(v))) => (Bound::Unbounded, after(&cat(prefix, v))),
                (Op::Between, Ok(Operand::Two(a, b))) => (Bound::Included(cat(prefix, a)), after(&cat(prefix, b))),
                (Op::StartsWith, Ok(Operand::Prefix(s))) => (Bound::Included(cat(prefix, s)), after(&cat(prefix, s))),
                (Op::IsSome, Ok(Operand::None)) => (Bound::Included(cat(prefix, &[1])), after(&cat(prefix, &[1]))),
                _ => continue,
            };
            lo = max_lo(lo, l);
            hi = min_hi(hi, h);
            consumed.push(i);
            range_field = Some(col);
            bounded = true;
        }
        if bounded {
            let prefix = &prefixes[0];
            if !prefix.is_empty() {
                lo = max_lo(lo, Bound::Included(prefix.clone()));
                hi = min_hi(hi, after(prefix));
            }
            ranges = Some(vec![if empty { nothing() } else { (lo, hi) }]);
        }
        break;
    }
    if consumed.is_empty() {
        return None;
    }
    let ranges = ranges.unwrap_or_else(|| prefixes.iter().map(|p| (Bound::Included(p.clone()), after(p))).collect());
    let point = eq_fields.len() == columns.len() && !matches!(source, Source::Index(_, false));
    Some(Path {
        source,
        ranges,
        consumed,
        eq_fields,
        range_field,
        point,
        columns: columns.to_vec(),
        tail: tail.to_vec(),
        list_field,
    })
}

/// The chosen way to read rows.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    /// One path, or one per branch of a union.
    pub(crate) paths: Vec<Path>,
    pub(crate) union: bool,
    pub(crate) estimated: u64,
    pub(crate) table_rows: u64,
}

impl Chosen {
    pub(crate) fn consumed(&self) -> &[usize] {
        if self.union { &[] } else { &self.paths[0].consumed }
    }
}

/// A unique index with `Option` fields has no entry for rows whose value is `None`,
/// so it serves only ranges that start inside `Some` values of a single field.
fn serves_nulls(info: &EntityInfo, path: &Path) -> bool {
    let Source::Index(i, _) = path.source else { return true };
    match &info.nullable[i] {
        None => true,
        Some(fields) => {
            fields.len() == 1
                && path.ranges.iter().all(|(lo, _)| matches!(lo, Bound::Included(b) if b.first() == Some(&1)))
        }
    }
}

/// Estimates the rows a path returns.
fn estimate<T: crate::entity::Entity>(reader: &Reader<'_>, info: &EntityInfo, path: &Path, rows: u64) -> Result<u64> {
    if path.point {
        return Ok(u64::try_from(path.ranges.len()).unwrap_or(u64::MAX).min(rows));
    }
    let tid = match path.source {
        Source::Table => info.table,
        Source::Index(i, _) => info.indexes[i],
    };
    let mut total = 0u64;
    let mut capped = false;
    for (lo, hi) in &path.ranges {
        if is_empty_range(lo, hi) {
            continue;
        }
        let n =
            stats::dive(reader.store, tid, lo.as_ref().map(Vec::as_slice), hi.as_ref().map(Vec::as_slice), DIVE_CAP)?;
        total += n;
        capped |= n >= DIVE_CAP;
    }
    if !capped {
        return Ok(total);
    }
    // Beyond the dive: rows / distinct values of the leading field per equality, and a
    // quarter of that for a range.
    let lead = path.columns[0];
    let skip = |input: &mut &[u8]| T::__skip_field(lead, input);
    let distinct = reader.planner.distinct(reader.store, tid, lead, rows, &skip)?;
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let est = {
        let mut est = rows as f64;
        if !path.eq_fields.is_empty() {
            est /= distinct as f64;
            for _ in 1..path.eq_fields.len() {
                est /= 10.0;
            }
            est *= path.ranges.len() as f64;
        }
        if path.range_field.is_some() {
            est /= 4.0;
        }
        est.ceil() as u64
    };
    Ok(est.clamp(total, rows))
}

/// Relative cost of reading `rows` through a path: a table path decodes each row it
/// reads; an index path also looks each row up (1.5), unless only keys are needed.
fn cost(path: &Path, rows: u64, keys_only: bool) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let rows = rows as f64;
    match path.source {
        Source::Table => rows,
        Source::Index(..) if keys_only => rows * 0.3,
        Source::Index(..) => rows * 1.5 + 1.0,
    }
}

/// What the planner is asked.
pub(crate) struct Request<'a> {
    /// Fields the result must be ordered by (empty: any order).
    pub(crate) order: &'a [usize],
    /// Rows needed from the start of the ordered result (offset + limit), if bounded.
    pub(crate) needed: Option<u64>,
    /// Whether only keys are needed (count without residual).
    pub(crate) keys_only: bool,
}

/// Chooses the cheapest access path by estimated cost: the cost of each candidate
/// path, plus a sort when it does not yield the wanted order; a path that yields the
/// order and has a limit only pays for the rows it must read.
pub(crate) fn choose<T: crate::entity::Entity>(
    reader: &Reader<'_>,
    info: &EntityInfo,
    conj: &[&Node<T>],
    req: &Request<'_>,
) -> Result<Chosen> {
    let schema = info.schema;
    let rows = reader.store.len(info.table)?;
    let pos = |name: &str| schema.fields.iter().position(|f| f.name == name);
    let key_cols: Vec<usize> = schema.primary_key.iter().filter_map(|n| pos(n)).collect();
    let mut sources: Vec<(Vec<usize>, Vec<usize>, Source)> = vec![(key_cols.clone(), Vec::new(), Source::Table)];
    for (i, idx) in schema.indexes.iter().enumerate() {
        let tail = if idx.unique { Vec::new() } else { key_cols.clone() };
        sources.push((idx.fields.iter().filter_map(|n| pos(n)).collect(), tail, Source::Index(i, idx.unique)));
    }
    #[allow(clippy::cast_precision_loss)]
    let sort_cost = |n: u64| if n > 1 { n as f64 * (n as f64).log2() * 0.05 } else { 0.0 };
    let residual_left = |p: &Path| conj.len() > p.consumed.len();
    let mut best: Option<(f64, Path, u64)> = None;
    let scan = Path::full_scan(key_cols.clone());
    let scan_cost = {
        let ordered = req.order.is_empty() || scan.ordered_by(req.order);
        match (ordered, req.needed) {
            (true, Some(n)) if conj.is_empty() => cost(&scan, n.min(rows), false),
            _ => cost(&scan, rows, false) + if ordered { 0.0 } else { sort_cost(rows) },
        }
    };
    for (cols, tail, source) in &sources {
        let Some(path) = bounds_for(cols, tail, conj, *source) else { continue };
        if !serves_nulls(info, &path) {
            continue;
        }
        let ordered = req.order.is_empty() || path.ordered_by(req.order);
        // A path that yields the order and enforces the whole filter stops after the
        // rows a limit needs: that bound is the estimate, no dive needed.
        let est = match req.needed {
            Some(n) if ordered && !residual_left(&path) && !path.point => n.min(rows),
            _ => estimate::<T>(reader, info, &path, rows)?,
        };
        let keys_only = req.keys_only && !residual_left(&path);
        let read = match (ordered, req.needed) {
            (true, Some(n)) if !residual_left(&path) => est.min(n),
            _ => est,
        };
        let c = cost(&path, read, keys_only) + if ordered { 0.0 } else { sort_cost(est) };
        if best.as_ref().is_none_or(|(bc, _, _)| c < *bc) {
            best = Some((c, path, est));
        }
    }
    if let Some((c, path, est)) = best {
        if c <= scan_cost || path.point {
            return Ok(Chosen { paths: vec![path], union: false, estimated: est, table_rows: rows });
        }
    }
    // An `|` whose every branch has a path: read the union of the branches.
    for n in conj {
        let Node::Or(branches) = n else { continue };
        let mut paths = Vec::new();
        let mut est = 0u64;
        let mut total = 0.0;
        for b in branches {
            let bconj = conjuncts(Some(b));
            let best_branch = sources
                .iter()
                .filter_map(|(cols, tail, source)| bounds_for(cols, tail, &bconj, *source))
                .filter(|p| serves_nulls(info, p))
                .map(|p| estimate::<T>(reader, info, &p, rows).map(|e| (cost(&p, e, false), p, e)))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let Some((c, p, e)) = best_branch else {
                paths.clear();
                break;
            };
            total += c;
            est += e;
            paths.push(p);
        }
        if !paths.is_empty() && total * 1.2 < scan_cost {
            return Ok(Chosen { paths, union: true, estimated: est.min(rows), table_rows: rows });
        }
    }
    Ok(Chosen { paths: vec![scan], union: false, estimated: rows, table_rows: rows })
}

/// Whether `order` can be served by walking `path` (forwards or backwards): all
/// fields in one direction, in the path's column order.
pub(crate) fn order_served<T>(chosen: &Chosen, order: &[Order<T>]) -> Option<bool> {
    if order.is_empty() {
        return Some(false);
    }
    if chosen.union {
        return None;
    }
    let desc = order[0].desc;
    if order.iter().any(|o| o.desc != desc) {
        return None;
    }
    let fields: Vec<usize> = order.iter().map(|o| o.field).collect();
    chosen.paths[0].ordered_by(&fields).then_some(desc)
}
