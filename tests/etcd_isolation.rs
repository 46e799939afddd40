//! The etcd engine's isolation where tables themselves change: a table deleted and
//! written again, a table deleted under a transaction that writes to it.
//!
//! ```sh
//! cargo test --features etcd --test etcd_isolation
//! ```
#![cfg(feature = "etcd")]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drift::prelude::*;
use drift::raw::{CompiledEntity, Migrator, RawWrite};

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

/// An etcd server on 127.0.0.1 in a temp dir, stopped when dropped (as in
/// tests/engines.rs).
pub struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    pub endpoint: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "drift-test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("drift-test={peer_url}")])
            .args(["--log-level", "error"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts (Debian: apt-get install etcd-server)");
        let server = Server { child, _dir: dir, endpoint };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let probe = Db::builder().etcd([server.endpoint.clone()], "probe/").map(drop);
            if probe.is_ok() {
                return server;
            }
            assert!(Instant::now() < deadline, "etcd did not come up: {probe:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
