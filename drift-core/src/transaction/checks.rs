//! The checks a write makes before it writes: unique indexes and foreign keys.

use super::WriteTx;
use super::write::index_name;
use crate::catalog::{EntityInfo, RelInfo};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::message::shorten;
use crate::row::{entity_name, fk_error, render_key};
use crate::stats::Counters;
use crate::storage::ReadAccess;

impl WriteTx {
    /// Fails when a unique index entry of the new row is held by another row.
    /// `old` holds the row's previous entries: unchanged ones are not checked.
    pub(super) fn check_unique<T: Entity>(
        &self,
        info: &EntityInfo,
        entity: &T,
        kbuf: &[u8],
        ibuf: &[u8],
        iends: &[usize],
        old: Option<(&[u8], &[usize])>,
    ) -> Result<()> {
        let mut start = 0;
        for (i, &end) in iends.iter().enumerate() {
            let entry = &ibuf[start..end];
            let old_entry = old.map(|(ob, oe)| &ob[if i == 0 { 0 } else { oe[i - 1] }..oe[i]]);
            start = end;
            if !info.schema.indexes[i].unique || old_entry == Some(entry) || entry.is_empty() {
                continue;
            }
            Counters::bump(&self.counters.gets);
            if let Some(holder) = self.store.get(info.indexes[i], entry)? {
                if holder.bytes() != kbuf {
                    return Err(Error::UniqueViolation {
                        entity: entity_name::<T>(),
                        index: index_name::<T>(i),
                        value: shorten(entity.__describe_index(i)),
                        key: render_key::<T>(kbuf),
                        existing_key: render_key::<T>(holder.bytes()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Fails with `ForeignKey` when a `belongs_to` key of `entity` names no parent.
    /// Keys unchanged since `old` are not checked again.
    pub(super) fn check_foreign_keys<T: Entity>(
        &self,
        info: &EntityInfo,
        entity: &T,
        kbuf: &[u8],
        old: Option<&T>,
    ) -> Result<()> {
        for (ri, rel) in info.relations.iter().enumerate() {
            let RelInfo::BelongsTo { parent } = rel else { continue };
            let mut fk = Vec::with_capacity(16);
            if !entity.__belongs_to_key(ri, &mut fk).map_err(|s| fk_error::<T>(ri, kbuf, s))? {
                continue;
            }
            if let Some(old) = old {
                let mut ofk = Vec::with_capacity(16);
                if old.__belongs_to_key(ri, &mut ofk).unwrap_or(false) && ofk == fk {
                    continue;
                }
            }
            let pinfo = &self.shared.catalog.entities[*parent];
            if pinfo.ordinal == info.ordinal && fk == kbuf {
                continue; // a row that is its own parent
            }
            Counters::bump(&self.counters.gets);
            if self.store.get(pinfo.table, &fk)?.is_none() {
                let schema: &'static crate::schema::EntityDescriptor = pinfo.schema;
                let rschema: &'static crate::schema::EntityDescriptor = T::SCHEMA;
                return Err(Error::ForeignKey {
                    entity: entity_name::<T>(),
                    field: rschema.relations[ri].key.join(", "),
                    key: render_key::<T>(kbuf),
                    parent: &schema.name,
                    parent_key: (pinfo.vtable.render_key)(&fk),
                });
            }
        }
        Ok(())
    }
}
