//! Lookups run from a thread-local destructor, after the library's own thread-locals are gone.

mod common;

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use common::{User, memory_db};
use drift::prelude::*;

/// What the `get_by` run from a thread-local destructor returned, or its panic.
static OUTCOME: Mutex<Option<std::result::Result<Option<String>, String>>> = Mutex::new(None);

/// Looks a user up by email when the thread that holds it exits.
struct LookupOnDrop(Option<Arc<Db>>);

impl Drop for LookupOnDrop {
    fn drop(&mut self) {
        let Some(db) = self.0.take() else { return };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.read(|tx| Ok((tx.get_by(User::EMAIL, "ann@x.io")?, tx.get::<User>(&1)?)))
                .map(|(a, b)| a.zip(b).map(|(a, b)| format!("{} {}", a.email, b.email)))
                .map_err(|e| e.to_string())
        }));
        let r = r.unwrap_or_else(|p| {
            let msg =
                p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()));
            Err(format!("panicked: {}", msg.unwrap_or_default()))
        });
        *OUTCOME.lock().unwrap() = Some(r);
    }
}

std::thread_local! {
    static HOLDER: RefCell<LookupOnDrop> = const { RefCell::new(LookupOnDrop(None)) };
}

/// `get_by` takes the per-thread key buffer with `LocalKey::take`, which panics once
/// that thread-local is destroyed: a lookup from another thread-local's destructor
/// (registered first, so destroyed after the buffer) panics where it used to work.
#[test]
fn get_and_get_by_from_a_thread_local_destructor_do_not_panic() {
    let db = Arc::new(memory_db());
    db.write(|tx| tx.insert(&User::new("ann@x.io", 30, "Ann")).map(drop)).unwrap();
    let d = Arc::clone(&db);
    std::thread::spawn(move || {
        // The holder's destructor is registered before the key buffer's.
        HOLDER.with(|h| h.borrow_mut().0 = Some(Arc::clone(&d)));
        assert!(d.read(|tx| tx.get_by(User::EMAIL, "ann@x.io")).unwrap().is_some());
    })
    .join()
    .unwrap();
    assert_eq!(*OUTCOME.lock().unwrap(), Some(Ok(Some("ann@x.io ann@x.io".to_string()))));
}
