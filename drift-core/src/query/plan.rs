//! Choosing an access path for a query, and describing the choice ([`Plan`]).

use std::fmt;
use std::ops::Bound;

use crate::catalog::EntityInfo;
use crate::codec::prefix_successor;
use crate::query::filter::{Node, Op, Operand, Order};

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
    /// A range or prefix of a secondary index.
    IndexRange {
        /// Index name.
        index: String,
    },
    /// Every row of the table.
    FullScan,
}

/// The plan a query runs with: inspectable by tests, printable by `Display`.
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
    /// Whether the path is walked backwards (descending order on the path).
    pub reverse: bool,
    /// Rows expected from the access path, from table and index statistics.
    pub estimated_rows: u64,
    /// Advice, such as an index that would serve the filter.
    pub advice: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match &self.access {
            Access::KeyLookup => "primary key lookup".to_string(),
            Access::KeyRange => "primary key range".to_string(),
            Access::UniqueLookup { index } => format!("unique lookup on `{index}`"),
            Access::IndexRange { index } => format!("index range on `{index}`"),
            Access::FullScan => "full scan".to_string(),
        };
        writeln!(f, "Query {}", self.entity)?;
        let mut depth = 1;
        if self.sort {
            writeln!(f, "{:indent$}Sort", "", indent = depth * 2)?;
            depth += 1;
        }
        if let Some(r) = &self.residual {
            writeln!(f, "{:indent$}Filter {r}", "", indent = depth * 2)?;
            depth += 1;
        }
        write!(f, "{:indent$}{access}", "", indent = depth * 2)?;
        if !self.equality_fields.is_empty() {
            write!(f, " eq({})", self.equality_fields.join(", "))?;
        }
        if let Some(r) = &self.range_field {
            write!(f, " range({r})")?;
        }
        if self.reverse {
            f.write_str(" reverse")?;
        }
        write!(f, " est_rows={}", self.estimated_rows)?;
        for a in &self.advice {
            write!(f, "\n{:indent$}advice: {a}", "", indent = 2)?;
        }
        Ok(())
    }
}

/// Which table an access path reads, and how to get primary keys from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The row table itself.
    Table,
    /// Index `i`; unique indexes map values to the key, others end entries with it.
    Index(usize, bool),
}

/// A chosen path: where to read, the byte bounds, and the conjuncts it satisfies.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    pub(crate) source: Source,
    pub(crate) lo: Bound<Vec<u8>>,
    pub(crate) hi: Bound<Vec<u8>>,
    /// Indices into the top-level conjuncts that the bounds enforce exactly.
    pub(crate) consumed: Vec<usize>,
    pub(crate) eq_fields: Vec<usize>,
    pub(crate) range_field: Option<usize>,
    /// A point lookup (all key fields fixed by equality on a unique source).
    pub(crate) point: bool,
    /// The field whose order the path yields after its equality prefix, if any.
    pub(crate) order_field: Option<usize>,
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

fn after(bytes: Vec<u8>) -> Bound<Vec<u8>> {
    match prefix_successor(&bytes) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    }
}

fn from_after(bytes: &[u8]) -> Option<Bound<Vec<u8>>> {
    prefix_successor(bytes).map(Bound::Included)
}

/// Bounds on `columns` (field positions in key order) from the conjuncts:
/// equality on a leading run of columns, then at most one range column.
fn bounds_for<T>(columns: &[usize], conj: &[&Node<T>], source: Source) -> Option<Path> {
    let mut prefix = Vec::new();
    let mut consumed = Vec::new();
    let mut eq_fields = Vec::new();
    let mut range_field = None;
    let mut lo = Bound::Unbounded;
    let mut hi = Bound::Unbounded;
    let mut empty = false;
    let mut order_field = None;
    for &col in columns {
        let eq = conj.iter().enumerate().find_map(|(i, n)| match n {
            Node::Pred(p) if p.field == col && matches!(p.op, Op::Eq | Op::IsNone) => match &p.operand {
                Ok(Operand::One(b)) => Some((i, b.clone())),
                _ => None,
            },
            _ => None,
        });
        if let Some((i, b)) = eq {
            prefix.extend_from_slice(&b);
            consumed.push(i);
            eq_fields.push(col);
            continue;
        }
        order_field = Some(col);
        for (i, n) in conj.iter().enumerate() {
            let Node::Pred(p) = n else { continue };
            if p.field != col {
                continue;
            }
            let (l, h) = match (&p.op, &p.operand) {
                (Op::Gt, Ok(Operand::One(v))) => match from_after(&cat(&prefix, v)) {
                    Some(b) => (b, Bound::Unbounded),
                    None => {
                        empty = true;
                        (Bound::Unbounded, Bound::Unbounded)
                    }
                },
                (Op::Gte, Ok(Operand::One(v))) => (Bound::Included(cat(&prefix, v)), Bound::Unbounded),
                (Op::Lt, Ok(Operand::One(v))) => (Bound::Unbounded, Bound::Excluded(cat(&prefix, v))),
                (Op::Lte, Ok(Operand::One(v))) => (Bound::Unbounded, after(cat(&prefix, v))),
                (Op::Between, Ok(Operand::Two(a, b))) => (Bound::Included(cat(&prefix, a)), after(cat(&prefix, b))),
                (Op::StartsWith, Ok(Operand::Prefix(s))) => (Bound::Included(cat(&prefix, s)), after(cat(&prefix, s))),
                (Op::IsSome, Ok(Operand::None)) => (Bound::Included(cat(&prefix, &[1])), after(cat(&prefix, &[1]))),
                _ => continue,
            };
            lo = max_lo(lo, l);
            hi = min_hi(hi, h);
            consumed.push(i);
            range_field = Some(col);
        }
        break;
    }
    if consumed.is_empty() {
        return None;
    }
    if !prefix.is_empty() {
        lo = max_lo(lo, Bound::Included(prefix.clone()));
        hi = min_hi(hi, after(prefix));
    }
    if empty {
        lo = Bound::Included(vec![0xFF; 1]);
        hi = Bound::Excluded(vec![0xFF; 1]);
    }
    let point = eq_fields.len() == columns.len() && !matches!(source, Source::Index(_, false));
    Some(Path { source, lo, hi, consumed, eq_fields, range_field, point, order_field })
}

/// Chooses the cheapest access path by a simple cost model: a point lookup costs 1,
/// a range costs the rows it is expected to return (each equality column divides
/// the table by 10, a range by 4), a full scan costs every row.
pub(crate) fn choose<T>(info: &EntityInfo, conj: &[&Node<T>], rows: u64) -> (Path, u64) {
    let schema = info.schema;
    let pos = |name: &str| schema.fields.iter().position(|f| f.name == name);
    let mut candidates = Vec::new();
    let key_cols: Vec<usize> = schema.primary_key.iter().filter_map(|n| pos(n)).collect();
    if let Some(p) = bounds_for(&key_cols, conj, Source::Table) {
        candidates.push(p);
    }
    for (i, idx) in schema.indexes.iter().enumerate() {
        let cols: Vec<usize> = idx.fields.iter().filter_map(|n| pos(n)).collect();
        if let Some(p) = bounds_for(&cols, conj, Source::Index(i, idx.unique)) {
            candidates.push(p);
        }
    }
    let cost = |p: &Path| -> u64 {
        if p.point {
            return 1;
        }
        let mut est = rows as f64;
        for _ in &p.eq_fields {
            est /= 10.0;
        }
        if p.range_field.is_some() {
            est /= 4.0;
        }
        // Index paths pay a second lookup per row.
        let factor = if matches!(p.source, Source::Table) { 1.0 } else { 1.5 };
        (est * factor).ceil().max(1.0) as u64
    };
    let best = candidates.into_iter().map(|p| (cost(&p), p)).min_by_key(|(c, _)| *c);
    match best {
        Some((c, p)) if c < rows.max(1) || p.point => {
            let est = if p.point { 1 } else { c };
            (p, est)
        }
        _ => (
            Path {
                source: Source::Table,
                lo: Bound::Unbounded,
                hi: Bound::Unbounded,
                consumed: Vec::new(),
                eq_fields: Vec::new(),
                range_field: None,
                point: false,
                order_field: key_cols.first().copied(),
            },
            rows,
        ),
    }
}

/// Whether reading `path` forwards or backwards yields `order` without sorting.
pub(crate) fn order_served<T>(path: &Path, order: &[Order<T>]) -> Option<bool> {
    match order {
        [] => Some(false),
        [o] if Some(o.field) == path.order_field || path.eq_fields.contains(&o.field) => Some(o.desc),
        _ => None,
    }
}
