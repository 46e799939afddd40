//! The undo log: for each write, the table, the key and the value it replaced.
//! Bytes live in one arena so that logging a write does not allocate.

use super::TableId;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    entries: usize,
    bytes: usize,
}

struct Entry {
    tid: TableId,
    key: (usize, usize),
    old: Option<(usize, usize)>,
}

#[derive(Default)]
pub(crate) struct UndoLog {
    entries: Vec<Entry>,
    arena: Vec<u8>,
}

/// Entries taken off the log, owning their bytes.
pub(crate) type Taken = Vec<(TableId, Vec<u8>, Option<Vec<u8>>)>;

impl UndoLog {
    pub(crate) fn record(&mut self, tid: TableId, key: &[u8], old: Option<&[u8]>) {
        let k0 = self.arena.len();
        self.arena.extend_from_slice(key);
        let key = (k0, self.arena.len());
        let old = old.map(|v| {
            let v0 = self.arena.len();
            self.arena.extend_from_slice(v);
            (v0, self.arena.len())
        });
        self.entries.push(Entry { tid, key, old });
    }

    pub(crate) fn mark(&self) -> Mark {
        Mark { entries: self.entries.len(), bytes: self.arena.len() }
    }

    /// Removes and returns the entries recorded after `mark`, oldest first.
    pub(crate) fn split_off(&mut self, mark: Mark) -> Taken {
        let taken = self
            .entries
            .drain(mark.entries.min(self.entries.len())..)
            .map(|e| {
                let key = self.arena[e.key.0..e.key.1].to_vec();
                let old = e.old.map(|(a, b)| self.arena[a..b].to_vec());
                (e.tid, key, old)
            })
            .collect();
        self.arena.truncate(mark.bytes);
        taken
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.arena.clear();
    }
}
