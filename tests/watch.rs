//! Change subscriptions: `db.watch::<T>()` yields each commit's changes after the
//! commit, in order, numbered; never what was rolled back; cascades included; a slow
//! subscriber is told it lagged and its buffer stays bounded; resuming from a commit
//! number works while the database holds it and is a clear error when it does not.

#[path = "common/blog.rs"]
mod blog;

use std::time::Duration;

use blog::{Comment, Post, User, builder, post, user};
use drift::prelude::*;
use drift::{Change, ChangeKind, Commit, ErrorKind};

const WAIT: Duration = Duration::from_secs(10);

fn next<T: drift::Entity>(w: &mut drift::Watch<T>) -> Commit<T> {
    w.recv_timeout(WAIT).expect("a commit within the wait").expect("received without error")
}

fn nothing_pending<T: drift::Entity + std::fmt::Debug>(w: &mut drift::Watch<T>) {
    if let Some(got) = w.try_recv() {
        panic!("nothing more was expected, got {got:?}");
    }
}

#[test]
fn each_commit_arrives_once_in_order_numbered_with_old_and_new_rows() {
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap();
    let ann = db.write(|tx| tx.insert(&user("ann@x"))).unwrap();
    let bob = db.write(|tx| tx.insert(&user("bob@x"))).unwrap();
    db.write(|tx| {
        let mut a = tx.get::<User>(&ann)?.unwrap();
        a.name = "Ann".into();
        tx.update(&a)?;
        tx.delete::<User>(&bob).map(drop)
    })
    .unwrap();

    let first = next(&mut users);
    assert_eq!(first.changes.len(), 1);
    assert!(matches!(&first.changes[0], Change::Insert { new } if new.email == "ann@x"));
    let second = next(&mut users);
    assert_eq!(second.seq, first.seq + 1, "numbers go up by one per commit");
    assert!(matches!(&second.changes[0], Change::Insert { new } if new.email == "bob@x"));
    let third = next(&mut users);
    assert_eq!(third.seq, second.seq + 1);
    match &third.changes[..] {
        [Change::Update { old, new }, Change::Delete { old: gone }] => {
            assert_eq!((old.name.as_str(), new.name.as_str()), ("ann", "Ann"));
            assert_eq!(gone.email, "bob@x");
        }
        other => panic!("an update then a delete, in the order made: {other:?}"),
    }
    assert_eq!(third.changes[0].kind(), ChangeKind::Update);
    nothing_pending(&mut users);
    assert_eq!(users.last_commit(), third.seq);
}

#[test]
fn rolled_back_work_failed_statements_and_undone_savepoints_are_never_delivered() {
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap();
    // A transaction that fails as a whole.
    let failed: drift::Result<()> = db.write(|tx| {
        tx.insert(&user("gone@x"))?;
        Err(drift::Error::NotFound { entity: "User", key: "on purpose".into() })
    });
    assert!(failed.is_err());
    // A transaction dropped without commit.
    {
        let mut tx = db.begin_write().unwrap();
        tx.insert(&user("dropped@x")).unwrap();
    }
    db.write(|tx| {
        tx.insert(&user("kept@x"))?;
        // A failed statement: the unique value is taken.
        assert_eq!(tx.insert(&user("kept@x")).unwrap_err().kind(), ErrorKind::UniqueViolation);
        // An undone savepoint.
        let undone = tx.savepoint(|tx| {
            tx.insert(&user("savepoint@x"))?;
            tx.insert(&user("kept@x"))
        });
        assert!(undone.is_err());
        tx.insert(&user("after@x")).map(drop)
    })
    .unwrap();
    let commit = next(&mut users);
    let emails: Vec<&str> = commit.changes.iter().filter_map(|c| c.new_row()).map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["kept@x", "after@x"]);
    nothing_pending(&mut users);
}

#[test]
fn a_transaction_that_changes_nothing_delivers_nothing() {
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap();
    db.write(|tx| tx.get::<User>(&1).map(drop)).unwrap();
    db.write(|tx| tx.delete::<User>(&42).map(drop)).unwrap();
    nothing_pending(&mut users);
}

#[test]
fn cascades_and_set_null_are_delivered_in_the_commit_that_caused_them() {
    let db = builder().in_memory().unwrap();
    let (ann, bob) = db.write(|tx| Ok((tx.insert(&user("ann@x"))?, tx.insert(&user("bob@x"))?))).unwrap();
    let p = db.write(|tx| tx.insert(&post(ann, "hello", 3))).unwrap();
    db.write(|tx| {
        tx.insert(&Comment { post_id: p, editor_id: Some(bob), body: "edited by bob".into(), ..Default::default() })
    })
    .unwrap();
    let mut posts = db.watch::<Post>().unwrap();
    let mut comments = db.watch::<Comment>().unwrap();
    // Deleting bob sets the comment's editor to None (set_null).
    db.write(|tx| tx.delete::<User>(&bob).map(drop)).unwrap();
    match &next(&mut comments).changes[..] {
        [Change::Update { old, new }] => assert_eq!((old.editor_id, new.editor_id), (Some(bob), None)),
        other => panic!("the set_null update: {other:?}"),
    }
    // Deleting ann deletes her post and its comment (cascade), in one commit.
    db.write(|tx| tx.delete::<User>(&ann).map(drop)).unwrap();
    let post_commit = next(&mut posts);
    assert!(matches!(&post_commit.changes[..], [Change::Delete { old }] if old.id == p));
    let comment_commit = next(&mut comments);
    assert_eq!(comment_commit.seq, post_commit.seq, "the same commit");
    assert!(matches!(&comment_commit.changes[..], [Change::Delete { old }] if old.post_id == p));
}

#[test]
fn a_filter_reports_rows_that_enter_and_leave_it() {
    let db = builder().in_memory().unwrap();
    let ann = db.write(|tx| tx.insert(&user("ann@x"))).unwrap();
    let mut popular = db.watch::<Post>().unwrap().filter(Post::LIKES.gte(10));
    let id = db.write(|tx| tx.insert(&post(ann, "quiet", 1))).unwrap();
    let set_likes = |likes: u32| {
        db.write(|tx| {
            let mut p = tx.get::<Post>(&id)?.unwrap();
            p.likes = likes;
            tx.update(&p)
        })
        .unwrap()
    };
    set_likes(12);
    set_likes(15);
    set_likes(2);
    db.write(|tx| tx.insert(&post(ann, "loud", 50))).unwrap();
    let got: Vec<Change<Post>> = (0..4).map(|_| next(&mut popular)).flat_map(|c| c.changes).collect();
    match &got[..] {
        [
            Change::Entered { old: a, new: b },
            Change::Update { old: c, new: d },
            Change::Left { old: e, new: f },
            Change::Insert { new: g },
        ] => {
            assert_eq!((a.likes, b.likes, c.likes, d.likes, e.likes, f.likes), (1, 12, 12, 15, 15, 2));
            assert_eq!(g.title, "loud");
        }
        other => panic!("entered, updated, left, inserted: {other:?}"),
    }
    nothing_pending(&mut popular);
}

#[test]
fn a_key_range_and_change_kinds_narrow_a_subscription() {
    let db = builder().in_memory().unwrap();
    let mut low = db.watch::<User>().unwrap().range(2..4).unwrap();
    let mut deletes = db.watch::<User>().unwrap().kinds([ChangeKind::Delete]);
    db.write(|tx| {
        for i in 1..=5 {
            tx.insert(&user(&format!("u{i}@x")))?;
        }
        Ok(())
    })
    .unwrap();
    db.write(|tx| tx.delete_where::<User>(User::ID.gte(1)).map(drop)).unwrap();
    let inserted: Vec<u64> = next(&mut low).changes.iter().filter_map(|c| c.new_row()).map(|u| u.id).collect();
    assert_eq!(inserted, [2, 3]);
    let deleted: Vec<u64> = next(&mut low).changes.iter().filter_map(|c| c.old_row()).map(|u| u.id).collect();
    assert_eq!(deleted, [2, 3]);
    let only_deletes = next(&mut deletes);
    assert_eq!(only_deletes.changes.len(), 5);
    assert!(only_deletes.changes.iter().all(|c| c.kind() == ChangeKind::Delete));
    nothing_pending(&mut deletes);
}

#[test]
fn a_stalled_subscriber_lags_with_a_bounded_buffer_and_resumes_from_history() {
    let db = builder().watch_history(100, 1 << 20).in_memory().unwrap();
    let mut slow = db.watch::<User>().unwrap().capacity(8);
    let mut seqs = Vec::new();
    for i in 0..50 {
        db.write(|tx| tx.insert(&user(&format!("u{i}@x")))).unwrap();
        assert!(slow.pending() <= 8, "the buffer never holds more than its capacity");
        seqs.push(slow.last_commit());
    }
    // What it buffered comes first, then the lag notice naming the first missed commit.
    for &seq in &seqs[..8] {
        assert_eq!(next(&mut slow).seq, seq);
    }
    let lag = slow.recv_timeout(WAIT).unwrap().unwrap_err();
    assert_eq!(lag.kind(), ErrorKind::Lagged, "{lag}");
    let drift::Error::Lagged { from, entity } = lag else { unreachable!() };
    assert_eq!((from, entity), (seqs[8], "User"));
    // The history still holds them: resume where the gap began.
    let mut slow = slow.capacity(100).resume_from(from).unwrap();
    let rest: Vec<u64> = (8..50).map(|_| next(&mut slow).seq).collect();
    assert_eq!(rest, seqs[8..]);
    nothing_pending(&mut slow);
}

#[test]
fn after_a_lag_notice_the_subscription_goes_on_with_later_commits() {
    let db = builder().in_memory().unwrap();
    let mut slow = db.watch::<User>().unwrap().capacity(1);
    db.write(|tx| tx.insert(&user("a@x"))).unwrap();
    db.write(|tx| tx.insert(&user("b@x"))).unwrap();
    assert_eq!(next(&mut slow).changes[0].new_row().unwrap().email, "a@x");
    assert_eq!(slow.recv_timeout(WAIT).unwrap().unwrap_err().kind(), ErrorKind::Lagged);
    db.write(|tx| tx.insert(&user("c@x"))).unwrap();
    assert_eq!(next(&mut slow).changes[0].new_row().unwrap().email, "c@x");
}

#[test]
fn resuming_from_a_commit_no_longer_held_is_a_gap_error() {
    let db = builder().watch_history(3, 1 << 20).in_memory().unwrap();
    let watch = db.watch::<User>().unwrap();
    let first = watch.last_commit() + 1;
    for i in 0..10 {
        db.write(|tx| tx.insert(&user(&format!("u{i}@x")))).unwrap();
    }
    let err = watch.resume_from(first).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HistoryGap, "{err}");
    let drift::Error::HistoryGap { requested, oldest, .. } = err else { unreachable!() };
    assert_eq!((requested, oldest), (first, first + 7), "the last 3 of 10 are held");
    // From the oldest held one, it works.
    let mut w = db.watch::<User>().unwrap().resume_from(oldest).unwrap();
    let got: Vec<u64> = (0..3).map(|_| next(&mut w).seq).collect();
    assert_eq!(got, [oldest, oldest + 1, oldest + 2]);
}

#[test]
fn a_commit_number_from_an_earlier_open_is_a_gap_not_other_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watch.drift");
    let db = builder().open(&path).unwrap();
    let w = db.watch::<User>().unwrap();
    db.write(|tx| tx.insert(&user("a@x"))).unwrap();
    let old_number = w.last_commit();
    drop((w, db));
    let db = builder().open(&path).unwrap();
    db.write(|tx| tx.insert(&user("b@x"))).unwrap();
    let err = db.watch::<User>().unwrap().resume_from(old_number).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HistoryGap, "{err}");
}

#[test]
fn a_subscriber_in_another_thread_receives_while_the_writer_goes_on() {
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap();
    let reader = std::thread::spawn(move || {
        let mut emails = Vec::new();
        while emails.len() < 100 {
            let commit = users.recv().expect("open").expect("no lag with the default buffer");
            emails.extend(commit.changes.into_iter().filter_map(|c| c.new_row().map(|u| u.email.clone())));
        }
        emails
    });
    for i in 0..100 {
        db.write(|tx| tx.insert(&user(&format!("u{i:03}@x")))).unwrap();
    }
    let emails = reader.join().unwrap();
    let expected: Vec<String> = (0..100).map(|i| format!("u{i:03}@x")).collect();
    assert_eq!(emails, expected);
}

#[test]
fn closing_the_database_ends_its_subscriptions_after_what_they_buffered() {
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap();
    db.write(|tx| tx.insert(&user("a@x"))).unwrap();
    drop(db);
    assert!(users.recv().expect("the buffered commit").is_ok());
    assert!(users.recv().is_none(), "then the end");
    assert!(users.is_closed());
}

#[test]
fn watching_an_unregistered_entity_is_an_error() {
    #[derive(Entity, Debug, Clone, PartialEq)]
    struct Lone {
        #[drift(primary_key)]
        id: u64,
    }
    let db = Db::builder().entity::<Lone>().in_memory().unwrap();
    let err = db.watch::<User>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownEntity, "{err}");
}

#[test]
fn a_stalled_subscriber_never_stops_the_writer() {
    let db = builder().watch_history(16, 1 << 20).in_memory().unwrap();
    let stalled = db.watch::<User>().unwrap().capacity(4);
    for i in 0..2_000 {
        db.write(|tx| tx.insert(&user(&format!("u{i}@x")))).unwrap();
    }
    assert_eq!(stalled.pending(), 4, "four commits buffered, the rest reported as a lag");
    assert_eq!(db.read(|tx| tx.query::<User>().count()).unwrap(), 2_000);
}

#[test]
fn a_stalled_subscriber_holds_at_most_its_byte_budget() {
    let db = builder().watch_history(0, 0).in_memory().unwrap();
    let stalled = db.watch::<Post>().unwrap().max_bytes(64 * 1024);
    let ann = db.write(|tx| tx.insert(&user("ann@x"))).unwrap();
    // 200 commits of about 10 KiB each: 2 MiB in all.
    for i in 0..200 {
        db.write(|tx| tx.insert(&post(ann, &"x".repeat(10_000 + i), 1))).unwrap();
    }
    assert!(stalled.pending_bytes() <= 64 * 1024, "{} bytes buffered", stalled.pending_bytes());
    assert!(stalled.pending() >= 5, "as many whole commits as fit: {}", stalled.pending());
    // One commit larger than the budget still comes, alone.
    let mut small = db.watch::<Post>().unwrap().max_bytes(100);
    db.write(|tx| tx.insert(&post(ann, &"y".repeat(1_000), 1))).unwrap();
    assert_eq!(next(&mut small).changes[0].new_row().unwrap().title.len(), 1_000);
}

#[test]
fn a_subscription_is_a_stream_for_async_code() {
    use futures::StreamExt;
    let db = builder().in_memory().unwrap();
    let mut users = db.watch::<User>().unwrap().into_stream();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for i in 0..3 {
                std::thread::sleep(Duration::from_millis(20));
                db.write(|tx| tx.insert(&user(&format!("u{i}@x")))).unwrap();
            }
        })
    };
    let got: Vec<String> = futures::executor::block_on(async {
        let mut out = Vec::new();
        while out.len() < 3 {
            let commit = users.next().await.expect("open").expect("no error");
            out.extend(commit.changes.iter().filter_map(|c| c.new_row()).map(|u| u.email.clone()));
        }
        out
    });
    writer.join().unwrap();
    assert_eq!(got, ["u0@x", "u1@x", "u2@x"]);
}
