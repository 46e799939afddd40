//! Write statements: insert, update, upsert and delete of one row, with their index
//! entries and the limits on keys and rows.

use super::Sequence;
use super::{Buffers, WriteTx};
use crate::catalog::EntityInfo;
use crate::changes::ChangeKind;
use crate::codec::KeyCodec;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::message::shorten;
use crate::read::{self};
use crate::row::{entity_name, render_key};
use crate::stats::Counters;
use crate::storage::ReadAccess;

/// The longest encoded primary key, and the longest encoded values of an index entry
/// (a non-unique entry adds the primary key), that a write accepts: 1 KiB. Longer
/// keys fail with [`Error::KeyTooLarge`]. Keys are compared on every B-tree step and
/// repeated in every index entry, so a long one costs on every read.
pub const MAX_KEY_LEN: usize = 1024;

/// The longest encoded row that a write accepts: 16 MiB. Longer rows fail with
/// [`Error::RowTooLarge`]. Rows are read whole, so larger values belong in a file
/// of their own.
pub const MAX_ROW_LEN: usize = 16 << 20;

impl WriteTx {
    /// Inserts a new row and returns its key. When the entity has an
    /// `auto_increment` key and it is 0, the next key of the sequence is assigned.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key, auto_increment)] id: u64, title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let (a, b) = db.write(|tx| {
    ///     let a = tx.insert(&Task { title: "plan".into(), ..Default::default() })?;
    ///     let b = tx.insert(&Task { title: "build".into(), ..Default::default() })?;
    ///     Ok((a, b))
    /// })?;
    /// assert_eq!((a, b), (1, 2));
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&2))?.map(|t| t.title), Some("build".into()));
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Validation`] listing every broken `validate` rule,
    /// [`Error::AlreadyExists`] when the key is taken, [`Error::UniqueViolation`]
    /// when a unique index already holds one of the values, [`Error::Key`] for a
    /// value that cannot be a key (NaN), [`Error::KeyTooLarge`] and
    /// [`Error::RowTooLarge`] over [`MAX_KEY_LEN`] and [`MAX_ROW_LEN`]. On error
    /// nothing is written and the transaction stays usable.
    pub fn insert<T: Entity>(&mut self, entity: &T) -> Result<T::Key> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            tx.insert_in(info, entity)
        });
        self.with_context::<T, _>("insert", r)
    }

    /// Replaces the stored row that has the entity's key.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1, done: false }))?;
    /// db.write(|tx| tx.update(&Task { id: 1, done: true }))?;
    /// assert_eq!(db.read(|tx| tx.get::<Task>(&1))?, Some(Task { id: 1, done: true }));
    /// // There is no row 2 to update.
    /// let err = db.write(|tx| tx.update(&Task { id: 2, done: true })).unwrap_err();
    /// assert_eq!(err.kind(), drift::ErrorKind::NotFound);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Validation`], [`Error::NotFound`] when there is no such row, and as
    /// [`insert`](Self::insert). On error nothing is written.
    pub fn update<T: Entity>(&mut self, entity: &T) -> Result<()> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            tx.update_in(info, entity, false).map(|_| ())
        });
        self.with_context::<T, _>("update", r)
    }

    /// Inserts the entity, or replaces the row with its key. Returns the key.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.upsert(&Task { id: 1, done: false }))?; // inserts
    /// db.write(|tx| tx.upsert(&Task { id: 1, done: true }))?; // replaces
    /// let all = db.read(|tx| tx.query::<Task>().all())?;
    /// assert_eq!(all, [Task { id: 1, done: true }]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`insert`](Self::insert) and [`update`](Self::update).
    pub fn upsert<T: Entity>(&mut self, entity: &T) -> Result<T::Key> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            validate(entity)?;
            if entity.__auto_key() == Some(0) {
                return tx.insert_in(info, entity);
            }
            match tx.update_in(info, entity, true)? {
                true => Ok(entity.key()),
                false => tx.insert_in(info, entity),
            }
        });
        self.with_context::<T, _>("upsert", r)
    }

    /// Deletes the rows of `T` with the encoded `keys`, with each row's `on_delete`
    /// rules, as one statement: all of them or, on error, none. Returns how many
    /// rows were deleted (a key with no row counts for nothing).
    pub(crate) fn delete_keys<T: Entity>(&mut self, keys: &[Vec<u8>]) -> Result<u64> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        self.bufs.key.clear();
        let r = self.statement(|tx| {
            tx.restricts.clear();
            let mut n = 0;
            let r = (|| {
                for k in keys {
                    if tx.delete_in::<T>(info, k)?.is_some() {
                        n += 1;
                    }
                }
                tx.check_restricts()
            })();
            tx.restricts.clear();
            r.map(|()| n)
        });
        self.with_context::<T, _>("delete_where", r)
    }

    /// Deletes the row with `key` and returns it, or `None` when there was none.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let gone = db.write(|tx| tx.delete::<Task>(&1))?;
    /// assert_eq!(gone, Some(Task { id: 1 }));
    /// assert_eq!(db.write(|tx| tx.delete::<Task>(&1))?, None); // already gone
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Decode`] when the stored row cannot be decoded (its index entries
    /// could not be found), [`Error::Storage`].
    pub fn delete<T: Entity>(&mut self, key: &T::Key) -> Result<Option<T>> {
        let inner = self.inner();
        let info = read::info::<T>(&inner.catalog)?;
        let r = self.statement(|tx| {
            let mut kbuf = std::mem::take(&mut tx.bufs.key);
            kbuf.clear();
            tx.restricts.clear();
            let r = crate::row::encode_key::<T>(key, &mut kbuf)
                .and_then(|()| tx.delete_in::<T>(info, &kbuf))
                .and_then(|row| tx.check_restricts().map(|()| row));
            tx.restricts.clear();
            tx.bufs.key = kbuf;
            r
        });
        self.with_context::<T, _>("delete", r)
    }

    pub(super) fn insert_in<T: Entity>(&mut self, info: &EntityInfo, entity: &T) -> Result<T::Key> {
        self.with_buffers(|tx, bufs| tx.insert_with(info, entity, bufs))
    }

    pub(super) fn insert_with<T: Entity>(
        &mut self,
        info: &EntityInfo,
        entity: &T,
        bufs: &mut Buffers,
    ) -> Result<T::Key> {
        let Buffers { key: kbuf, row: rbuf, index: ibuf, ends: iends } = bufs;
        let name = entity_name::<T>();
        kbuf.clear();
        let mut assigned = None;
        let mut explicit = None;
        match entity.__auto_key() {
            Some(0) => {
                let next = self.next_sequence::<T>(info)?;
                next.encode_key(kbuf).map_err(|source| key_error(entity, &next, source))?;
                assigned = Some(next);
            }
            Some(k) => {
                // Loaded before the row is written: loaded after, the table's last key
                // would already be `k`, and the mark would never be stored.
                self.sequence(info)?;
                entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?;
                explicit = Some(k);
            }
            None => entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?,
        }
        // An index or foreign key that holds the assigned key must see it, not the 0.
        let keyed;
        let entity = match assigned {
            Some(next) if info.key_in_index => {
                let mut e = entity.clone();
                e.__set_auto_key(next);
                keyed = e;
                &keyed
            }
            _ => entity,
        };
        check_key_len(entity, kbuf)?;
        Counters::bump(&self.counters.gets);
        if self.store.get(info.table, kbuf)?.is_some() {
            return Err(Error::AlreadyExists { entity: name, key: render_key::<T>(kbuf) });
        }
        encode_row(entity, kbuf, rbuf)?;
        self.encode_indexes(info, entity, kbuf, ibuf, iends)?;
        check_index_lens::<T>(info, kbuf, iends)?;
        self.check_unique(info, entity, kbuf, ibuf, iends, None)?;
        self.check_foreign_keys(info, entity, kbuf, None)?;
        self.store.put(info.table, kbuf, rbuf)?;
        self.note_changed(info, ChangeKind::Insert, kbuf, &[], rbuf);
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let value: &[u8] = if info.schema.indexes[i].unique { kbuf } else { &[] };
            if end > start {
                self.store.put(info.indexes[i], &ibuf[start..end], value)?;
            }
            start = end;
        }
        self.counters.writes.set(self.counters.writes.get() + 1 + iends.len() as u64);
        // The sequence moves only once the row is written, so a failed insert neither
        // uses up a key nor raises the mark past a key that was never stored.
        if let Some(next) = assigned {
            self.set_sequence(info.ordinal, Sequence { high: next, dirty: true });
        }
        if let Some(k) = explicit {
            self.observe_sequence(info, k)?;
        }
        T::Key::from_key_bytes(kbuf).map_err(|e| Error::Decode {
            entity: name,
            key: crate::message::hex(kbuf),
            reason: e.to_string(),
        })
    }

    /// Encodes every index entry of `entity` into `ibuf`, entry `i` ending at
    /// `iends[i]`: the values for a unique index, values then key otherwise.
    pub(super) fn encode_indexes<T: Entity>(
        &self,
        info: &EntityInfo,
        entity: &T,
        kbuf: &[u8],
        ibuf: &mut Vec<u8>,
        iends: &mut Vec<usize>,
    ) -> Result<()> {
        ibuf.clear();
        iends.clear();
        for (i, idx) in info.schema.indexes.iter().enumerate() {
            entity.__encode_index(i, ibuf).map_err(|source| Error::Key {
                entity: entity_name::<T>(),
                field: entity.__failing_key_field(Some(i)).unwrap_or_else(|| index_field::<T>(i)),
                key: render_key::<T>(kbuf),
                source,
            })?;
            if !idx.unique {
                ibuf.extend_from_slice(kbuf);
            }
            if let Some(fields) = &info.nullable[i] {
                let start = iends.last().copied().unwrap_or(0);
                if has_none::<T>(&ibuf[start..], fields) {
                    ibuf.truncate(start); // no entry: `None`s do not collide
                }
            }
            iends.push(ibuf.len());
        }
        Ok(())
    }

    /// Replaces the row; returns `false` (writing nothing) when it does not exist
    /// and `missing_ok`, else fails with `NotFound`.
    pub(super) fn update_in<T: Entity>(&mut self, info: &EntityInfo, entity: &T, missing_ok: bool) -> Result<bool> {
        self.with_buffers(|tx, bufs| tx.update_with(info, entity, missing_ok, bufs))
    }

    pub(super) fn update_with<T: Entity>(
        &mut self,
        info: &EntityInfo,
        entity: &T,
        missing_ok: bool,
        bufs: &mut Buffers,
    ) -> Result<bool> {
        let Buffers { key: kbuf, row: rbuf, index: ibuf, ends: iends } = bufs;
        let name = entity_name::<T>();
        kbuf.clear();
        entity.__encode_key(kbuf).map_err(|source| key_error(entity, &entity.key(), source))?;
        check_key_len(entity, kbuf)?;
        Counters::bump(&self.counters.gets);
        // The stored row goes into the change set as it is read (for subscriptions).
        let started;
        let old: Option<T> = match self.store.get(info.table, kbuf)? {
            None if missing_ok => return Ok(false),
            None => {
                return Err(Error::NotFound { entity: name, key: render_key::<T>(kbuf) });
            }
            Some(row) => {
                started = self.changes.begin(kbuf, row.bytes());
                if info.indexes.is_empty() {
                    None
                } else {
                    Some(crate::row::decode(&self.counters, kbuf, row.bytes())?)
                }
            }
        };
        encode_row(entity, kbuf, rbuf)?;
        let (mut obuf, mut oends) = (Vec::new(), Vec::new());
        if let Some(old) = &old {
            self.encode_indexes(info, old, kbuf, &mut obuf, &mut oends)?;
        }
        self.encode_indexes(info, entity, kbuf, ibuf, iends)?;
        check_index_lens::<T>(info, kbuf, iends)?;
        self.check_unique(info, entity, kbuf, ibuf, iends, Some((&obuf, &oends)))?;
        self.check_foreign_keys(info, entity, kbuf, old.as_ref())?;
        self.store.put(info.table, kbuf, rbuf)?;
        self.note_started(info, ChangeKind::Update, started, rbuf);
        let mut writes = 1;
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let entry = &ibuf[start..end];
            let old_entry = &obuf[if i == 0 { 0 } else { oends[i - 1] }..oends[i]];
            start = end;
            if old_entry == entry {
                continue;
            }
            if !old_entry.is_empty() {
                self.store.remove(info.indexes[i], old_entry)?;
            }
            let value: &[u8] = if info.schema.indexes[i].unique { kbuf } else { &[] };
            if !entry.is_empty() {
                self.store.put(info.indexes[i], entry, value)?;
            }
            writes += 2;
        }
        self.counters.writes.set(self.counters.writes.get() + writes);
        Ok(true)
    }

    /// Deletes the row with key `kbuf` and applies the `on_delete` rules of the rows
    /// that refer to it; returns the row, or `None` when there was none.
    pub(super) fn delete_in<T: Entity>(&mut self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        let old = self.delete_row::<T>(info, kbuf)?;
        if old.is_some() && (!info.inbound.is_empty() || !self.links.inbound[info.ordinal].is_empty()) {
            self.cascade_from(info.ordinal, kbuf)?;
        }
        Ok(old)
    }

    /// Removes the row with key `kbuf` and its index entries, and nothing else.
    pub(super) fn delete_row<T: Entity>(&mut self, info: &EntityInfo, kbuf: &[u8]) -> Result<Option<T>> {
        Counters::bump(&self.counters.gets);
        let (old, started): (T, _) = match self.store.get(info.table, kbuf)? {
            None => return Ok(None),
            Some(row) => {
                (crate::row::decode(&self.counters, kbuf, row.bytes())?, self.changes.begin(kbuf, row.bytes()))
            }
        };
        let (mut obuf, mut oends) = (Vec::new(), Vec::new());
        self.encode_indexes(info, &old, kbuf, &mut obuf, &mut oends)?;
        let mut start = 0;
        for (i, &end) in oends.iter().enumerate() {
            if end > start {
                self.store.remove(info.indexes[i], &obuf[start..end])?;
            }
            start = end;
        }
        self.store.remove(info.table, kbuf)?;
        self.note_started(info, ChangeKind::Delete, started, &[]);
        self.counters.writes.set(self.counters.writes.get() + 1 + oends.len() as u64);
        Ok(Some(old))
    }
}

pub(super) fn index_name<T: Entity>(i: usize) -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    &schema.indexes[i].name
}

pub(super) fn index_field<T: Entity>(i: usize) -> &'static str {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    schema.indexes[i].fields.first().map_or("index", |f| &**f)
}

pub(super) fn key_fields<T: Entity>() -> &'static [crate::schema::Text] {
    let schema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
    &schema.primary_key
}

/// The primary key of `entity`, shown as `key`, could not be encoded.
pub(super) fn key_error<T: Entity>(entity: &T, key: &dyn std::fmt::Debug, source: crate::codec::KeyError) -> Error {
    let field = entity.__failing_key_field(None).or_else(|| key_fields::<T>().first().map(|f| &**f));
    Error::Key { entity: entity_name::<T>(), field: field.unwrap_or("id"), key: shorten(format!("{key:?}")), source }
}

/// Runs the entity's validation rules.
pub(super) fn validate<T: Entity>(entity: &T) -> Result<()> {
    entity.validate().map_err(Error::Validation)
}

pub(super) fn check_key_len<T: Entity>(entity: &T, kbuf: &[u8]) -> Result<()> {
    if kbuf.len() <= MAX_KEY_LEN {
        return Ok(());
    }
    Err(Error::KeyTooLarge {
        entity: entity_name::<T>(),
        index: None,
        field: key_fields::<T>().join(", "),
        key: shorten(format!("{:?}", entity.key())),
        len: kbuf.len(),
        max: MAX_KEY_LEN,
    })
}

/// Checks the indexed values of each entry (without the primary key that a
/// non-unique entry ends with) against [`MAX_KEY_LEN`].
pub(super) fn check_index_lens<T: Entity>(info: &EntityInfo, kbuf: &[u8], iends: &[usize]) -> Result<()> {
    let mut start = 0;
    for (i, &end) in iends.iter().enumerate() {
        let idx = &info.schema.indexes[i];
        // A unique entry with a `None` is empty (not written), hence the saturation.
        let len = (end - start).saturating_sub(if idx.unique { 0 } else { kbuf.len() });
        start = end;
        if len > MAX_KEY_LEN {
            return Err(Error::KeyTooLarge {
                entity: entity_name::<T>(),
                index: Some(index_name::<T>(i)),
                field: idx.fields.join(", "),
                key: render_key::<T>(kbuf),
                len,
                max: MAX_KEY_LEN,
            });
        }
    }
    Ok(())
}

/// Encodes the row into `rbuf`, within [`MAX_ROW_LEN`].
pub(super) fn encode_row<T: Entity>(entity: &T, kbuf: &[u8], rbuf: &mut Vec<u8>) -> Result<()> {
    rbuf.clear();
    let r = entity.__encode_row(rbuf);
    let len = rbuf.len();
    if len > MAX_ROW_LEN {
        // Do not keep a huge buffer around for the next statement.
        *rbuf = Vec::with_capacity(256);
    }
    r.map_err(|reason| Error::Encode { entity: entity_name::<T>(), key: render_key::<T>(kbuf), reason })?;
    if len > MAX_ROW_LEN {
        return Err(Error::RowTooLarge {
            entity: entity_name::<T>(),
            key: render_key::<T>(kbuf),
            len,
            max: MAX_ROW_LEN,
        });
    }
    Ok(())
}

/// Whether an encoded unique-index entry holds a `None` in one of its `Option`
/// fields (`fields`: position, is an `Option`, in index order).
pub(crate) fn has_none<T: Entity>(mut entry: &[u8], fields: &[(usize, bool)]) -> bool {
    for &(pos, optional) in fields {
        if optional && entry.first() == Some(&0) {
            return true;
        }
        if T::__skip_field(pos, &mut entry).is_err() {
            return false;
        }
    }
    false
}
