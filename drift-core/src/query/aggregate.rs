//! Aggregates (`count`, `sum`, `avg`, `min`, `max`), their sets, and the
//! comparisons and orderings on them that `having` and `order_by` take.

use std::marker::PhantomData;

use crate::codec::KeyCodec;
use crate::entity::{Entity, Field};
use crate::error::{Error, Result};
use crate::row::entity_name;

/// A numeric field type that `sum` and `avg` accept. Integer sums are exact: they
/// accumulate in 128 bits and fail with [`Error::Overflow`] rather than wrap.
#[diagnostic::on_unimplemented(
    message = "cannot sum or average `{Self}`: `sum` and `avg` take integer or float fields",
    label = "not a number",
    note = "use `count()`, `min` or `max` for other field types"
)]
pub trait Summable: Clone + Send + Sync + 'static {
    /// The type of the total: `u64` for unsigned integers up to 64 bits, `i64` for
    /// signed ones, `u128`/`i128` for those, `f64` for floats.
    type Sum: Clone + std::fmt::Debug + PartialOrd + KeyCodec + Send + Sync + 'static;
    #[doc(hidden)]
    type Acc: Default + Clone + Send + Sync + 'static;
    #[doc(hidden)]
    fn add(acc: &mut Self::Acc, v: &Self) -> Option<()>;
    #[doc(hidden)]
    fn total(acc: &Self::Acc) -> Option<Self::Sum>;
    #[doc(hidden)]
    #[allow(clippy::wrong_self_convention)]
    fn acc_f64(acc: &Self::Acc) -> f64;
    /// How many values were added (`None` of an `Option` field is skipped).
    #[doc(hidden)]
    fn counts(v: &Self) -> bool {
        let _ = v;
        true
    }
}

macro_rules! summable_int {
    ($acc:ty, $sum:ty: $($t:ty),*) => {$(
        impl Summable for $t {
            type Sum = $sum;
            type Acc = $acc;
            fn add(acc: &mut $acc, v: &$t) -> Option<()> {
                *acc = acc.checked_add(<$acc>::try_from(*v).ok()?)?;
                Some(())
            }
            fn total(acc: &$acc) -> Option<$sum> {
                <$sum>::try_from(*acc).ok()
            }
            #[allow(clippy::cast_precision_loss)]
            fn acc_f64(acc: &$acc) -> f64 {
                *acc as f64
            }
        }
    )*};
}
summable_int!(u128, u64: u8, u16, u32, u64, usize);
summable_int!(u128, u128: u128);
summable_int!(i128, i64: i8, i16, i32, i64, isize);
summable_int!(i128, i128: i128);

macro_rules! summable_float {
    ($($t:ty),*) => {$(
        impl Summable for $t {
            type Sum = f64;
            type Acc = f64;
            fn add(acc: &mut f64, v: &$t) -> Option<()> {
                *acc += f64::from(*v);
                Some(())
            }
            fn total(acc: &f64) -> Option<f64> {
                Some(*acc)
            }
            fn acc_f64(acc: &f64) -> f64 {
                *acc
            }
        }
    )*};
}
summable_float!(f32, f64);

/// `None` is skipped, as SQL skips NULL.
impl<X: Summable> Summable for Option<X> {
    type Sum = X::Sum;
    type Acc = X::Acc;
    fn add(acc: &mut X::Acc, v: &Option<X>) -> Option<()> {
        match v {
            Some(x) => X::add(acc, x),
            None => Some(()),
        }
    }
    fn total(acc: &X::Acc) -> Option<X::Sum> {
        X::total(acc)
    }
    fn acc_f64(acc: &X::Acc) -> f64 {
        X::acc_f64(acc)
    }
    fn counts(v: &Option<X>) -> bool {
        v.is_some()
    }
}

/// One aggregate over rows of `T`: [`count`], [`sum`], [`avg`], [`min`], [`max`].
pub trait Agg<T>: Clone + Send + Sync + 'static {
    /// The result type.
    type Output: Clone + std::fmt::Debug + Send + Sync + 'static;
    #[doc(hidden)]
    type Acc: Clone + Send + Sync + 'static;
    #[doc(hidden)]
    fn init(&self) -> Self::Acc;
    #[doc(hidden)]
    fn update(&self, acc: &mut Self::Acc, row: &T) -> Result<()>;
    /// Whether the aggregate reads fields (`count` does not).
    #[doc(hidden)]
    fn needs_rows(&self) -> bool {
        true
    }
    /// Counts `n` rows without reading them (only for aggregates that do not need rows).
    #[doc(hidden)]
    fn add_rows(&self, acc: &mut Self::Acc, n: u64) {
        let _ = (acc, n);
    }
    #[doc(hidden)]
    fn finish(&self, acc: &Self::Acc) -> Result<Self::Output>;
    #[doc(hidden)]
    fn describe(&self) -> String;
}

/// `count()`: the number of rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Count;

/// The number of rows (of a query or of each group).
///
/// ```
/// # use drift::prelude::*;
/// # use drift::{avg, count, max, min, sum};
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Sale { #[drift(primary_key)] id: u64, #[drift(index)] shop: u32, amount: u32, note: Option<u32> }
/// # let db = Db::builder().entity::<Sale>().in_memory()?;
/// # db.write(|tx| {
/// #     for (id, shop, amount, note) in [(1, 1, 10, Some(3)), (2, 1, 30, None), (3, 2, 20, Some(1))] {
/// #         tx.insert(&Sale { id, shop, amount, note })?;
/// #     }
/// #     Ok(())
/// # })?;
/// let n = db.read(|tx| tx.query::<Sale>().filter(Sale::SHOP.eq(1)).aggregate(count()))?;
/// assert_eq!(n, 2);
/// let per_shop = db.read(|tx| tx.query::<Sale>().group_by(Sale::SHOP).aggregate(count()).all())?;
/// assert_eq!(per_shop, [(1, 2), (2, 1)]);
/// # Ok::<(), drift::Error>(())
/// ```
#[must_use]
pub fn count() -> Count {
    Count
}

impl<T: 'static> Agg<T> for Count {
    type Output = u64;
    type Acc = u64;
    fn init(&self) -> u64 {
        0
    }
    fn update(&self, acc: &mut u64, _row: &T) -> Result<()> {
        *acc += 1;
        Ok(())
    }
    fn needs_rows(&self) -> bool {
        false
    }
    fn add_rows(&self, acc: &mut u64, n: u64) {
        *acc += n;
    }
    fn finish(&self, acc: &u64) -> Result<u64> {
        Ok(*acc)
    }
    fn describe(&self) -> String {
        "count()".into()
    }
}

/// `sum(field)`: the exact total of a numeric field (0 when no row matches).
pub struct Sum<T, V> {
    field: Field<T, V>,
}

/// `avg(field)`: the mean of a numeric field, `None` when no row matches.
pub struct Avg<T, V> {
    field: Field<T, V>,
}

/// `min(field)`: the smallest value in key order, `None` when no row matches.
pub struct Min<T, V> {
    field: Field<T, V>,
}

/// `max(field)`: the largest value in key order, `None` when no row matches.
pub struct Max<T, V> {
    field: Field<T, V>,
}

macro_rules! copy_clone {
    ($($name:ident),*) => {$(
        impl<T, V> Clone for $name<T, V> {
            fn clone(&self) -> Self {
                $name { field: self.field }
            }
        }
        impl<T, V> std::fmt::Debug for $name<T, V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name).to_lowercase(), self.field.name)
            }
        }
    )*};
}
copy_clone!(Sum, Avg, Min, Max);

/// The exact total of a numeric field.
///
/// ```
/// # use drift::prelude::*;
/// # use drift::{avg, count, max, min, sum};
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Sale { #[drift(primary_key)] id: u64, #[drift(index)] shop: u32, amount: u32, note: Option<u32> }
/// # let db = Db::builder().entity::<Sale>().in_memory()?;
/// # db.write(|tx| {
/// #     for (id, shop, amount, note) in [(1, 1, 10, Some(3)), (2, 1, 30, None), (3, 2, 20, Some(1))] {
/// #         tx.insert(&Sale { id, shop, amount, note })?;
/// #     }
/// #     Ok(())
/// # })?;
/// let total: u64 = db.read(|tx| tx.query::<Sale>().aggregate(sum(Sale::AMOUNT)))?;
/// assert_eq!(total, 60);
/// // `None` is skipped: 3 + 1.
/// assert_eq!(db.read(|tx| tx.query::<Sale>().aggregate(sum(Sale::NOTE)))?, 4);
/// # Ok::<(), drift::Error>(())
/// ```
#[must_use]
pub fn sum<T, V: Summable>(field: Field<T, V>) -> Sum<T, V> {
    Sum { field }
}

/// The mean of a numeric field.
///
/// ```
/// # use drift::prelude::*;
/// # use drift::{avg, count, max, min, sum};
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Sale { #[drift(primary_key)] id: u64, #[drift(index)] shop: u32, amount: u32, note: Option<u32> }
/// # let db = Db::builder().entity::<Sale>().in_memory()?;
/// # db.write(|tx| {
/// #     for (id, shop, amount, note) in [(1, 1, 10, Some(3)), (2, 1, 30, None), (3, 2, 20, Some(1))] {
/// #         tx.insert(&Sale { id, shop, amount, note })?;
/// #     }
/// #     Ok(())
/// # })?;
/// let mean = db.read(|tx| tx.query::<Sale>().aggregate(avg(Sale::AMOUNT)))?;
/// assert_eq!(mean, Some(20.0));
/// let none = db.read(|tx| tx.query::<Sale>().filter(Sale::SHOP.eq(9)).aggregate(avg(Sale::AMOUNT)))?;
/// assert_eq!(none, None, "no row matches");
/// # Ok::<(), drift::Error>(())
/// ```
#[must_use]
pub fn avg<T, V: Summable>(field: Field<T, V>) -> Avg<T, V> {
    Avg { field }
}

/// The smallest value of a field, in key order; `None` and NaN are skipped, as SQL skips
/// NULL (`None` when no row has a value).
///
/// ```
/// # use drift::prelude::*;
/// # use drift::{avg, count, max, min, sum};
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Sale { #[drift(primary_key)] id: u64, #[drift(index)] shop: u32, amount: u32, note: Option<u32> }
/// # let db = Db::builder().entity::<Sale>().in_memory()?;
/// # db.write(|tx| {
/// #     for (id, shop, amount, note) in [(1, 1, 10, Some(3)), (2, 1, 30, None), (3, 2, 20, Some(1))] {
/// #         tx.insert(&Sale { id, shop, amount, note })?;
/// #     }
/// #     Ok(())
/// # })?;
/// let least = db.read(|tx| tx.query::<Sale>().aggregate(min(Sale::NOTE)))?;
/// assert_eq!(least, Some(Some(1)), "the `None` of sale 2 is skipped");
/// # Ok::<(), drift::Error>(())
/// ```
#[must_use]
pub fn min<T, V: KeyCodec + Clone>(field: Field<T, V>) -> Min<T, V> {
    Min { field }
}

/// The largest value of a field, in key order; `None` and NaN are skipped, as SQL skips
/// NULL (`None` when no row has a value).
///
/// ```
/// # use drift::prelude::*;
/// # use drift::{avg, count, max, min, sum};
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Sale { #[drift(primary_key)] id: u64, #[drift(index)] shop: u32, amount: u32, note: Option<u32> }
/// # let db = Db::builder().entity::<Sale>().in_memory()?;
/// # db.write(|tx| {
/// #     for (id, shop, amount, note) in [(1, 1, 10, Some(3)), (2, 1, 30, None), (3, 2, 20, Some(1))] {
/// #         tx.insert(&Sale { id, shop, amount, note })?;
/// #     }
/// #     Ok(())
/// # })?;
/// let (most, top_note) = db.read(|tx| tx.query::<Sale>().aggregate((max(Sale::AMOUNT), max(Sale::NOTE))))?;
/// assert_eq!((most, top_note), (Some(30), Some(Some(3))));
/// # Ok::<(), drift::Error>(())
/// ```
#[must_use]
pub fn max<T, V: KeyCodec + Clone>(field: Field<T, V>) -> Max<T, V> {
    Max { field }
}

fn overflow<T: Entity>(field: &'static str) -> Error {
    Error::Overflow { entity: entity_name::<T>(), field }
}

impl<T: Entity, V: Summable + std::fmt::Debug> Agg<T> for Sum<T, V> {
    type Output = V::Sum;
    type Acc = V::Acc;
    fn init(&self) -> V::Acc {
        V::Acc::default()
    }
    fn update(&self, acc: &mut V::Acc, row: &T) -> Result<()> {
        V::add(acc, self.field.get(row)).ok_or_else(|| overflow::<T>(self.field.name))
    }
    fn finish(&self, acc: &V::Acc) -> Result<V::Sum> {
        V::total(acc).ok_or_else(|| overflow::<T>(self.field.name))
    }
    fn describe(&self) -> String {
        format!("sum({})", self.field.name)
    }
}

impl<T: Entity, V: Summable + std::fmt::Debug> Agg<T> for Avg<T, V> {
    type Output = Option<f64>;
    type Acc = (V::Acc, u64);
    fn init(&self) -> (V::Acc, u64) {
        (V::Acc::default(), 0)
    }
    fn update(&self, acc: &mut (V::Acc, u64), row: &T) -> Result<()> {
        let v = self.field.get(row);
        if V::counts(v) {
            V::add(&mut acc.0, v).ok_or_else(|| overflow::<T>(self.field.name))?;
            acc.1 += 1;
        }
        Ok(())
    }
    #[allow(clippy::cast_precision_loss)]
    fn finish(&self, acc: &(V::Acc, u64)) -> Result<Option<f64>> {
        Ok((acc.1 > 0).then(|| V::acc_f64(&acc.0) / acc.1 as f64))
    }
    fn describe(&self) -> String {
        format!("avg({})", self.field.name)
    }
}

macro_rules! extreme {
    ($name:ident, $label:literal, $keep:expr) => {
        impl<T: Entity, V: KeyCodec + Clone + std::fmt::Debug + Send + Sync + 'static> Agg<T> for $name<T, V> {
            type Output = Option<V>;
            type Acc = Option<V>;
            fn init(&self) -> Option<V> {
                None
            }
            fn update(&self, acc: &mut Option<V>, row: &T) -> Result<()> {
                let v = self.field.get(row);
                // `None` (and a NaN float) is skipped, as SQL skips NULL: as `sum`
                // and `avg` do.
                if v.__no_value() {
                    return Ok(());
                }
                let replace = match acc {
                    None => true,
                    Some(cur) => $keep(v.key_cmp(cur)),
                };
                if replace {
                    *acc = Some(v.clone());
                }
                Ok(())
            }
            fn finish(&self, acc: &Option<V>) -> Result<Option<V>> {
                Ok(acc.clone())
            }
            fn describe(&self) -> String {
                format!("{}({})", $label, self.field.name)
            }
        }
    };
}
extreme!(Min, "min", std::cmp::Ordering::is_lt);
extreme!(Max, "max", std::cmp::Ordering::is_gt);

/// The aggregates of one pass: a single aggregate ([`count`], [`sum`], [`avg`],
/// [`min`], [`max`]), whose output is its value, or a tuple of up to six [`Agg`]s,
/// whose output is the tuple of their values.
pub trait AggSet<T>: Clone + Send + Sync + 'static {
    /// The result: one aggregate's value, or the tuple of values.
    type Output: Clone + std::fmt::Debug + Send + Sync + 'static;
    #[doc(hidden)]
    type Accs: Clone + Send + Sync + 'static;
    #[doc(hidden)]
    fn init(&self) -> Self::Accs;
    #[doc(hidden)]
    fn update(&self, accs: &mut Self::Accs, row: &T) -> Result<()>;
    #[doc(hidden)]
    fn needs_rows(&self) -> bool;
    #[doc(hidden)]
    fn add_rows(&self, accs: &mut Self::Accs, n: u64);
    #[doc(hidden)]
    fn finish(&self, accs: &Self::Accs) -> Result<Self::Output>;
    #[doc(hidden)]
    fn describe(&self) -> Vec<String>;
}

macro_rules! agg_tuple {
    ($($a:ident $i:tt),+) => {
        impl<T: 'static, $($a: Agg<T>),+> AggSet<T> for ($($a,)+) {
            type Output = ($($a::Output,)+);
            type Accs = ($($a::Acc,)+);
            fn init(&self) -> Self::Accs {
                ($(self.$i.init(),)+)
            }
            fn update(&self, accs: &mut Self::Accs, row: &T) -> Result<()> {
                $(self.$i.update(&mut accs.$i, row)?;)+
                Ok(())
            }
            fn needs_rows(&self) -> bool {
                false $(|| self.$i.needs_rows())+
            }
            fn add_rows(&self, accs: &mut Self::Accs, n: u64) {
                $(self.$i.add_rows(&mut accs.$i, n);)+
            }
            fn finish(&self, accs: &Self::Accs) -> Result<Self::Output> {
                Ok(($(self.$i.finish(&accs.$i)?,)+))
            }
            fn describe(&self) -> Vec<String> {
                vec![$(self.$i.describe()),+]
            }
        }
    };
}
agg_tuple!(A 0);
agg_tuple!(A 0, B 1);
agg_tuple!(A 0, B 1, C 2);
agg_tuple!(A 0, B 1, C 2, D 3);
agg_tuple!(A 0, B 1, C 2, D 3, E 4);
agg_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

// One aggregate on its own is a set whose output is the bare value, so that
// `q.aggregate(count())` returns `u64` rather than `(u64,)`. The impls are per type:
// a blanket `impl<A: Agg<T>> AggSet<T> for A` would overlap the tuple impls, since
// another crate may implement `Agg<Local>` for a tuple.
macro_rules! agg_single {
    ($ty:ty, [$($gen:tt)*]) => {
        impl<$($gen)*> AggSet<T> for $ty
        where
            $ty: Agg<T>,
        {
            type Output = <$ty as Agg<T>>::Output;
            type Accs = <$ty as Agg<T>>::Acc;
            fn init(&self) -> Self::Accs {
                Agg::init(self)
            }
            fn update(&self, accs: &mut Self::Accs, row: &T) -> Result<()> {
                Agg::update(self, accs, row)
            }
            fn needs_rows(&self) -> bool {
                Agg::needs_rows(self)
            }
            fn add_rows(&self, accs: &mut Self::Accs, n: u64) {
                Agg::add_rows(self, accs, n);
            }
            fn finish(&self, accs: &Self::Accs) -> Result<Self::Output> {
                Agg::finish(self, accs)
            }
            fn describe(&self) -> Vec<String> {
                vec![Agg::describe(self)]
            }
        }
    };
}
agg_single!(Count, [T: 'static]);
agg_single!(Sum<T, V>, [T: 'static, V: 'static]);
agg_single!(Avg<T, V>, [T: 'static, V: 'static]);
agg_single!(Min<T, V>, [T: 'static, V: 'static]);
agg_single!(Max<T, V>, [T: 'static, V: 'static]);

/// A comparison on an aggregate's value, for `having`: `count().gt(2)`.
#[derive(Clone)]
pub struct Having<A, S> {
    agg: A,
    op: Cmp,
    value: S,
}

impl<A: std::fmt::Debug, S: std::fmt::Debug> std::fmt::Debug for Having<A, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {} {:?}", self.agg, self.op.symbol(), self.value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
        }
    }

    fn test<S: PartialOrd>(self, a: &S, b: &S) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Lte => a <= b,
            Cmp::Gt => a > b,
            Cmp::Gte => a >= b,
        }
    }
}

/// An aggregate whose value can be compared with a plain value in `having`
/// (`Option` results compare false when `None`, as SQL NULL).
pub trait Scalar<T>: Agg<T> {
    /// The plain value compared.
    type Scalar: PartialOrd + Clone + std::fmt::Debug + Send + Sync + 'static;
    #[doc(hidden)]
    fn scalar(out: &Self::Output) -> Option<Self::Scalar>;
}

impl<T: 'static> Scalar<T> for Count {
    type Scalar = u64;
    fn scalar(out: &u64) -> Option<u64> {
        Some(*out)
    }
}

impl<T: Entity, V: Summable + std::fmt::Debug> Scalar<T> for Sum<T, V> {
    type Scalar = V::Sum;
    fn scalar(out: &V::Sum) -> Option<V::Sum> {
        Some(out.clone())
    }
}

impl<T: Entity, V: Summable + std::fmt::Debug> Scalar<T> for Avg<T, V> {
    type Scalar = f64;
    fn scalar(out: &Option<f64>) -> Option<f64> {
        *out
    }
}

impl<T: Entity, V: KeyCodec + Clone + PartialOrd + std::fmt::Debug + Send + Sync + 'static> Scalar<T> for Min<T, V> {
    type Scalar = V;
    fn scalar(out: &Option<V>) -> Option<V> {
        out.clone()
    }
}

impl<T: Entity, V: KeyCodec + Clone + PartialOrd + std::fmt::Debug + Send + Sync + 'static> Scalar<T> for Max<T, V> {
    type Scalar = V;
    fn scalar(out: &Option<V>) -> Option<V> {
        out.clone()
    }
}

macro_rules! comparisons {
    ($ty:ty, $scalar:ty, [$($gen:tt)*]) => {
        impl<$($gen)*> $ty {
            /// `having`: the aggregate equals `v`.
            #[must_use]
            pub fn eq(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Eq, value: v } }
            /// `having`: the aggregate differs from `v`.
            #[must_use]
            pub fn ne(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Ne, value: v } }
            /// `having`: the aggregate is less than `v`.
            #[must_use]
            pub fn lt(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Lt, value: v } }
            /// `having`: the aggregate is at most `v`.
            #[must_use]
            pub fn lte(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Lte, value: v } }
            /// `having`: the aggregate is greater than `v`.
            #[must_use]
            pub fn gt(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Gt, value: v } }
            /// `having`: the aggregate is at least `v`.
            #[must_use]
            pub fn gte(self, v: $scalar) -> Having<Self, $scalar> { Having { agg: self, op: Cmp::Gte, value: v } }
            /// Groups ordered by this aggregate, ascending.
            #[must_use]
            pub fn asc(self) -> AggOrder<Self> { AggOrder { agg: self, desc: false } }
            /// Groups ordered by this aggregate, descending.
            #[must_use]
            pub fn desc(self) -> AggOrder<Self> { AggOrder { agg: self, desc: true } }
        }
    };
}
comparisons!(Count, u64, []);
comparisons!(Sum<T, V>, V::Sum, [T, V: Summable]);
comparisons!(Avg<T, V>, f64, [T, V: Summable]);
comparisons!(Min<T, V>, V, [T, V: KeyCodec + Clone]);
comparisons!(Max<T, V>, V, [T, V: KeyCodec + Clone]);

/// An ordering of groups by an aggregate: `count().desc()`.
#[derive(Debug, Clone)]
pub struct AggOrder<A> {
    agg: A,
    desc: bool,
}

/// Per-group state of a `having` predicate or an aggregate ordering, type-erased so
/// that a grouped query can hold any number of them.
pub(crate) trait DynAcc<T> {
    fn update(&mut self, row: &T) -> Result<()>;
    fn add_rows(&mut self, n: u64);
    /// For `having`: whether the group passes.
    fn test(&self) -> Result<bool>;
    /// For `order_by`: the aggregate's key encoding (`None` sorts first).
    fn sort_key(&self) -> Result<Vec<u8>>;
}

/// A type-erased aggregate that makes per-group states.
pub(crate) trait DynAgg<T>: Send + Sync {
    fn start(&self) -> Box<dyn DynAcc<T>>;
    fn needs_rows(&self) -> bool;
    fn describe(&self) -> String;
}

struct HavingAcc<A: Agg<T>, S, T> {
    h: Having<A, S>,
    acc: A::Acc,
    _t: PhantomData<fn(&T)>,
}

impl<T: 'static, A: Scalar<T, Scalar = S>, S: PartialOrd + Clone + std::fmt::Debug + Send + Sync + 'static> DynAcc<T>
    for HavingAcc<A, S, T>
{
    fn update(&mut self, row: &T) -> Result<()> {
        self.h.agg.update(&mut self.acc, row)
    }
    fn add_rows(&mut self, n: u64) {
        self.h.agg.add_rows(&mut self.acc, n);
    }
    fn test(&self) -> Result<bool> {
        let out = self.h.agg.finish(&self.acc)?;
        Ok(A::scalar(&out).is_some_and(|v| self.h.op.test(&v, &self.h.value)))
    }
    fn sort_key(&self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
}

impl<
    T: 'static,
    A: Scalar<T, Scalar = S> + std::fmt::Debug,
    S: PartialOrd + Clone + std::fmt::Debug + Send + Sync + 'static,
> DynAgg<T> for Having<A, S>
{
    fn start(&self) -> Box<dyn DynAcc<T>> {
        Box::new(HavingAcc { h: self.clone(), acc: self.agg.init(), _t: PhantomData })
    }
    fn needs_rows(&self) -> bool {
        self.agg.needs_rows()
    }
    fn describe(&self) -> String {
        format!("{} {} {:?}", self.agg.describe(), self.op.symbol(), self.value)
    }
}

struct OrderAcc<A: Agg<T>, T> {
    agg: A,
    acc: A::Acc,
    _t: PhantomData<fn(&T)>,
}

impl<T: 'static, A: Agg<T>> DynAcc<T> for OrderAcc<A, T>
where
    A::Output: KeyCodec,
{
    fn update(&mut self, row: &T) -> Result<()> {
        self.agg.update(&mut self.acc, row)
    }
    fn add_rows(&mut self, n: u64) {
        self.agg.add_rows(&mut self.acc, n);
    }
    fn test(&self) -> Result<bool> {
        Ok(true)
    }
    fn sort_key(&self) -> Result<Vec<u8>> {
        // A flag, then the key; a NaN average has no key: flag 1, sorted last in either
        // direction (see `Grouped::run`).
        Ok(match self.agg.finish(&self.acc)?.to_key_bytes() {
            Ok(key) => std::iter::once(0).chain(key).collect(),
            Err(_) => vec![1],
        })
    }
}

impl<T: 'static, A: Agg<T>> DynAgg<T> for AggOrder<A>
where
    A::Output: KeyCodec,
{
    fn start(&self) -> Box<dyn DynAcc<T>> {
        Box::new(OrderAcc { agg: self.agg.clone(), acc: self.agg.init(), _t: PhantomData })
    }
    fn needs_rows(&self) -> bool {
        self.agg.needs_rows()
    }
    fn describe(&self) -> String {
        format!("{} {}", self.agg.describe(), if self.desc { "DESC" } else { "ASC" })
    }
}

impl<A> AggOrder<A> {
    pub(crate) fn is_desc(&self) -> bool {
        self.desc
    }
}
