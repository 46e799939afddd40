//! The etcd engine's isolation where tables themselves change: a table deleted and
//! written again, a table deleted under a transaction that writes to it.
//!
//! ```sh
//! cargo test --features etcd --test etcd_isolation
//! ```
#![cfg(feature = "etcd")]

#[path = "common/etcd_server.rs"]
mod etcd_server;

use drift::prelude::*;
use drift::raw::{CompiledEntity, Migrator, RawWrite};
use etcd_server::Server;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "items")]
pub struct Item {
    #[drift(primary_key)]
    pub id: u64,
    pub name: String,
}

fn item(id: u64, name: &str) -> Item {
    Item { id, name: name.into() }
}

const ROOMY: &[&str] = &["--max-txn-ops", "100000", "--max-request-bytes", "33554432"];

/// A migration that, after its transaction began, lets another handle commit a row
/// into `items`, then deletes `items` and writes one entry into it.
struct DeleteThenRewrite {
    endpoint: String,
    prefix: String,
}

impl Migrator for DeleteThenRewrite {
    fn migrate(&self, raw: &mut RawWrite, _compiled: &[CompiledEntity]) -> drift::Result<()> {
        // A concurrent commit, after this transaction's start revision.
        let other = Db::builder().entity::<Item>().etcd([self.endpoint.clone()], &self.prefix)?;
        other.write(|tx| tx.insert(&item(7, "late")).map(drop))?;
        // Without reading `items`: delete it, then write one entry.
        assert!(raw.delete_table("items")?);
        raw.put("items", b"only", b"entry")?;
        Ok(())
    }
}

/// A transaction that deletes a table and then writes to it leaves only its own
/// entries, even when another transaction committed a row into the table in between
/// (it used to delete only the keys stored at its start revision, so the row committed
/// meanwhile survived). Either that, or the commit conflicts.
#[test]
fn delete_table_then_put_deletes_rows_committed_meanwhile() {
    let server = Server::start(ROOMY);
    let prefix = "delete-rewrite/".to_string();
    let db = Db::builder().entity::<Item>().etcd([server.endpoint.clone()], &prefix).unwrap();
    db.write(|tx| tx.insert(&item(1, "old")).map(drop)).unwrap();

    let opened = Db::builder()
        .entity::<Item>()
        .migrations(DeleteThenRewrite { endpoint: server.endpoint.clone(), prefix: prefix.clone() })
        .etcd([server.endpoint.clone()], &prefix);
    match opened {
        Err(e) => assert_eq!(e.kind(), drift::ErrorKind::Conflict, "{e}"),
        Ok(_) => {
            let raw = db.raw_read().unwrap();
            let n = raw.count("items").unwrap();
            let mut k = Vec::new();
            drift::KeyCodec::encode_key(&7u64, &mut k).unwrap();
            let late = raw.get("items", &k).unwrap();
            assert_eq!(
                n, 1,
                "the committed transaction deleted `items` and wrote one entry, yet the table holds {n} \
                 (the row committed meanwhile survived: {late:?})"
            );
        }
    }
}

/// A migration that drops the `items` entity: its table and stored descriptor.
struct DropItems;

impl Migrator for DropItems {
    fn migrate(&self, raw: &mut RawWrite, _compiled: &[CompiledEntity]) -> drift::Result<()> {
        assert!(raw.delete_table("items")?);
        raw.remove_schema("items")?;
        Ok(())
    }
}

/// A transaction that began while table `items` existed, and writes a new key into it
/// after another commit deleted the table, conflicts: the commit compares the table's
/// marker. (It used to compare only the key, absent before and after, and left a row
/// stored under a table listed as deleted, which came back when anything created the
/// table again: no serial order gives that.)
#[test]
fn a_write_into_a_table_deleted_meanwhile_is_not_orphaned() {
    let server = Server::start(ROOMY);
    let prefix = "orphan/";
    let db = Db::builder().entity::<Item>().etcd([server.endpoint.clone()], prefix).unwrap();
    db.write(|tx| tx.insert(&item(1, "one")).map(drop)).unwrap();

    let mut tx = db.begin_write().unwrap();
    // Another process drops the entity (a migration without it).
    let dropper = Db::builder().migrations(DropItems).etcd([server.endpoint.clone()], prefix).unwrap();
    assert!(!dropper.raw_read().unwrap().has_table("items"), "the table is deleted");
    // Then this transaction inserts a new row into it: only an absent key is read.
    tx.insert(&item(2, "two")).unwrap();
    let committed = tx.commit();
    if let Err(e) = committed {
        assert_eq!(e.kind(), drift::ErrorKind::Conflict, "{e}");
        return;
    }

    let listed = Db::builder().etcd([server.endpoint.clone()], prefix).unwrap().raw_read().unwrap().has_table("items");
    // Anything that uses the table again (here: opening with the entity) re-creates it.
    let reopened = Db::builder().entity::<Item>().etcd([server.endpoint.clone()], prefix).unwrap();
    let rows = reopened.read(|tx| tx.query::<Item>().all()).unwrap();
    assert!(
        listed || rows.is_empty(),
        "the commit succeeded but left `items` unlisted (deleted) while its row stayed stored: \
         re-creating the table brings back {rows:?}"
    );
}
