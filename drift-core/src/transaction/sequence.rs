//! The auto_increment sequence of each entity within a write transaction: loaded
//! once, restored with a failed statement or savepoint, stored at commit.

use super::WriteTx;
use super::write::key_fields;
use crate::catalog::EntityInfo;
use crate::codec::KeyCodec;
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::row::entity_name;
use crate::storage::ReadAccess;

/// The auto-increment state of one entity within a write transaction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sequence {
    /// The highest key handed out or seen.
    pub(super) high: u64,
    pub(super) dirty: bool,
}

impl WriteTx {
    /// Sets the sequence of entity `ordinal`, remembering the old one so that a
    /// failed statement or savepoint restores it.
    pub(super) fn set_sequence(&mut self, ordinal: usize, s: Sequence) {
        let before = self.sequences[ordinal].replace(s);
        self.sequence_undo.push((ordinal, before));
    }

    pub(super) fn sequence(&mut self, info: &EntityInfo) -> Result<Sequence> {
        if let Some(s) = self.sequences[info.ordinal] {
            return Ok(s);
        }
        let stored = crate::meta::sequence(&self.store, &info.schema.table)?;
        let last = match self.store.last(info.table)? {
            Some((k, _)) => u64::from_key_bytes(k.bytes()).unwrap_or(0),
            None => 0,
        };
        let s = Sequence { high: stored.max(last), dirty: false };
        self.set_sequence(info.ordinal, s);
        Ok(s)
    }

    /// The key the next auto-increment insert gets (taken by the insert once written).
    pub(super) fn next_sequence<T: Entity>(&mut self, info: &EntityInfo) -> Result<u64> {
        let s = self.sequence(info)?;
        let next = s.high.checked_add(1).ok_or_else(|| Error::Key {
            entity: entity_name::<T>(),
            field: key_fields::<T>().first().map_or("id", |f| &**f),
            key: "0 (to be assigned)".into(),
            source: crate::codec::KeyError::Invalid { ty: "u64", reason: "the auto_increment sequence is exhausted" },
        })?;
        Ok(next)
    }

    /// Raises the sequence to `key`, a key now written.
    pub(super) fn observe_sequence(&mut self, info: &EntityInfo, key: u64) -> Result<()> {
        let s = self.sequence(info)?;
        if key > s.high {
            self.set_sequence(info.ordinal, Sequence { high: key, dirty: true });
        }
        Ok(())
    }

    pub(super) fn write_sequences(&mut self) -> Result<()> {
        let inner = self.inner();
        for info in &inner.catalog.entities {
            if let Some(Sequence { high, dirty: true }) = self.sequences[info.ordinal] {
                crate::meta::set_sequence(&mut self.store, &info.schema.table, high)?;
                self.set_sequence(info.ordinal, Sequence { high, dirty: false });
            }
        }
        Ok(())
    }
}
