//! The change set of a write transaction: for every row it inserted, updated or
//! deleted, the entity, the key and the row's bytes before and after, in order. The
//! cache drops the rows a commit updated or deleted; change subscriptions
//! ([`crate::watch`]) receive the whole set once the commit is durable. A failed
//! statement or savepoint takes its entries back with its writes, so the set holds
//! exactly what the commit makes durable. Keys and rows live in one arena: recording a
//! change does not allocate once the buffers have grown.

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A new row.
    Insert,
    /// A row replaced by another with the same key.
    Update,
    /// A row removed.
    Delete,
}

/// A position in a [`ChangeSet`] to take it back to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChangeMark {
    entries: usize,
    bytes: usize,
}

/// Where one change's key and rows lie in the arena.
#[derive(Debug, Clone, Copy)]
struct Entry {
    entity: u32,
    kind: ChangeKind,
    key_start: usize,
    key_end: usize,
    old_end: usize,
    new_end: usize,
}

/// A change [`ChangeSet::begin`] started: where its key and old row lie.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    key_start: usize,
    key_end: usize,
    old_end: usize,
}

/// One recorded change, borrowed from its set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowChange<'a> {
    pub(crate) entity: u32,
    pub(crate) kind: ChangeKind,
    pub(crate) key: &'a [u8],
    /// The stored row before (`None` for an insert).
    pub(crate) old: Option<&'a [u8]>,
    /// The stored row after (`None` for a delete).
    pub(crate) new: Option<&'a [u8]>,
}

/// The changes of one write transaction.
#[derive(Debug, Default)]
pub(crate) struct ChangeSet {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl ChangeSet {
    /// Records a change of a row of entity `entity`: its key, the stored row before
    /// (ignored for an insert) and after (ignored for a delete).
    pub(crate) fn record(&mut self, entity: usize, kind: ChangeKind, key: &[u8], old: &[u8], new: &[u8]) {
        let old: &[u8] = if kind == ChangeKind::Insert { &[] } else { old };
        let started = self.begin(key, old);
        self.finish(started, entity, kind, new);
    }

    /// Starts recording a change of a stored row: its key and the row before, copied
    /// into the arena straight from the store. [`ChangeSet::finish`] completes it; a
    /// statement that fails in between is taken back with its mark, which truncates
    /// these bytes.
    pub(crate) fn begin(&mut self, key: &[u8], old: &[u8]) -> Started {
        let key_start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(old);
        Started { key_start, key_end, old_end: self.bytes.len() }
    }

    /// Completes a change begun with [`ChangeSet::begin`]: `new` is the row after
    /// (ignored for a delete).
    pub(crate) fn finish(&mut self, started: Started, entity: usize, kind: ChangeKind, new: &[u8]) {
        let Started { key_start, key_end, old_end } = started;
        if kind != ChangeKind::Delete {
            self.bytes.extend_from_slice(new);
        }
        let new_end = self.bytes.len();
        let entity = u32::try_from(entity).unwrap_or(u32::MAX);
        self.entries.push(Entry { entity, kind, key_start, key_end, old_end, new_end });
    }

    pub(crate) fn mark(&self) -> ChangeMark {
        ChangeMark { entries: self.entries.len(), bytes: self.bytes.len() }
    }

    /// Forgets every change recorded after `mark`.
    pub(crate) fn undo_to(&mut self, mark: ChangeMark) {
        self.entries.truncate(mark.entries);
        self.bytes.truncate(mark.bytes);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many changes the set holds.
    #[cfg(feature = "tracing")]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// What the set has allocated: its arena and its entries.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.bytes.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Gives back what undone changes left allocated.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.entries.shrink_to_fit();
    }

    /// The changes in the order they were made.
    pub(crate) fn rows(&self) -> impl Iterator<Item = RowChange<'_>> + '_ {
        self.entries.iter().map(move |e| {
            let key = &self.bytes[e.key_start..e.key_end];
            let old = &self.bytes[e.key_end..e.old_end];
            let new = &self.bytes[e.old_end..e.new_end];
            RowChange {
                entity: e.entity,
                kind: e.kind,
                key,
                old: (e.kind != ChangeKind::Insert).then_some(old),
                new: (e.kind != ChangeKind::Delete).then_some(new),
            }
        })
    }

    /// The changes in the order they were made: (entity ordinal, kind, key).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, ChangeKind, &[u8])> + '_ {
        self.rows().map(|c| (c.entity, c.kind, c.key))
    }

    /// The entities the set changes rows of, each once, in ascending order.
    pub(crate) fn entities(&self) -> Vec<u32> {
        let mut all: Vec<u32> = self.entries.iter().map(|e| e.entity).collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::{ChangeKind, ChangeSet};

    #[test]
    fn undo_to_a_mark_forgets_exactly_the_later_changes() {
        let mut c = ChangeSet::default();
        c.record(0, ChangeKind::Insert, b"a", b"", b"row a");
        let m = c.mark();
        c.record(1, ChangeKind::Delete, b"bb", b"old b", b"");
        c.record(2, ChangeKind::Update, b"", b"x", b"y");
        c.undo_to(m);
        c.record(3, ChangeKind::Update, b"cc", b"old c", b"new c");
        let all: Vec<_> = c.iter().map(|(e, k, key)| (e, k, key.to_vec())).collect();
        assert_eq!(all, vec![(0, ChangeKind::Insert, b"a".to_vec()), (3, ChangeKind::Update, b"cc".to_vec())]);
        let rows: Vec<_> = c.rows().map(|r| (r.old.map(<[u8]>::to_vec), r.new.map(<[u8]>::to_vec))).collect();
        assert_eq!(rows, vec![(None, Some(b"row a".to_vec())), (Some(b"old c".to_vec()), Some(b"new c".to_vec()))]);
    }

    #[test]
    fn empty_rows_are_told_apart_from_absent_ones_by_the_kind() {
        let mut c = ChangeSet::default();
        c.record(0, ChangeKind::Update, b"k", b"", b"");
        c.record(0, ChangeKind::Delete, b"k", b"", b"ignored");
        let rows: Vec<_> = c.rows().map(|r| (r.old, r.new)).collect();
        assert_eq!(rows, vec![(Some(&b""[..]), Some(&b""[..])), (Some(&b""[..]), None)]);
    }
}
