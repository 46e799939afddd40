//! Typed predicates: [`Filter`] and the operators on [`Field`].

use std::fmt;
use std::ops::{BitAnd, BitOr, Not};
use std::sync::Arc;

use crate::codec::{KeyCodec, KeyError, encode_bytes_unterminated};
use crate::entity::Field;
use crate::operand::IntoOperand;

/// A predicate over rows of `T`, built from field handles and combined with `&`,
/// `|` and `!`.
pub struct Filter<T> {
    pub(crate) node: Node<T>,
}

pub(crate) enum Node<T> {
    Pred(Pred<T>),
    And(Vec<Node<T>>),
    Or(Vec<Node<T>>),
    Not(Box<Node<T>>),
}

/// The comparison a predicate makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    InList,
    StartsWith,
    IsNone,
    IsSome,
}

/// The operand of a predicate, key-encoded so that the planner can turn it into
/// range bounds. `Prefix` holds escaped string bytes without terminator.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    None,
    One(Vec<u8>),
    Two(Vec<u8>, Vec<u8>),
    List(Vec<Vec<u8>>),
    Prefix(Vec<u8>),
}

pub(crate) struct Pred<T> {
    pub(crate) field: usize,
    pub(crate) name: &'static str,
    pub(crate) op: Op,
    pub(crate) operand: Result<Operand, KeyError>,
    pub(crate) shown: String,
    pub(crate) eval: Arc<dyn Fn(&T) -> bool + Send + Sync>,
}

impl<T> Clone for Pred<T> {
    fn clone(&self) -> Self {
        Pred {
            field: self.field,
            name: self.name,
            op: self.op,
            operand: self.operand.clone(),
            shown: self.shown.clone(),
            eval: Arc::clone(&self.eval),
        }
    }
}

impl<T> Clone for Node<T> {
    fn clone(&self) -> Self {
        match self {
            Node::Pred(p) => Node::Pred(p.clone()),
            Node::And(v) => Node::And(v.clone()),
            Node::Or(v) => Node::Or(v.clone()),
            Node::Not(n) => Node::Not(n.clone()),
        }
    }
}

impl<T> Clone for Filter<T> {
    fn clone(&self) -> Self {
        Filter { node: self.node.clone() }
    }
}

impl<T> Node<T> {
    pub(crate) fn eval(&self, row: &T) -> bool {
        match self {
            Node::Pred(p) => (p.eval)(row),
            Node::And(v) => v.iter().all(|n| n.eval(row)),
            Node::Or(v) => v.iter().any(|n| n.eval(row)),
            Node::Not(n) => !n.eval(row),
        }
    }

    /// The first operand that could not be encoded, if any.
    pub(crate) fn operand_error(&self) -> Option<(&'static str, KeyError)> {
        match self {
            Node::Pred(p) => p.operand.as_ref().err().map(|e| (p.name, e.clone())),
            Node::And(v) | Node::Or(v) => v.iter().find_map(Node::operand_error),
            Node::Not(n) => n.operand_error(),
        }
    }
}

impl<T> fmt::Display for Node<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, v: &[Node<T>], sep: &str| {
            f.write_str("(")?;
            for (i, n) in v.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{n}")?;
            }
            f.write_str(")")
        };
        match self {
            Node::Pred(p) => f.write_str(&p.shown),
            Node::And(v) => join(f, v, " AND "),
            Node::Or(v) => join(f, v, " OR "),
            Node::Not(n) => write!(f, "NOT {n}"),
        }
    }
}

impl<T> fmt::Display for Filter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.fmt(f)
    }
}

impl<T> fmt::Debug for Filter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({})", self.node)
    }
}

impl<T> BitAnd for Filter<T> {
    type Output = Filter<T>;
    fn bitand(self, rhs: Filter<T>) -> Filter<T> {
        let mut v = Vec::new();
        for n in [self.node, rhs.node] {
            match n {
                Node::And(inner) => v.extend(inner),
                other => v.push(other),
            }
        }
        Filter { node: Node::And(v) }
    }
}

impl<T> BitOr for Filter<T> {
    type Output = Filter<T>;
    fn bitor(self, rhs: Filter<T>) -> Filter<T> {
        let mut v = Vec::new();
        for n in [self.node, rhs.node] {
            match n {
                Node::Or(inner) => v.extend(inner),
                other => v.push(other),
            }
        }
        Filter { node: Node::Or(v) }
    }
}

impl<T> Not for Filter<T> {
    type Output = Filter<T>;
    fn not(self) -> Filter<T> {
        match self.node {
            Node::Not(inner) => Filter { node: *inner },
            other => Filter { node: Node::Not(Box::new(other)) },
        }
    }
}

fn encode<V: KeyCodec>(v: &V) -> Result<Vec<u8>, KeyError> {
    v.to_key_bytes()
}

impl<T: 'static, V: KeyCodec + fmt::Debug + Send + Sync + 'static> Field<T, V> {
    fn pred(
        self,
        op: Op,
        operand: Result<Operand, KeyError>,
        shown: String,
        eval: impl Fn(&V) -> bool + Send + Sync + 'static,
    ) -> Filter<T> {
        let get = self.get;
        Filter {
            node: Node::Pred(Pred {
                field: self.position,
                name: self.name,
                op,
                operand,
                shown,
                eval: Arc::new(move |row: &T| eval(get(row))),
            }),
        }
    }

    fn compare(self, op: Op, value: V, sym: &str, ok: fn(std::cmp::Ordering) -> bool) -> Filter<T> {
        let operand = encode(&value).map(Operand::One);
        let shown = format!("{} {sym} {value:?}", self.name);
        self.pred(op, operand, shown, move |v| ok(v.key_cmp(&value)))
    }

    /// The field equals `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.eq(30)).keys())?;
    /// assert_eq!(keys, [3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn eq(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Eq, value.into_operand(), "=", std::cmp::Ordering::is_eq)
    }

    /// The field differs from `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.ne(30)).keys())?;
    /// assert_eq!(keys, [1, 2, 4, 5]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn ne(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Ne, value.into_operand(), "!=", std::cmp::Ordering::is_ne)
    }

    /// The field is less than `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.lt(30)).keys())?;
    /// assert_eq!(keys, [1, 2]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn lt(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Lt, value.into_operand(), "<", std::cmp::Ordering::is_lt)
    }

    /// The field is less than or equal to `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.lte(30)).keys())?;
    /// assert_eq!(keys, [1, 2, 3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn lte(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Lte, value.into_operand(), "<=", std::cmp::Ordering::is_le)
    }

    /// The field is greater than `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.gt(30)).keys())?;
    /// assert_eq!(keys, [4, 5]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn gt(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Gt, value.into_operand(), ">", std::cmp::Ordering::is_gt)
    }

    /// The field is greater than or equal to `value`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.gte(30)).keys())?;
    /// assert_eq!(keys, [3, 4, 5]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn gte(self, value: impl IntoOperand<V>) -> Filter<T> {
        self.compare(Op::Gte, value.into_operand(), ">=", std::cmp::Ordering::is_ge)
    }

    /// `lo <= field <= hi`, inclusive at both ends as in SQL.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.between(20, 40)).keys())?;
    /// assert_eq!(keys, [2, 3, 4]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn between(self, lo: impl IntoOperand<V>, hi: impl IntoOperand<V>) -> Filter<T> {
        let (lo, hi) = (lo.into_operand(), hi.into_operand());
        let operand = encode(&lo).and_then(|a| encode(&hi).map(|b| Operand::Two(a, b)));
        let shown = format!("{} BETWEEN {lo:?} AND {hi:?}", self.name);
        self.pred(Op::Between, operand, shown, move |v| v.key_cmp(&lo).is_ge() && v.key_cmp(&hi).is_le())
    }

    /// The field equals one of `values`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=5).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::POINTS.in_list(vec![10, 50, 70])).keys())?;
    /// assert_eq!(keys, [1, 5]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn in_list<A: IntoOperand<V>>(self, values: Vec<A>) -> Filter<T> {
        let values: Vec<V> = values.into_iter().map(IntoOperand::into_operand).collect();
        let operand = values.iter().map(encode).collect::<Result<Vec<_>, _>>().map(Operand::List);
        let shown = format!("{} IN {values:?}", self.name);
        self.pred(Op::InList, operand, shown, move |v| values.iter().any(|x| v.key_cmp(x).is_eq()))
    }

    /// The field equals a parent's key (`Some(key)` for an optional foreign key).
    #[doc(hidden)]
    pub fn __eq_parent_key<K>(self, key: K) -> Filter<T>
    where
        V: FromParentKey<K>,
    {
        self.eq(V::from_parent_key(key))
    }

    /// Ascending order on this field.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=3).try_for_each(|id| tx.insert(&Task { id, points: 10 - id as u32 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().order_by(Task::POINTS.asc()).keys())?;
    /// assert_eq!(keys, [3, 2, 1]); // 7, 8, 9 points
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn asc(self) -> Order<T>
    where
        V: KeyCodec,
    {
        self.order(false)
    }

    /// Descending order on this field.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] points: u32 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=3).try_for_each(|id| tx.insert(&Task { id, points: id as u32 * 10 }).map(drop)))?;
    /// let keys = db.read(|tx| tx.query::<Task>().order_by(Task::POINTS.desc()).keys())?;
    /// assert_eq!(keys, [3, 2, 1]); // 30, 20, 10 points
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn desc(self) -> Order<T> {
        self.order(true)
    }

    fn order(self, desc: bool) -> Order<T> {
        let get = self.get;
        Order { field: self.position, name: self.name, desc, cmp: Arc::new(move |a: &T, b: &T| get(a).key_cmp(get(b))) }
    }
}

impl<T: 'static> Field<T, String> {
    /// The string field starts with `prefix`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| {
    ///     tx.insert(&Task { id: 1, title: "docs: examples".into() })?;
    ///     tx.insert(&Task { id: 2, title: "fix: planner".into() })?;
    ///     tx.insert(&Task { id: 3, title: "docs: README".into() })
    /// })?;
    /// let keys = db.read(|tx| tx.query::<Task>().filter(Task::TITLE.starts_with("docs:")).keys())?;
    /// assert_eq!(keys, [1, 3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn starts_with(self, prefix: impl AsRef<str>) -> Filter<T> {
        let prefix = prefix.as_ref().to_owned();
        let mut bytes = Vec::with_capacity(prefix.len());
        encode_bytes_unterminated(prefix.as_bytes(), &mut bytes);
        let shown = format!("{} STARTS WITH {prefix:?}", self.name);
        self.pred(Op::StartsWith, Ok(Operand::Prefix(bytes)), shown, move |v: &String| v.starts_with(&prefix))
    }
}

impl<T: 'static, X: KeyCodec + fmt::Debug + Send + Sync + 'static> Field<T, Option<X>> {
    /// The optional field is `None`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] due: Option<u32> }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, due: (id % 2 == 0).then_some(7) }).map(drop)))?;
    /// let undated = db.read(|tx| tx.query::<Task>().filter(Task::DUE.is_none()).keys())?;
    /// assert_eq!(undated, [1, 3]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn is_none(self) -> Filter<T> {
        let shown = format!("{} IS NONE", self.name);
        self.pred(Op::IsNone, Ok(Operand::One(vec![0])), shown, Option::is_none)
    }

    /// The optional field is `Some`.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, #[drift(index)] due: Option<u32> }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| (1..=4).try_for_each(|id| tx.insert(&Task { id, due: (id % 2 == 0).then_some(7) }).map(drop)))?;
    /// let dated = db.read(|tx| tx.query::<Task>().filter(Task::DUE.is_some()).keys())?;
    /// assert_eq!(dated, [2, 4]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn is_some(self) -> Filter<T> {
        let shown = format!("{} IS SOME", self.name);
        self.pred(Op::IsSome, Ok(Operand::None), shown, Option::is_some)
    }
}

pub(crate) type Comparator<T> = Arc<dyn Fn(&T, &T) -> std::cmp::Ordering + Send + Sync>;

/// An ordering on one field of `T`, from [`Field::asc`] or [`Field::desc`].
pub struct Order<T> {
    pub(crate) field: usize,
    pub(crate) name: &'static str,
    pub(crate) desc: bool,
    pub(crate) cmp: Comparator<T>,
}

impl<T> Clone for Order<T> {
    fn clone(&self) -> Self {
        Order { field: self.field, name: self.name, desc: self.desc, cmp: Arc::clone(&self.cmp) }
    }
}

impl<T> fmt::Debug for Order<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, if self.desc { "DESC" } else { "ASC" })
    }
}

/// A foreign-key field type built from the parent's key: `K` itself or `Some(K)`.
#[doc(hidden)]
pub trait FromParentKey<K> {
    fn from_parent_key(key: K) -> Self;
}

impl<K> FromParentKey<K> for K {
    fn from_parent_key(key: K) -> K {
        key
    }
}

impl<K> FromParentKey<K> for Option<K> {
    fn from_parent_key(key: K) -> Option<K> {
        Some(key)
    }
}
