//! Relations: the lazy-load proxies stored in relation fields, relation handles for
//! eager loading, and the loaders both use.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::catalog::{EntityInfo, RelInfo, child_prefix};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::read::{self, Reader};
use crate::read::{for_each_key_with_prefix, keys_with_prefix};
use crate::row::fk_error;
use crate::row::{entity_name, render_key};
use crate::stats::Counters;
use crate::transaction::{ReadTx, WriteTx};

/// A transaction that relation accessors can read through: [`ReadTx`](crate::ReadTx)
/// or [`WriteTx`].
pub trait Transaction: sealed::Sealed {
    #[doc(hidden)]
    fn __reader(&self) -> Reader<'_>;
}

macro_rules! proxy {
    ($(#[$doc:meta])* $name:ident, $store:ty, $loaded:ty, $empty:literal) => {
        $(#[$doc])*
        pub struct $name<R> {
            cell: OnceLock<$store>,
        }

        impl<R> Default for $name<R> {
            fn default() -> Self {
                $name { cell: OnceLock::new() }
            }
        }

        impl<R: Clone> Clone for $name<R> {
            fn clone(&self) -> Self {
                let cell = OnceLock::new();
                if let Some(v) = self.cell.get() {
                    let _ = cell.set(v.clone());
                }
                $name { cell }
            }
        }

        /// Proxies never take part in equality: two rows are equal when their stored
        /// fields are.
        impl<R> PartialEq for $name<R> {
            fn eq(&self, _other: &Self) -> bool {
                true
            }
        }

        impl<R> fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.cell.get() {
                    None => write!(f, "{}(unloaded)", stringify!($name)),
                    Some(v) => write!(f, "{}(loaded: {})", stringify!($name), Self::describe(v)),
                }
            }
        }

        impl<R> $name<R> {
            /// Whether the relation has been loaded (eagerly or by its accessor).
            #[must_use]
            pub fn is_loaded(&self) -> bool {
                self.cell.get().is_some()
            }

            /// The three states: `None` while unloaded, else what was loaded.
            #[must_use]
            pub fn state(&self) -> Option<$loaded> {
                self.cell.get().map(Self::view)
            }

            #[doc(hidden)]
            pub fn __set(&self, value: $store) {
                let _ = self.cell.set(value);
            }

            fn get_or_load(&self, load: impl FnOnce() -> Result<$store>) -> Result<&$store> {
                if let Some(v) = self.cell.get() {
                    return Ok(v);
                }
                let v = load()?;
                let _ = self.cell.set(v);
                self.cell.get().ok_or(Error::Query { entity: "relation", field: $empty, reason: "proxy did not keep its value".into() })
            }
        }
    };
}

proxy!(
    /// The parent of a `#[drift(belongs_to(..))]` relation: unloaded, loaded and
    /// absent (an optional key that is `None`), or loaded. Never stored.
    BelongsTo, Option<Box<R>>, Option<&R>, "belongs_to"
);
proxy!(
    /// The children of a `#[drift(has_many(..))]` relation. Never stored.
    HasMany, Vec<R>, &[R], "has_many"
);
proxy!(
    /// The child of a `#[drift(has_one(..))]` relation. Never stored.
    HasOne, Option<Box<R>>, Option<&R>, "has_one"
);
proxy!(
    /// The rows paired through the join entity of a `#[drift(many_to_many(..))]`
    /// relation. Never stored.
    ManyToMany, Vec<R>, &[R], "many_to_many"
);

impl<R> BelongsTo<R> {
    /// The loaded parent; `None` while unloaded or when the key is `None`.
    #[must_use]
    pub fn loaded(&self) -> Option<&R> {
        self.state().flatten()
    }
    fn view(v: &Option<Box<R>>) -> Option<&R> {
        v.as_deref()
    }
    fn describe(v: &Option<Box<R>>) -> &'static str {
        if v.is_some() { "present" } else { "none" }
    }
}
impl<R> HasOne<R> {
    /// The loaded child; `None` while unloaded or when there is none.
    #[must_use]
    pub fn loaded(&self) -> Option<&R> {
        self.state().flatten()
    }
    fn view(v: &Option<Box<R>>) -> Option<&R> {
        v.as_deref()
    }
    fn describe(v: &Option<Box<R>>) -> &'static str {
        if v.is_some() { "present" } else { "none" }
    }
}
impl<R> HasMany<R> {
    /// The loaded children; `None` while unloaded.
    #[must_use]
    pub fn loaded(&self) -> Option<&[R]> {
        self.state()
    }
    #[allow(clippy::ptr_arg)]
    fn view(v: &Vec<R>) -> &[R] {
        v
    }
    #[allow(clippy::ptr_arg)]
    fn describe(v: &Vec<R>) -> String {
        format!("{} rows", v.len())
    }
}
impl<R> ManyToMany<R> {
    /// The loaded rows; `None` while unloaded.
    #[must_use]
    pub fn loaded(&self) -> Option<&[R]> {
        self.state()
    }
    #[allow(clippy::ptr_arg)]
    fn view(v: &Vec<R>) -> &[R] {
        v
    }
    #[allow(clippy::ptr_arg)]
    fn describe(v: &Vec<R>) -> String {
        format!("{} rows", v.len())
    }
}

/// Where a relation handle finds the proxy in a row.
#[doc(hidden)]
pub enum ProxyOf<T, R> {
    BelongsTo(fn(&T) -> &BelongsTo<R>),
    HasMany(fn(&T) -> &HasMany<R>),
    HasOne(fn(&T) -> &HasOne<R>),
    ManyToMany(fn(&T) -> &ManyToMany<R>),
}

impl<T, R> Clone for ProxyOf<T, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, R> Copy for ProxyOf<T, R> {}

impl<T, R> std::fmt::Debug for ProxyOf<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProxyOf::BelongsTo(_) => "ProxyOf::BelongsTo",
            ProxyOf::HasMany(_) => "ProxyOf::HasMany",
            ProxyOf::HasOne(_) => "ProxyOf::HasOne",
            ProxyOf::ManyToMany(_) => "ProxyOf::ManyToMany",
        })
    }
}

/// Loads a relation for a batch of rows (one pass per relation).
#[doc(hidden)]
pub trait Eager<T>: Send + Sync + sealed::Sealed {
    fn load(&self, reader: Reader<'_>, rows: &mut [T]) -> Result<()>;
    fn describe(&self) -> String;
}

/// A typed handle on a relation of `T` to `R`, generated as an associated const
/// (`Post::AUTHOR`, `User::POSTS`), for eager loading: `query.with(Post::AUTHOR)`,
/// nested with `User::POSTS.then(Post::TAGS)`.
pub struct Relation<T, R> {
    name: &'static str,
    index: usize,
    proxy: ProxyOf<T, R>,
    nested: Vec<Arc<dyn Eager<R>>>,
}

impl<T, R> Clone for Relation<T, R> {
    fn clone(&self) -> Self {
        Relation { name: self.name, index: self.index, proxy: self.proxy, nested: self.nested.clone() }
    }
}

impl<T, R> fmt::Debug for Relation<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Relation({})", self.name)
    }
}

impl<T, R> Relation<T, R> {
    #[doc(hidden)]
    #[must_use]
    pub const fn __new(name: &'static str, index: usize, proxy: ProxyOf<T, R>) -> Self {
        Relation { name, index, proxy, nested: Vec::new() }
    }

    /// The relation field's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<T: Entity, R: Entity> Relation<T, R> {
    /// Also loads `next` on the related rows: `User::POSTS.then(Post::TAGS)`.
    #[must_use]
    pub fn then<S: Entity>(mut self, next: Relation<R, S>) -> Self {
        self.nested.push(Arc::new(next));
        self
    }
}

impl<T: Entity, R: Entity> Eager<T> for Relation<T, R> {
    fn load(&self, reader: Reader<'_>, rows: &mut [T]) -> Result<()> {
        match self.proxy {
            ProxyOf::BelongsTo(proxy) => eager_belongs_to(reader, rows, self.index, proxy, &self.nested),
            ProxyOf::HasMany(proxy) => {
                eager_children(reader, rows, self.index, &self.nested, |row, kids| proxy(row).__set(kids))
            }
            ProxyOf::HasOne(proxy) => eager_children(reader, rows, self.index, &self.nested, |row, kids| {
                proxy(row).__set(kids.into_iter().next().map(Box::new));
            }),
            ProxyOf::ManyToMany(proxy) => eager_many_to_many(reader, rows, self.index, proxy, &self.nested),
        }
    }

    fn describe(&self) -> String {
        let nested: Vec<String> = self.nested.iter().map(|n| n.describe()).collect();
        if nested.is_empty() { self.name.to_string() } else { format!("{}.then({})", self.name, nested.join(", ")) }
    }
}

fn rel_name<T: Entity>(rel: usize) -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    schema.relations.get(rel).map_or("relation", |r| &*r.name)
}

fn rel_info<'a, T: Entity>(reader: &Reader<'a>, rel: usize) -> Result<(&'a EntityInfo, &'a RelInfo)> {
    let info = read::info::<T>(reader.catalog)?;
    let r = info.relations.get(rel).ok_or_else(|| Error::Query {
        entity: entity_name::<T>(),
        field: rel_name::<T>(rel),
        reason: "unknown relation".into(),
    })?;
    Ok((info, r))
}

fn lazy_guard<T: Entity>(reader: &Reader<'_>, rel: usize) -> Result<()> {
    if reader.strict {
        return Err(Error::StrictLoading { entity: entity_name::<T>(), relation: rel_name::<T>(rel) });
    }
    Counters::bump(&reader.counters.lazy_loads);
    Ok(())
}

/// Rows of `R` for the given stored keys, read in key order (each key once).
fn fetch_sorted<R: Entity>(
    reader: &Reader<'_>,
    keys: impl IntoIterator<Item = Vec<u8>>,
) -> Result<BTreeMap<Vec<u8>, R>> {
    let info = read::info::<R>(reader.catalog)?;
    let mut out = BTreeMap::new();
    let keys: std::collections::BTreeSet<Vec<u8>> = keys.into_iter().collect();
    for k in keys {
        match reader.get_raw::<R>(info, &k)? {
            Some(row) => {
                out.insert(k, row);
            }
            None => {
                return Err(Error::Decode {
                    entity: entity_name::<R>(),
                    key: render_key::<R>(&k),
                    reason: "a relation refers to a missing row".into(),
                });
            }
        }
    }
    Ok(out)
}

fn own_key<T: Entity>(row: &T) -> Result<Vec<u8>> {
    let mut kb = Vec::with_capacity(16);
    row.__encode_key(&mut kb).map_err(|source| Error::Key {
        entity: entity_name::<T>(),
        field: "primary key",
        key: format!("{:?}", row.key()),
        source,
    })?;
    Ok(kb)
}

/// `child.author(&tx)`: the parent of a `belongs_to`, loaded once into the proxy.
#[doc(hidden)]
pub fn lazy_belongs_to<'s, C: Entity, P: Entity>(
    reader: Reader<'_>,
    child: &C,
    rel: usize,
    proxy: &'s BelongsTo<P>,
) -> Result<Option<&'s P>> {
    let loaded = proxy.get_or_load(|| {
        lazy_guard::<C>(&reader, rel)?;
        let mut kb = Vec::with_capacity(16);
        let present = child.__belongs_to_key(rel, &mut kb).map_err(|s| fk_error::<C>(rel, &[], s))?;
        if !present {
            return Ok(None);
        }
        let info = read::info::<P>(reader.catalog)?;
        Ok(reader.get_raw::<P>(info, &kb)?.map(Box::new))
    })?;
    Ok(loaded.as_deref())
}

/// The error for a required parent that is missing.
#[doc(hidden)]
pub fn dangling<C: Entity, P: Entity>(child: &C, rel: usize) -> Error {
    Error::ForeignKey {
        entity: entity_name::<C>(),
        field: rel_name::<C>(rel).to_string(),
        key: format!("{:?}", child.key()),
        parent: entity_name::<P>(),
        parent_key: "(missing)".into(),
    }
}

fn children_of<P: Entity, C: Entity>(reader: &Reader<'_>, parent_key: &[u8], rel: usize) -> Result<Vec<C>> {
    let (_, r) = rel_info::<P>(reader, rel)?;
    let RelInfo::HasMany { child, source, optional } = r else {
        return Err(Error::Query {
            entity: entity_name::<P>(),
            field: rel_name::<P>(rel),
            reason: "not a has_many".into(),
        });
    };
    let target = &reader.catalog.entities[*child];
    let keys = keys_with_prefix(reader, target, *source, &child_prefix(parent_key, *optional))?;
    Ok(fetch_sorted::<C>(reader, keys)?.into_values().collect())
}

/// `user.posts(&tx)`: the children of a `has_many`, loaded once into the proxy.
#[doc(hidden)]
pub fn lazy_has_many<'s, P: Entity, C: Entity>(
    reader: Reader<'_>,
    parent: &P,
    rel: usize,
    proxy: &'s HasMany<C>,
) -> Result<&'s [C]> {
    let v = proxy.get_or_load(|| {
        lazy_guard::<P>(&reader, rel)?;
        children_of::<P, C>(&reader, &own_key(parent)?, rel)
    })?;
    Ok(v)
}

/// `user.profile(&tx)`: the child of a `has_one`, loaded once into the proxy.
#[doc(hidden)]
pub fn lazy_has_one<'s, P: Entity, C: Entity>(
    reader: Reader<'_>,
    parent: &P,
    rel: usize,
    proxy: &'s HasOne<C>,
) -> Result<Option<&'s C>> {
    let v = proxy.get_or_load(|| {
        lazy_guard::<P>(&reader, rel)?;
        Ok(children_of::<P, C>(&reader, &own_key(parent)?, rel)?.into_iter().next().map(Box::new))
    })?;
    Ok(v.as_deref())
}

/// Keys of the rows paired with `key` through the join of relation `rel`.
fn paired_keys<S: Entity>(reader: &Reader<'_>, key: &[u8], rel: usize) -> Result<Vec<Vec<u8>>> {
    let (_, r) = rel_info::<S>(reader, rel)?;
    let RelInfo::ManyToMany { join, source, other_rel, .. } = r else {
        return Err(Error::Query {
            entity: entity_name::<S>(),
            field: rel_name::<S>(rel),
            reason: "not a many_to_many".into(),
        });
    };
    let jinfo = &reader.catalog.entities[*join];
    let mut out = Vec::new();
    for jk in keys_with_prefix(reader, jinfo, *source, key)? {
        Counters::bump(&reader.counters.gets);
        let Some(row) = reader.store.get(jinfo.table, &jk)? else { continue };
        if let Some(other) = (jinfo.vtable.fk_of_row)(reader.counters, &jk, row.bytes(), *other_rel)? {
            out.push(other);
        }
    }
    Ok(out)
}

/// `post.tags(&tx)`: the rows paired through a join entity, loaded once.
#[doc(hidden)]
pub fn lazy_many_to_many<'s, S: Entity, O: Entity>(
    reader: Reader<'_>,
    this: &S,
    rel: usize,
    proxy: &'s ManyToMany<O>,
) -> Result<&'s [O]> {
    let v = proxy.get_or_load(|| {
        lazy_guard::<S>(&reader, rel)?;
        let keys = paired_keys::<S>(&reader, &own_key(this)?, rel)?;
        Ok(fetch_sorted::<O>(&reader, keys)?.into_values().collect())
    })?;
    Ok(v)
}

fn apply_nested<R>(reader: Reader<'_>, rows: &mut [R], nested: &[Arc<dyn Eager<R>>]) -> Result<()> {
    for n in nested {
        n.load(reader, rows)?;
    }
    Ok(())
}

/// One batched pass: the distinct parent keys of all rows, sorted, read once each.
fn eager_belongs_to<C: Entity, P: Entity>(
    reader: Reader<'_>,
    rows: &mut [C],
    rel: usize,
    proxy: fn(&C) -> &BelongsTo<P>,
    nested: &[Arc<dyn Eager<P>>],
) -> Result<()> {
    let mut fks: Vec<Option<Vec<u8>>> = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let mut kb = Vec::with_capacity(16);
        let present = row.__belongs_to_key(rel, &mut kb).map_err(|s| fk_error::<C>(rel, &[], s))?;
        fks.push(present.then_some(kb));
    }
    let parents = fetch_sorted::<P>(&reader, fks.iter().flatten().cloned())?;
    let (keys, mut values): (Vec<Vec<u8>>, Vec<P>) = parents.into_iter().unzip();
    apply_nested(reader, &mut values, nested)?;
    let by_key: BTreeMap<Vec<u8>, P> = keys.into_iter().zip(values).collect();
    for (row, fk) in rows.iter().zip(fks) {
        proxy(row).__set(fk.and_then(|k| by_key.get(&k).cloned()).map(Box::new));
    }
    Ok(())
}

/// One batched pass: for each distinct parent key (sorted), a prefix scan of the
/// children's foreign-key index; the children are then read in key order.
fn eager_children<P: Entity, C: Entity>(
    reader: Reader<'_>,
    rows: &mut [P],
    rel: usize,
    nested: &[Arc<dyn Eager<C>>],
    set: impl Fn(&P, Vec<C>),
) -> Result<()> {
    let (_, r) = rel_info::<P>(&reader, rel)?;
    let RelInfo::HasMany { child, source, optional } = r else {
        return Err(Error::Query {
            entity: entity_name::<P>(),
            field: rel_name::<P>(rel),
            reason: "not a has_many".into(),
        });
    };
    let target = &reader.catalog.entities[*child];
    let mut parent_keys: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        parent_keys.entry(own_key(row)?).or_default().push(i);
    }
    // The children of each distinct parent, in parent-key order, each parent's in
    // the order of the foreign-key index (its own key order), read as the index is
    // walked: one pass, no per-child key copies. A child has one parent, so no child
    // is read twice.
    let mut kids: Vec<C> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(parent_keys.len());
    let mut prev: Vec<u8> = Vec::new();
    for pk in parent_keys.keys() {
        let start = kids.len();
        // An index with more fields after the foreign key gives a parent's children
        // in the order of those fields; they are returned in key order.
        let mut in_key_order = true;
        for_each_key_with_prefix(&reader, target, *source, &child_prefix(pk, *optional), &mut |ck| {
            if kids.len() > start && ck < prev.as_slice() {
                in_key_order = false;
            }
            prev.clear();
            prev.extend_from_slice(ck);
            match reader.get_scanned::<C>(target, ck)? {
                Some(c) => {
                    kids.push(c);
                    Ok(())
                }
                None => Err(Error::Decode {
                    entity: entity_name::<C>(),
                    key: render_key::<C>(ck),
                    reason: "a relation refers to a missing row".into(),
                }),
            }
        })?;
        if !in_key_order {
            let mut keyed =
                kids.split_off(start).into_iter().map(|c| Ok((own_key(&c)?, c))).collect::<Result<Vec<_>>>()?;
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            kids.extend(keyed.into_iter().map(|(_, c)| c));
        }
        ends.push(kids.len());
    }
    apply_nested(reader, &mut kids, nested)?;
    let mut kids = kids.into_iter();
    let mut start = 0;
    for ((_, idxs), end) in parent_keys.into_iter().zip(ends) {
        let mut mine: Vec<C> = kids.by_ref().take(end - start).collect();
        start = end;
        let last = idxs.len().saturating_sub(1);
        for (n, &i) in idxs.iter().enumerate() {
            // The same parent twice in one result gets a copy.
            let v = if n == last { std::mem::take(&mut mine) } else { mine.clone() };
            set(&rows[i], v);
        }
    }
    Ok(())
}

/// One batched pass: the join rows of every distinct key, then the distinct paired
/// rows, sorted, read once each.
fn eager_many_to_many<S: Entity, O: Entity>(
    reader: Reader<'_>,
    rows: &mut [S],
    rel: usize,
    proxy: fn(&S) -> &ManyToMany<O>,
    nested: &[Arc<dyn Eager<O>>],
) -> Result<()> {
    let mut pairs: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    let mut own: Vec<Vec<u8>> = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        let k = own_key(row)?;
        if !pairs.contains_key(&k) {
            let others = paired_keys::<S>(&reader, &k, rel)?;
            pairs.insert(k.clone(), others);
        }
        own.push(k);
    }
    let others = fetch_sorted::<O>(&reader, pairs.values().flatten().cloned())?;
    let (okeys, mut ovals): (Vec<Vec<u8>>, Vec<O>) = others.into_iter().unzip();
    apply_nested(reader, &mut ovals, nested)?;
    let by_key: BTreeMap<Vec<u8>, O> = okeys.into_iter().zip(ovals).collect();
    for (row, k) in rows.iter().zip(own) {
        let list =
            pairs.get(&k).map(|ks| ks.iter().filter_map(|o| by_key.get(o).cloned()).collect()).unwrap_or_default();
        proxy(row).__set(list);
    }
    Ok(())
}

/// Seals [`Transaction`] and [`Eager`]: Drift implements them for its own types
/// only, so they can grow methods without breaking anyone.
mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::transaction::ReadTx {}
    impl Sealed for crate::transaction::WriteTx {}
    impl<T, R> Sealed for super::Relation<T, R> {}
}

impl Transaction for ReadTx {
    fn __reader(&self) -> Reader<'_> {
        self.reader()
    }
}

impl Transaction for WriteTx {
    fn __reader(&self) -> Reader<'_> {
        self.reader()
    }
}
