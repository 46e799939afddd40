//! Recording the rows a write transaction changes (see [`crate::changes`]).

use super::WriteTx;
use crate::catalog::EntityInfo;
use crate::changes::{ChangeKind, Started};

impl WriteTx {
    /// Records that a stored row changed. An update or delete also stops this
    /// transaction from reading the entity through the cache, whose copy is stale now.
    /// `old` is the stored row before (ignored for an insert), `new` after (ignored
    /// for a delete).
    pub(super) fn note_changed(&mut self, info: &EntityInfo, kind: ChangeKind, kbuf: &[u8], old: &[u8], new: &[u8]) {
        if kind != ChangeKind::Insert {
            self.dirty[info.ordinal] = true;
        }
        self.changes.record(info.ordinal, kind, kbuf, old, new);
    }

    /// As [`WriteTx::note_changed`], for a change whose key and row before were
    /// recorded with `ChangeSet::begin` as the row was read.
    pub(super) fn note_started(&mut self, info: &EntityInfo, kind: ChangeKind, started: Started, new: &[u8]) {
        self.dirty[info.ordinal] = true;
        self.changes.finish(started, info.ordinal, kind, new);
    }
}
