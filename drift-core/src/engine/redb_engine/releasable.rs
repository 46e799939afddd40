//! The storage backend Drift hands to redb: the file's backend (or the caller's, see
//! [`DbBuilder::open_backend`](crate::DbBuilder::open_backend)) behind a switch.
//!
//! A database redb failed on is leaked rather than closed, since redb's close can
//! panic twice on a damaged file, which aborts the process. Leaking it used to keep the
//! file open and locked until the process exited. Through the switch, the leaked
//! database lets go of what it holds: [`Release::release`] releases the backend's locks
//! (its `close`) and drops it, which closes the file. redb never calls the backend
//! again after that, as its database is never used again; were it to, each call fails
//! with an I/O error.

use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use redb::{BackendError, StorageBackend};

/// The caller's end of the switch.
pub(crate) trait Release: Send + Sync {
    /// Releases the backend's locks and drops it; later calls through the switch fail.
    fn release(&self);
}

/// A backend that can be let go of from outside redb.
pub(crate) struct Releasable<B> {
    slot: Arc<RwLock<Option<B>>>,
}

impl<B: StorageBackend> Releasable<B> {
    /// Wraps `backend`; the second value releases it.
    pub(crate) fn new(backend: B) -> (Releasable<B>, Arc<dyn Release>) {
        let slot = Arc::new(RwLock::new(Some(backend)));
        (Releasable { slot: Arc::clone(&slot) }, Arc::new(Slot(slot)))
    }

    /// Another handle on the same backend, released with it.
    pub(crate) fn share(&self) -> Releasable<B> {
        Releasable { slot: Arc::clone(&self.slot) }
    }

    /// Runs `f` on the backend while it is there.
    fn with<R>(&self, f: impl FnOnce(&B) -> std::io::Result<R>) -> std::io::Result<R> {
        match &*self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(b) => f(b),
            None => Err(released()),
        }
    }

    fn locking<R>(&self, f: impl FnOnce(&B) -> Result<R, BackendError>) -> Result<R, BackendError> {
        match &*self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(b) => f(b),
            None => Err(BackendError::Io(released())),
        }
    }
}

fn released() -> std::io::Error {
    std::io::Error::other("the database file was released after the storage engine failed on it")
}

struct Slot<B>(Arc<RwLock<Option<B>>>);

impl<B: StorageBackend> Release for Slot<B> {
    fn release(&self) {
        let taken = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(backend) = taken {
            // Best effort: a backend whose close fails still closes its file when dropped.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let _ = backend.close();
                drop(backend);
            }));
        }
    }
}

impl<B: StorageBackend> fmt::Debug for Releasable<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(b) => f.debug_tuple("Releasable").field(b).finish(),
            None => f.write_str("Releasable(released)"),
        }
    }
}

impl<B: StorageBackend> StorageBackend for Releasable<B> {
    fn len(&self) -> std::io::Result<u64> {
        self.with(|b| b.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.with(|b| b.read(offset, out))
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.with(|b| b.set_len(len))
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.with(|b| b.sync_data())
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.with(|b| b.write(offset, data))
    }

    fn close(&self) -> std::io::Result<()> {
        match &*self.slot.read().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(b) => b.close(),
            None => Ok(()),
        }
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.locking(|b| b.try_lock_range(start, end))
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.locking(|b| b.try_lock_shared_range(start, end))
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locking(|b| b.lock_range(start, end))
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locking(|b| b.lock_shared_range(start, end))
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.locking(|b| b.unlock_range(start, end))
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.locking(|b| b.query_lock_range(start, end))
    }
}
