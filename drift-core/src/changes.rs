//! The change set of a write transaction: for every row it inserted, updated or
//! deleted, the entity and the key, in order. The cache drops the rows a commit
//! updated or deleted; change subscriptions will read the same record. A failed
//! statement or savepoint takes its entries back with its writes, so the set holds
//! exactly what the commit makes durable. Keys live in one arena: recording a change
//! does not allocate once the buffers have grown.

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Insert,
    Update,
    Delete,
}

/// A position in a [`ChangeSet`] to take it back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChangeMark {
    entries: usize,
    bytes: usize,
}

/// The changes of one write transaction.
#[derive(Debug, Default)]
pub(crate) struct ChangeSet {
    /// (entity ordinal, kind, end of the key in `keys`).
    entries: Vec<(u32, ChangeKind, usize)>,
    keys: Vec<u8>,
}

impl ChangeSet {
    pub(crate) fn record(&mut self, entity: usize, kind: ChangeKind, key: &[u8]) {
        self.keys.extend_from_slice(key);
        self.entries.push((u32::try_from(entity).unwrap_or(u32::MAX), kind, self.keys.len()));
    }

    pub(crate) fn mark(&self) -> ChangeMark {
        ChangeMark { entries: self.entries.len(), bytes: self.keys.len() }
    }

    /// Forgets every change recorded after `mark`.
    pub(crate) fn undo_to(&mut self, mark: ChangeMark) {
        self.entries.truncate(mark.entries);
        self.keys.truncate(mark.bytes);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The changes in the order they were made: (entity ordinal, kind, key).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, ChangeKind, &[u8])> + '_ {
        let mut start = 0;
        self.entries.iter().map(move |&(entity, kind, end)| {
            let key = &self.keys[start..end];
            start = end;
            (entity, kind, key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{ChangeKind, ChangeSet};

    #[test]
    fn undo_to_a_mark_forgets_exactly_the_later_changes() {
        let mut c = ChangeSet::default();
        c.record(0, ChangeKind::Insert, b"a");
        let m = c.mark();
        c.record(1, ChangeKind::Delete, b"bb");
        c.record(2, ChangeKind::Update, b"");
        c.undo_to(m);
        c.record(3, ChangeKind::Update, b"cc");
        let all: Vec<_> = c.iter().map(|(e, k, key)| (e, k, key.to_vec())).collect();
        assert_eq!(all, vec![(0, ChangeKind::Insert, b"a".to_vec()), (3, ChangeKind::Update, b"cc".to_vec())]);
    }
}
