//! Change subscriptions: [`Db::watch`](crate::Db::watch) gives a [`Watch`] that yields
//! each commit's changes to rows of one entity, after the commit, in commit order.
//!
//! # How it works
//! A write transaction records every row it changes, with the stored bytes before and
//! after, in its change set; a failed statement or an undone savepoint takes its
//! entries back. When the commit is durable, the set becomes an immutable record
//! with the next commit number, and the hub hands an `Arc` of it to each subscription
//! of an entity the commit touched, and keeps it in a bounded history for resuming.
//! Subscriptions decode, filter and narrow on their own thread, when they receive:
//! the writer does no per-row work for them.
//!
//! # Bounds
//! - The writer's cost per commit: one lock of the hub, then, per subscription of an
//!   entity the commit touched, one lock of its buffer, a push of a pointer and a
//!   wake-up. It never waits for a subscriber.
//! - A subscription buffers at most its capacity of commits (1,024 unless set) and of
//!   bytes (64 MiB unless set; one larger commit is taken when the buffer is empty).
//!   When it is full, later commits are not given to it: once it has taken what it holds, it
//!   receives [`Error::Lagged`] naming the first commit it missed, then goes on with
//!   the commits after. Nothing is dropped silently.
//! - The history keeps the last commits up to a count and a byte budget
//!   ([`DbBuilder::watch_history`](crate::DbBuilder::watch_history)); a commit larger
//!   than the budget empties it (the history is never missing a commit in its middle).

use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::changes::{ChangeKind, ChangeSet};
use crate::entity::Entity;
use crate::error::{Error, Result};
use crate::query::filter::Filter;
use crate::row::entity_name;

/// A subscription's buffer, in commits, unless [`Watch::capacity`] sets another.
pub const DEFAULT_WATCH_CAPACITY: usize = 1024;

/// A subscription's buffer, in bytes of keys and rows, unless [`Watch::max_bytes`]
/// sets another. A single commit larger than that is still delivered when the buffer
/// is empty.
pub const DEFAULT_WATCH_BYTES: usize = 64 << 20;

/// How many commits the history keeps by default (see
/// [`DbBuilder::watch_history`](crate::DbBuilder::watch_history)).
pub const DEFAULT_HISTORY_COMMITS: usize = 1024;

/// How many bytes of keys and rows the history keeps by default.
pub const DEFAULT_HISTORY_BYTES: usize = 16 << 20;

/// One committed transaction's changes, numbered.
#[derive(Debug)]
pub(crate) struct Record {
    seq: u64,
    /// What it holds, roughly: keys, rows and per-change bookkeeping.
    bytes: usize,
    changes: ChangeSet,
    /// The entity ordinals the commit changed rows of.
    entities: Vec<u32>,
}

/// The history's limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistoryLimits {
    pub(crate) commits: usize,
    pub(crate) bytes: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits { commits: DEFAULT_HISTORY_COMMITS, bytes: DEFAULT_HISTORY_BYTES }
    }
}

/// Where commits are published to subscriptions.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<HubState>,
    limits: HistoryLimits,
    /// See [`Hub::commit_order`].
    order: Mutex<()>,
}

#[derive(Debug)]
struct HubState {
    /// The number of the last published commit.
    last: u64,
    history: VecDeque<Arc<Record>>,
    history_bytes: usize,
    /// Per entity ordinal: its open subscriptions.
    subs: Vec<Vec<Arc<Slot>>>,
    closed: bool,
}

/// A subscription's buffer, shared by the hub (which fills it) and the [`Watch`].
#[derive(Debug)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
    /// Set while `state.lagged_from` is: the writer skips a lagging subscription
    /// without taking its lock.
    lagging: AtomicBool,
}

#[derive(Debug)]
struct SlotState {
    queue: VecDeque<Arc<Record>>,
    capacity: usize,
    /// The bytes of the records in `queue`, and their limit.
    queued_bytes: usize,
    max_bytes: usize,
    /// How many of the first commits in `queue` a resume replayed from the history,
    /// and their bytes (not counted in `queued_bytes`).
    replayed: usize,
    replayed_bytes: usize,
    /// The first commit not given to it because the buffer was full.
    lagged_from: Option<u64>,
    closed: bool,
    /// Threads blocked in `recv`: only then is the condition variable signalled (a
    /// signal is a system call even with no waiter).
    waiting: usize,
    #[cfg(feature = "async")]
    waker: Option<std::task::Waker>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    /// Wakes whoever waits on the subscription, after its lock is released (a woken
    /// thread would otherwise block on the lock at once). `wake` is what
    /// [`SlotState::take_wake`] took.
    fn wake(&self, wake: Wake) {
        if wake.blocked {
            self.ready.notify_all();
        }
        #[cfg(feature = "async")]
        if let Some(w) = wake.waker {
            w.wake();
        }
    }

    /// Gives `record` to the subscription, or marks it lagged when its buffer is full.
    /// Returns whom to wake: the caller wakes them once it holds no lock (a waker may
    /// drop a task whose subscription then unsubscribes, taking the hub's lock).
    fn offer(&self, record: &Arc<Record>) -> Option<Wake> {
        if self.lagging.load(Ordering::Acquire) {
            // Lagging: nothing more until it has taken the lag notice, so that it
            // learns of the gap before any commit after it.
            return None;
        }
        let mut st = lock(&self.state);
        if st.lagged_from.is_some() {
            return None;
        }
        // Commits replayed by `resume_from` are held by the history anyway: they do not
        // count against the buffer's limits.
        let own = st.queue.len() - st.replayed;
        let over_bytes = own > 0 && st.queued_bytes + record.bytes > st.max_bytes;
        if own >= st.capacity || over_bytes {
            st.lagged_from = Some(record.seq);
            self.lagging.store(true, Ordering::Release);
        } else {
            st.queued_bytes += record.bytes;
            st.queue.push_back(Arc::clone(record));
        }
        Some(st.take_wake())
    }
}

/// The subscriptions a publish gave a commit to, to wake once the committer holds no
/// lock: a waker may run a task that commits to the same database.
#[must_use]
pub(crate) struct Wakes(Vec<(Arc<Slot>, Wake)>);

impl Wakes {
    /// Wakes them.
    pub(crate) fn run(self) {
        for (slot, w) in self.0 {
            slot.wake(w);
        }
    }
}

/// Who to wake: blocked threads, an async task.
struct Wake {
    blocked: bool,
    #[cfg(feature = "async")]
    waker: Option<std::task::Waker>,
}

impl SlotState {
    fn take_wake(&mut self) -> Wake {
        Wake {
            blocked: self.waiting > 0,
            #[cfg(feature = "async")]
            waker: self.waker.take(),
        }
    }
}

impl Hub {
    /// A hub numbering commits from just above `base`.
    pub(crate) fn new(entities: usize, limits: HistoryLimits, base: u64) -> Hub {
        Hub {
            state: Mutex::new(HubState {
                last: base,
                history: VecDeque::new(),
                history_bytes: 0,
                subs: vec![Vec::new(); entities],
                closed: false,
            }),
            limits,
            order: Mutex::new(()),
        }
    }

    /// The first commit number of a database opened now: above any number an earlier
    /// open on this clock could have given (2^20 commits a millisecond), so that a
    /// number kept from an earlier run is never mistaken for one of this run.
    pub(crate) fn base_now() -> u64 {
        let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        u64::try_from(ms).unwrap_or(u64::MAX >> 20) << 20
    }

    /// Numbers the committed `changes` and gives them to the subscriptions of the
    /// entities they touch; keeps them in the history.
    ///
    /// The caller holds [`Hub::commit_order`] from before its commit until this returns,
    /// so that commits are numbered in the order they were made.
    pub(crate) fn publish(&self, mut changes: ChangeSet) -> Wakes {
        let mut wakes = Wakes(Vec::new());
        if changes.is_empty() {
            return wakes;
        }
        // What a record holds is what it allocated: a savepoint that undid a large
        // write left capacity behind.
        changes.shrink_to_fit();
        {
            let mut st = lock(&self.state);
            if st.closed {
                return wakes;
            }
            st.last += 1;
            let bytes = changes.allocated_bytes() + std::mem::size_of::<Record>();
            let entities = changes.entities();
            let record = Arc::new(Record { seq: st.last, bytes, changes, entities });
            for &e in &record.entities {
                if let Some(slots) = st.subs.get(e as usize) {
                    for slot in slots {
                        if let Some(w) = slot.offer(&record) {
                            wakes.0.push((Arc::clone(slot), w));
                        }
                    }
                }
            }
            if self.limits.commits > 0 {
                if bytes > self.limits.bytes {
                    // Held, the history would miss a commit in its middle.
                    st.history.clear();
                    st.history_bytes = 0;
                } else {
                    st.history.push_back(record);
                    st.history_bytes += bytes;
                    while st.history.len() > self.limits.commits || st.history_bytes > self.limits.bytes {
                        if let Some(old) = st.history.pop_front() {
                            st.history_bytes -= old.bytes;
                        }
                    }
                }
            }
        }
        wakes
    }

    /// Held from before a commit that changed rows until its [`publish`](Hub::publish)
    /// returns: the next such commit cannot publish first (on redb the next writer can
    /// begin as soon as the commit releases the file's write lock).
    pub(crate) fn commit_order(&self) -> MutexGuard<'_, ()> {
        lock(&self.order)
    }

    /// Ends every subscription: the database is closed.
    pub(crate) fn close(&self) {
        let slots: Vec<Arc<Slot>> = {
            let mut st = lock(&self.state);
            st.closed = true;
            st.history.clear();
            st.subs.drain(..).flatten().collect()
        };
        for slot in slots {
            let wake = {
                let mut s = lock(&slot.state);
                s.closed = true;
                s.take_wake()
            };
            slot.wake(wake);
        }
    }

    /// The number of the last commit published.
    pub(crate) fn last(&self) -> u64 {
        lock(&self.state).last
    }

    fn subscribe(&self, entity: usize) -> Arc<Slot> {
        let slot = Arc::new(Slot {
            state: Mutex::new(SlotState {
                queue: VecDeque::new(),
                capacity: DEFAULT_WATCH_CAPACITY,
                queued_bytes: 0,
                max_bytes: DEFAULT_WATCH_BYTES,
                replayed: 0,
                replayed_bytes: 0,
                lagged_from: None,
                closed: false,
                waiting: 0,
                #[cfg(feature = "async")]
                waker: None,
            }),
            ready: Condvar::new(),
            lagging: AtomicBool::new(false),
        });
        let mut st = lock(&self.state);
        if st.closed {
            lock(&slot.state).closed = true;
        } else if let Some(list) = st.subs.get_mut(entity) {
            list.push(Arc::clone(&slot));
        }
        slot
    }

    fn unsubscribe(&self, entity: usize, slot: &Arc<Slot>) {
        let mut st = lock(&self.state);
        if let Some(list) = st.subs.get_mut(entity) {
            list.retain(|s| !Arc::ptr_eq(s, slot));
        }
    }

    /// Refills `slot` with the held commits from number `from` on.
    fn resume(&self, slot: &Slot, ordinal: usize, from: u64, entity: &'static str) -> Result<()> {
        let st = lock(&self.state);
        let oldest = st.history.front().map_or(st.last.saturating_add(1), |r| r.seq);
        if from < oldest || from > st.last.saturating_add(1) {
            return Err(Error::HistoryGap { entity, requested: from, oldest });
        }
        let ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
        let mut s = lock(&slot.state);
        s.queue.clear();
        s.lagged_from = None;
        slot.lagging.store(false, Ordering::Release);
        // Held by the history anyway: the replay does not count against the buffer's
        // limits (see `Slot::offer`).
        s.queue.extend(st.history.iter().filter(|r| r.seq >= from && r.entities.contains(&ordinal)).cloned());
        s.replayed = s.queue.len();
        s.replayed_bytes = s.queue.iter().map(|r| r.bytes).sum();
        s.queued_bytes = 0;
        let wake = s.take_wake();
        drop(s);
        drop(st);
        slot.wake(wake);
        Ok(())
    }
}

/// A change to one row, as a subscription sees it.
///
/// ```
/// # use drift::prelude::*;
/// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
/// # struct Task { #[drift(primary_key)] id: u64, done: bool }
/// use drift::Change;
///
/// let db = Db::builder().entity::<Task>().in_memory()?;
/// let mut changes = db.watch::<Task>()?;
/// db.write(|tx| {
///     tx.insert(&Task { id: 1, done: false })?;
///     tx.update(&Task { id: 1, done: true })
/// })?;
/// let commit = changes.try_recv().expect("committed")?;
/// assert_eq!(commit.changes[0], Change::Insert { new: Task { id: 1, done: false } });
/// match &commit.changes[1] {
///     Change::Update { old, new } => assert_eq!((old.done, new.done), (false, true)),
///     other => panic!("an update, not {other:?}"),
/// }
/// # Ok::<(), drift::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change<T> {
    /// A row was inserted.
    Insert {
        /// The new row.
        new: T,
    },
    /// A row was replaced; both versions match the subscription.
    Update {
        /// The row before.
        old: T,
        /// The row after.
        new: T,
    },
    /// A row was deleted (by a statement, a `cascade` or a `delete_where`).
    Delete {
        /// The row that was deleted.
        old: T,
    },
    /// An update took the row out of the subscription's key range or filter: the row
    /// before matched, the row after does not.
    Left {
        /// The row before (it matched).
        old: T,
        /// The row after (it does not match).
        new: T,
    },
    /// An update brought the row into the subscription's key range or filter: the row
    /// before did not match, the row after does.
    Entered {
        /// The row before (it did not match).
        old: T,
        /// The row after (it matches).
        new: T,
    },
}

impl<T> Change<T> {
    /// What the statement did to the row: [`Change::Left`] and [`Change::Entered`]
    /// are updates.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// use drift::ChangeKind;
    ///
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// db.write(|tx| {
    ///     tx.upsert(&Task { id: 1 })?;
    ///     tx.upsert(&Task { id: 1 })?;
    ///     tx.delete::<Task>(&1).map(drop)
    /// })?;
    /// let commit = changes.try_recv().expect("committed")?;
    /// let kinds: Vec<ChangeKind> = commit.changes.iter().map(|c| c.kind()).collect();
    /// assert_eq!(kinds, [ChangeKind::Insert, ChangeKind::Update, ChangeKind::Delete]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Insert { .. } => ChangeKind::Insert,
            Change::Delete { .. } => ChangeKind::Delete,
            Change::Update { .. } | Change::Left { .. } | Change::Entered { .. } => ChangeKind::Update,
        }
    }

    /// The row after the change (`None` for a delete).
    ///
    /// ```
    /// use drift::Change;
    ///
    /// let update = Change::Update { old: "draft", new: "final" };
    /// assert_eq!(update.new_row(), Some(&"final"));
    /// assert_eq!(Change::Delete { old: "final" }.new_row(), None);
    /// ```
    #[must_use]
    pub fn new_row(&self) -> Option<&T> {
        match self {
            Change::Insert { new }
            | Change::Update { new, .. }
            | Change::Left { new, .. }
            | Change::Entered { new, .. } => Some(new),
            Change::Delete { .. } => None,
        }
    }

    /// The row before the change (`None` for an insert).
    ///
    /// ```
    /// use drift::Change;
    ///
    /// let update = Change::Update { old: "draft", new: "final" };
    /// assert_eq!(update.old_row(), Some(&"draft"));
    /// assert_eq!(Change::Insert { new: "draft" }.old_row(), None);
    /// ```
    #[must_use]
    pub fn old_row(&self) -> Option<&T> {
        match self {
            Change::Insert { .. } => None,
            Change::Update { old, .. }
            | Change::Delete { old }
            | Change::Left { old, .. }
            | Change::Entered { old, .. } => Some(old),
        }
    }
}

/// One commit's changes to the rows a subscription watches, in the order the
/// transaction made them.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit<T> {
    /// The commit's number: one more than the commit before it in this `Db`. Numbers of
    /// one open `Db` never repeat those of an earlier open (see [`crate::Db::watch`]).
    pub seq: u64,
    /// The changes, at least one.
    pub changes: Vec<Change<T>>,
}

/// The encoded key range a subscription is narrowed to.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

fn in_range(r: &KeyRange, key: &[u8]) -> bool {
    let above = match &r.0 {
        Bound::Included(lo) => key >= lo.as_slice(),
        Bound::Excluded(lo) => key > lo.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &r.1 {
        Bound::Included(hi) => key <= hi.as_slice(),
        Bound::Excluded(hi) => key < hi.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// A subscription to the committed changes of rows of `T`: see
/// [`Db::watch`](crate::Db::watch). Receive with [`recv`](Watch::recv),
/// [`recv_timeout`](Watch::recv_timeout), [`try_recv`](Watch::try_recv), as a
/// (blocking) iterator, or (feature `async`) as a `futures_core::Stream` through
/// `into_stream`. Dropping it ends the subscription.
pub struct Watch<T: Entity> {
    hub: Arc<Hub>,
    slot: Arc<Slot>,
    entity: usize,
    range: Option<KeyRange>,
    filter: Option<Filter<T>>,
    kinds: [bool; 3],
}

impl<T: Entity> std::fmt::Debug for Watch<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("entity", &entity_name::<T>())
            .field("pending", &self.pending())
            .field("filtered", &self.filter.is_some())
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

/// What the slot gave.
enum Next {
    Record(Arc<Record>),
    Lagged(u64),
    Closed,
    Empty,
}

fn kind_index(kind: ChangeKind) -> usize {
    match kind {
        ChangeKind::Insert => 0,
        ChangeKind::Update => 1,
        ChangeKind::Delete => 2,
    }
}

impl<T: Entity> Watch<T> {
    pub(crate) fn new(hub: Arc<Hub>, entity: usize) -> Watch<T> {
        let slot = hub.subscribe(entity);
        Watch { hub, slot, entity, range: None, filter: None, kinds: [true; 3] }
    }

    /// Narrows the subscription to rows whose primary key is in `range`. An update
    /// cannot change a key, so a row never leaves a key range.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut tens = db.watch::<Task>()?.range(10..20)?;
    /// db.write(|tx| [5, 15, 25].iter().try_for_each(|&id| tx.insert(&Task { id }).map(drop)))?;
    /// let commit = tens.try_recv().expect("committed")?;
    /// assert_eq!(commit.changes, [drift::Change::Insert { new: Task { id: 15 } }]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Key`] when a bound cannot be encoded (a NaN float).
    pub fn range(mut self, range: impl RangeBounds<T::Key>) -> Result<Self> {
        let encode = |b: Bound<&T::Key>| -> Result<Bound<Vec<u8>>> {
            Ok(match b {
                Bound::Included(k) | Bound::Excluded(k) => {
                    let mut out = Vec::new();
                    crate::row::encode_key::<T>(k, &mut out)?;
                    if matches!(b, Bound::Included(_)) { Bound::Included(out) } else { Bound::Excluded(out) }
                }
                Bound::Unbounded => Bound::Unbounded,
            })
        };
        self.range = Some((encode(range.start_bound())?, encode(range.end_bound())?));
        Ok(self)
    }

    /// Narrows the subscription to rows that match `filter` (on any field). An update
    /// that makes a row stop matching comes as [`Change::Left`], one that makes it
    /// match as [`Change::Entered`]. Calling it again replaces the filter.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, done: bool }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut finished = db.watch::<Task>()?.filter(Task::DONE.eq(true));
    /// db.write(|tx| tx.insert(&Task { id: 1, done: false }))?; // not seen
    /// db.write(|tx| tx.update(&Task { id: 1, done: true }))?;
    /// let commit = finished.try_recv().expect("committed")?;
    /// let entered = drift::Change::Entered { old: Task { id: 1, done: false }, new: Task { id: 1, done: true } };
    /// assert_eq!(commit.changes, [entered]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn filter(mut self, filter: Filter<T>) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Narrows the subscription to changes of the kinds `kinds` ([`Change::Left`] and
    /// [`Change::Entered`] are updates).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut deletes = db.watch::<Task>()?.kinds([drift::ChangeKind::Delete]);
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?; // not seen
    /// db.write(|tx| tx.delete::<Task>(&1))?;
    /// let commit = deletes.try_recv().expect("committed")?;
    /// assert_eq!(commit.changes, [drift::Change::Delete { old: Task { id: 1 } }]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = ChangeKind>) -> Self {
        self.kinds = [false; 3];
        for k in kinds {
            self.kinds[kind_index(k)] = true;
        }
        self
    }

    /// Sets how many commits the subscription buffers before it lags (at least 1;
    /// [`DEFAULT_WATCH_CAPACITY`] unless set).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?.capacity(2);
    /// for id in 1..=3 {
    ///     db.write(|tx| tx.insert(&Task { id }))?;
    /// }
    /// assert_eq!(changes.pending(), 2); // the third commit did not fit
    /// let first = changes.try_recv().expect("buffered")?.seq;
    /// changes.try_recv().expect("buffered")?;
    /// let lagged = changes.try_recv().expect("lagged").unwrap_err();
    /// assert_eq!(lagged.kind(), drift::ErrorKind::Lagged);
    /// assert!(matches!(lagged, drift::Error::Lagged { from, .. } if from == first + 2));
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn capacity(self, commits: usize) -> Self {
        lock(&self.slot.state).capacity = commits.max(1);
        self
    }

    /// Starts (again) from commit number `from`: the held commits from `from` on come
    /// first, then the later ones. What the subscription had buffered is replaced.
    /// Use it with the number of an [`Error::Lagged`], or the last
    /// [`Commit::seq`] seen plus one after a reconnect.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let seen = db.watch::<Task>()?.last_commit(); // kept by a client, say
    /// db.write(|tx| tx.insert(&Task { id: 2 }))?;
    /// // Later: a new subscription picks up after the last commit seen.
    /// let mut changes = db.watch::<Task>()?.resume_from(seen + 1)?;
    /// let commit = changes.try_recv().expect("held")?;
    /// assert_eq!((commit.seq, commit.changes.len()), (seen + 1, 1));
    /// assert!(changes.try_recv().is_none());
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::HistoryGap`] when the database no longer holds commit `from` (or has
    /// not numbered it: a number from an earlier run is above or below this run's).
    pub fn resume_from(mut self, from: u64) -> Result<Self> {
        self.resume(from)?;
        Ok(self)
    }

    /// As [`resume_from`](Watch::resume_from), in place: on [`Error::HistoryGap`] the
    /// subscription is kept, unchanged, and goes on with live commits.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?.capacity(1);
    /// for id in 1..=3 {
    ///     db.write(|tx| tx.insert(&Task { id }))?;
    /// }
    /// changes.try_recv().expect("buffered")?; // commit 1; 2 and 3 did not fit
    /// let Some(Err(drift::Error::Lagged { from, .. })) = changes.try_recv() else { panic!("lagged") };
    /// changes.resume(from)?; // the missed commits, from the history
    /// assert_eq!(changes.try_recv().expect("held")?.seq, from);
    /// assert_eq!(changes.try_recv().expect("held")?.seq, from + 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`resume_from`](Watch::resume_from).
    pub fn resume(&mut self, from: u64) -> Result<()> {
        self.hub.resume(&self.slot, self.entity, from, entity_name::<T>())
    }

    /// Sets how many bytes of keys and rows the subscription buffers before it lags
    /// ([`DEFAULT_WATCH_BYTES`] unless set). A commit larger than that is delivered
    /// alone, when the buffer is empty.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?.max_bytes(1_000);
    /// let big = "x".repeat(2_000);
    /// db.write(|tx| tx.insert(&Task { id: 1, title: big.clone() }))?; // alone: taken
    /// db.write(|tx| tx.insert(&Task { id: 2, title: big.clone() }))?; // does not fit
    /// assert_eq!(changes.pending(), 1);
    /// changes.try_recv().expect("buffered")?;
    /// assert_eq!(changes.try_recv().expect("lagged").unwrap_err().kind(), drift::ErrorKind::Lagged);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn max_bytes(self, bytes: usize) -> Self {
        lock(&self.slot.state).max_bytes = bytes;
        self
    }

    /// How many bytes of keys and rows the buffered commits hold.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64, title: String }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// db.write(|tx| tx.insert(&Task { id: 1, title: "x".repeat(1_000) }))?;
    /// assert!(changes.pending_bytes() >= 1_000);
    /// changes.try_recv().expect("buffered")?;
    /// assert_eq!(changes.pending_bytes(), 0);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn pending_bytes(&self) -> usize {
        let st = lock(&self.slot.state);
        st.queued_bytes + st.replayed_bytes
    }

    /// How many commits are buffered, not yet received.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// db.write(|tx| tx.insert(&Task { id: 2 }))?;
    /// assert_eq!(changes.pending(), 2);
    /// changes.try_recv().expect("buffered")?;
    /// assert_eq!(changes.pending(), 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn pending(&self) -> usize {
        lock(&self.slot.state).queue.len()
    }

    /// Whether the database was closed: nothing more will come once the buffer is
    /// empty.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// drop(db);
    /// assert!(changes.is_closed());
    /// assert!(changes.recv().is_some()); // what was buffered still comes
    /// assert!(changes.recv().is_none()); // then the end, without blocking
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.slot.state).closed
    }

    /// The number of the last commit the database published (to any subscription).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let commit = changes.try_recv().expect("committed")?;
    /// assert_eq!(changes.last_commit(), commit.seq);
    /// # Ok::<(), drift::Error>(())
    /// ```
    #[must_use]
    pub fn last_commit(&self) -> u64 {
        self.hub.last()
    }

    fn take(slot: &Slot, state: &mut SlotState) -> Next {
        if let Some(r) = state.queue.pop_front() {
            if state.replayed > 0 {
                state.replayed -= 1;
                state.replayed_bytes -= r.bytes;
            } else {
                state.queued_bytes -= r.bytes;
            }
            return Next::Record(r);
        }
        if let Some(from) = state.lagged_from.take() {
            slot.lagging.store(false, Ordering::Release);
            return Next::Lagged(from);
        }
        if state.closed { Next::Closed } else { Next::Empty }
    }

    /// Waits for the next commit with a change this subscription sees, until
    /// `deadline` (forever when `None`). `None` when the database was closed (or the
    /// deadline passed).
    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<Commit<T>>> {
        loop {
            let next = {
                let mut st = lock(&self.slot.state);
                loop {
                    match Self::take(&self.slot, &mut st) {
                        Next::Empty => {}
                        other => break other,
                    }
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left.is_some_and(|l| l.is_zero()) {
                        break Next::Empty;
                    }
                    st.waiting += 1;
                    st = match left {
                        None => self.slot.ready.wait(st).unwrap_or_else(PoisonError::into_inner),
                        Some(left) => self.slot.ready.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0,
                    };
                    st.waiting -= 1;
                }
            };
            match self.convert(next) {
                Some(Ok(None)) => {}
                Some(Ok(Some(c))) => return Some(Ok(c)),
                Some(Err(e)) => return Some(Err(e)),
                None => return None,
            }
        }
    }

    /// Turns what the slot gave into what the caller receives: `Ok(None)` when the
    /// commit holds nothing this subscription sees.
    fn convert(&self, next: Next) -> Option<Result<Option<Commit<T>>>> {
        match next {
            Next::Record(r) => Some(self.view(&r)),
            Next::Lagged(from) => Some(Err(Error::Lagged { entity: entity_name::<T>(), from })),
            Next::Closed | Next::Empty => None,
        }
    }

    /// Blocks until the next commit with a change this subscription sees. `None` once
    /// the database is closed and every buffered commit was received.
    ///
    /// Returns [`Error::Lagged`] once when commits were missed (then goes on),
    /// [`Error::Decode`] when a row cannot be decoded, and an error the key range or
    /// filter held (a key or operand that cannot be encoded).
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// let writer = std::thread::spawn(move || db.write(|tx| tx.insert(&Task { id: 1 })));
    /// let commit = changes.recv().expect("the database is open")?; // waits for the commit
    /// assert_eq!(commit.changes, [drift::Change::Insert { new: Task { id: 1 } }]);
    /// writer.join().expect("no panic")?;
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn recv(&mut self) -> Option<Result<Commit<T>>> {
        self.next_until(None)
    }

    /// As [`recv`](Watch::recv), waiting at most `timeout`; `None` when it passed.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// use std::time::Duration;
    ///
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// assert!(changes.recv_timeout(Duration::from_millis(10)).is_none()); // nothing committed
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let commit = changes.recv_timeout(Duration::from_secs(1)).expect("committed")?;
    /// assert_eq!(commit.changes.len(), 1);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Result<Commit<T>>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    /// The next buffered commit with a change this subscription sees, without waiting.
    ///
    /// ```
    /// # use drift::prelude::*;
    /// # #[derive(Entity, Debug, Clone, PartialEq, Default)]
    /// # struct Task { #[drift(primary_key)] id: u64 }
    /// let db = Db::builder().entity::<Task>().in_memory()?;
    /// let mut changes = db.watch::<Task>()?;
    /// assert!(changes.try_recv().is_none());
    /// db.write(|tx| tx.insert(&Task { id: 1 }))?;
    /// let commit = changes.try_recv().expect("committed")?;
    /// assert_eq!(commit.changes, [drift::Change::Insert { new: Task { id: 1 } }]);
    /// # Ok::<(), drift::Error>(())
    /// ```
    pub fn try_recv(&mut self) -> Option<Result<Commit<T>>> {
        self.next_until(Some(Instant::now()))
    }

    /// The changes of `record` this subscription sees, if any.
    fn view(&self, record: &Record) -> Result<Option<Commit<T>>> {
        if !record.entities.contains(&u32::try_from(self.entity).unwrap_or(u32::MAX)) {
            return Ok(None);
        }
        let range = self.range.as_ref();
        if let Some((field, source)) = self.filter.as_ref().and_then(|f| f.node.operand_error()) {
            let key = "(filter operand)".to_string();
            return Err(Error::Key { entity: entity_name::<T>(), field, key, source });
        }
        let counters = crate::stats::Counters::default();
        let decode = |key: &[u8], row: &[u8]| crate::row::decode::<T>(&counters, key, row);
        let mut changes = Vec::new();
        for c in record.changes.rows().filter(|c| c.entity as usize == self.entity) {
            if !self.kinds[kind_index(c.kind)] {
                continue;
            }
            if let Some(r) = range {
                if !in_range(r, c.key) {
                    continue;
                }
            }
            let old = c.old.map(|b| decode(c.key, b)).transpose()?;
            let new = c.new.map(|b| decode(c.key, b)).transpose()?;
            let matches = |row: &T| self.filter.as_ref().is_none_or(|f| f.node.eval(row));
            let change = match (old, new) {
                (None, Some(new)) => matches(&new).then_some(Change::Insert { new }),
                (Some(old), None) => matches(&old).then_some(Change::Delete { old }),
                (Some(old), Some(new)) => match (matches(&old), matches(&new)) {
                    (true, true) => Some(Change::Update { old, new }),
                    (true, false) => Some(Change::Left { old, new }),
                    (false, true) => Some(Change::Entered { old, new }),
                    (false, false) => None,
                },
                (None, None) => None,
            };
            changes.extend(change);
        }
        Ok((!changes.is_empty()).then(|| Commit { seq: record.seq, changes }))
    }
}

impl<T: Entity> Iterator for Watch<T> {
    type Item = Result<Commit<T>>;

    /// As [`Watch::recv`].
    fn next(&mut self) -> Option<Self::Item> {
        self.recv()
    }
}

impl<T: Entity> Drop for Watch<T> {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.entity, &self.slot);
    }
}

/// A [`Watch`] for async code (feature `async`): a `futures_core::Stream` of the same
/// items as [`Watch::recv`], that waits without blocking a thread. From
/// [`Watch::into_stream`].
#[cfg(feature = "async")]
#[derive(Debug)]
pub struct WatchStream<T: Entity>(Watch<T>);

#[cfg(feature = "async")]
impl<T: Entity> Watch<T> {
    /// This subscription as a `Stream` (feature `async`), for async code: it waits
    /// without blocking a thread. `tests/watch.rs` and the web example use it.
    ///
    /// ```ignore
    /// use futures::StreamExt;
    ///
    /// let mut tasks = db.watch::<Task>()?.into_stream();
    /// while let Some(commit) = tasks.next().await {
    ///     println!("commit {}: {} changes", commit?.seq, commit.changes.len());
    /// }
    /// ```
    #[must_use]
    pub fn into_stream(self) -> WatchStream<T> {
        WatchStream(self)
    }
}

#[cfg(feature = "async")]
impl<T: Entity> WatchStream<T> {
    /// The subscription, to receive from blocking code again.
    #[must_use]
    pub fn into_inner(self) -> Watch<T> {
        self.0
    }
}

#[cfg(feature = "async")]
impl<T: Entity> futures_core::Stream for WatchStream<T> {
    type Item = Result<Commit<T>>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut self.get_mut().0;
        loop {
            let next = {
                let mut st = lock(&this.slot.state);
                match Watch::<T>::take(&this.slot, &mut st) {
                    Next::Empty => {
                        st.waker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                    other => other,
                }
            };
            match this.convert(next) {
                Some(Ok(None)) => {}
                Some(Ok(Some(c))) => return Poll::Ready(Some(Ok(c))),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}
