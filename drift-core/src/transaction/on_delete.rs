//! What deleting a row does to the rows that refer to it: `restrict`, `cascade`
//! and `set_null`, for registered entities and for those known only from the file.

use super::WriteTx;
use crate::catalog::EntityInfo;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::read::{self, keys_with_prefix};
use crate::schema::OnDelete;
use crate::stats::Counters;
use crate::storage::ReadAccess;

/// The writes a cascade makes in an entity it does not name, captured when the
/// entity is registered.
#[derive(Clone, Copy)]
pub(crate) struct WriteOps {
    /// Removes one row and its index entries; whether there was one.
    pub(crate) delete_row: fn(&mut WriteTx, &[u8]) -> Result<bool>,
    /// Sets the key of relation `rel` of one row to `None`.
    pub(crate) set_null: fn(&mut WriteTx, &[u8], usize) -> Result<()>,
}

impl WriteOps {
    pub(crate) fn of<T: Entity>() -> WriteOps {
        WriteOps { delete_row: WriteTx::delete_row_erased::<T>, set_null: WriteTx::set_null_erased::<T> }
    }
}

/// A deleted row that a `restrict` relation protected: its children must be gone by
/// the end of the delete statement.
pub(super) struct RestrictCheck {
    entity: &'static str,
    key: String,
    child: usize,
    child_name: &'static str,
    source: crate::catalog::Source,
    prefix: Vec<u8>,
    field: String,
}

impl WriteTx {
    /// Applies the `on_delete` rules of every row that refers to the deleted row
    /// (entity `ordinal`, key `key`), and of the rows those delete in turn. A work
    /// list instead of recursion: a chain of any depth runs in constant stack, and
    /// each row is deleted, and its children looked up, once (a deleted row is no
    /// longer found). `restrict` relations are recorded and checked when the whole
    /// statement has run, so that a row its cascade removes does not restrict it.
    pub(super) fn cascade_from(&mut self, ordinal: usize, key: &[u8]) -> Result<()> {
        let inner = self.inner();
        let catalog = &inner.catalog;
        let mut pending: Vec<(usize, Vec<u8>)> = vec![(ordinal, key.to_vec())];
        while let Some((ordinal, key)) = pending.pop() {
            let info = &catalog.entities[ordinal];
            self.refuse_unregistered(info, &key)?;
            for inb in &info.inbound {
                let child = &catalog.entities[inb.child];
                let prefix = crate::catalog::child_prefix(&key, inb.optional);
                let keys = keys_with_prefix(&self.reader(), child, inb.source, &prefix)?;
                if keys.is_empty() {
                    continue;
                }
                match inb.on_delete {
                    OnDelete::SetNull => {
                        for ck in keys {
                            (self.ops[inb.child].set_null)(self, &ck, inb.rel)?;
                        }
                    }
                    OnDelete::Cascade => {
                        for ck in keys {
                            if (self.ops[inb.child].delete_row)(self, &ck)? {
                                pending.push((inb.child, ck));
                            }
                        }
                    }
                    _ => {
                        let schema: &'static crate::schema::EntityDescriptor = child.schema;
                        let pschema: &'static crate::schema::EntityDescriptor = info.schema;
                        self.restricts.push(RestrictCheck {
                            entity: &pschema.name,
                            key: (info.vtable.render_key)(&key),
                            child: inb.child,
                            child_name: &schema.name,
                            source: inb.source,
                            prefix: prefix.to_vec(),
                            field: inb.field.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Fails when a row of an entity stored in the file but not registered in this
    /// process refers to the deleted row (entity `info`, key `key`): `restrict` fails
    /// as usual; `cascade` and `set_null` cannot be applied to rows this process cannot
    /// decode, so the delete is refused, naming the entity to register.
    pub(super) fn refuse_unregistered(&self, info: &EntityInfo, key: &[u8]) -> Result<()> {
        for f in &self.links.inbound[info.ordinal] {
            // Without a table that leads with the foreign key, any row of the child
            // may refer to this one.
            let prefix = if f.exact { crate::catalog::child_prefix(key, f.optional) } else { Vec::new().into() };
            let count = crate::read::count_with_prefix(&self.store, f.table, &prefix)?;
            if count == 0 {
                continue;
            }
            let pschema: &'static crate::schema::EntityDescriptor = info.schema;
            let key = (info.vtable.render_key)(key);
            if f.on_delete == OnDelete::Restrict && f.exact {
                return Err(Error::Restrict {
                    entity: &pschema.name,
                    key,
                    child: crate::message::intern(&f.child),
                    field: f.field.clone(),
                    count,
                });
            }
            return Err(Error::Unregistered {
                entity: &pschema.name,
                key,
                child: f.child.clone(),
                field: f.field.clone(),
                on_delete: f.on_delete,
            });
        }
        Ok(())
    }

    /// Fails with `Restrict` when a row that a `restrict` relation protects still has
    /// children now that the delete and its cascades have run.
    pub(super) fn check_restricts(&mut self) -> Result<()> {
        let inner = self.inner();
        let checks = std::mem::take(&mut self.restricts);
        for c in &checks {
            let child = &inner.catalog.entities[c.child];
            let left = keys_with_prefix(&self.reader(), child, c.source, &c.prefix)?;
            if !left.is_empty() {
                return Err(Error::Restrict {
                    entity: c.entity,
                    key: c.key.clone(),
                    child: c.child_name,
                    field: c.field.clone(),
                    count: left.len() as u64,
                });
            }
        }
        Ok(())
    }

    /// Removes one row of `T` and its index entries (its own children are the
    /// caller's to visit); returns whether there was one.
    pub(crate) fn delete_row_erased<T: Entity>(tx: &mut WriteTx, key: &[u8]) -> Result<bool> {
        let inner = tx.inner();
        let info = read::info::<T>(&inner.catalog)?;
        tx.delete_row::<T>(info, key).map(|row| row.is_some())
    }

    pub(crate) fn set_null_erased<T: Entity>(tx: &mut WriteTx, key: &[u8], rel: usize) -> Result<()> {
        let inner = tx.inner();
        let info = read::info::<T>(&inner.catalog)?;
        Counters::bump(&tx.counters.gets);
        let row = match tx.store.get(info.table, key)? {
            Some(row) => row.bytes().to_vec(),
            None => return Ok(()),
        };
        let mut row: T = crate::row::decode(&tx.counters, key, &row)?;
        row.__set_null(rel);
        tx.update_in(info, &row, false).map(drop)
    }
}
