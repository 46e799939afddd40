//! Stored descriptors that other processes change while a `Db` is open on etcd: an
//! entity dropped elsewhere is not written again, the first write after open costs what
//! the next one does, and a refresh does not conflict with unrelated meta writes.
#![cfg(feature = "etcd")]

#[path = "common/etcd_server.rs"]
mod etcd_server;

use drift::prelude::*;
use etcd_server::Server;

const ROOMY: &[&str] = &["--max-txn-ops", "100000", "--max-request-bytes", "33554432"];

#[path = "common/shelves.rs"]
mod lib;

/// Another process drops an entity this handle registers (`drop_entity`: its tables and
/// its stored descriptor go, the generation moves). The refresh in `Db::begin_write`
/// runs `check_meta`, which takes a registered entity without a stored descriptor for a
/// new one, so the old handle goes on writing rows of the dropped entity: its table comes
/// back with rows no stored descriptor describes, whose `restrict` relation no other
/// process enforces.
#[test]
fn an_entity_another_handle_drops_is_not_written_without_its_descriptor() {
    let server = Server::start(ROOMY);
    let old =
        Db::builder().entity::<lib::Shelf>().entity::<lib::Book>().etcd([server.endpoint.clone()], "dropped/").unwrap();
    old.write(|tx| tx.insert(&lib::Shelf { id: 1 })).unwrap();

    // A newer program drops `Book` with its rows.
    let new = Db::builder()
        .entity::<lib::Shelf>()
        .migrations(drift::migrate::Migrations::new().drop_entity("Book"))
        .etcd([server.endpoint.clone()], "dropped/")
        .unwrap();
    assert!(!new.raw_read().unwrap().stored_schemas().unwrap().iter().any(|d| &*d.name == "Book"));

    // The old program, still open, writes a book.
    let wrote = old.write(|tx| tx.insert(&lib::Book { id: 7, shelf_id: 1, ..Default::default() }));
    let raw = new.raw_read().unwrap();
    let described = raw.stored_schemas().unwrap().iter().any(|d| &*d.name == "Book");
    let book_rows = raw.count("book").unwrap_or(0);
    // The newer program, which knows nothing of `Book` now, deletes the shelf.
    let deleted = new.write(|tx| tx.delete::<lib::Shelf>(&1));
    let dangling = old.read(|tx| tx.get::<lib::Book>(&7)).is_ok_and(|b| b.is_some())
        && old.read(|tx| tx.get::<lib::Shelf>(&1)).unwrap().is_none();
    assert!(
        wrote.is_err(),
        "the old handle wrote a row of an entity another handle dropped: wrote = {wrote:?}; \
         `book` rows afterwards = {book_rows}, a stored `Book` descriptor = {described}; \
         the newer handle's delete of shelf 1 = {deleted:?}; book 7 now refers to a missing shelf = {dangling}; \
         old.check() ok = {:?}",
        old.check().map(|r| r.is_ok()),
    );
    let err = wrote.unwrap_err();
    assert_eq!(err.kind(), drift::ErrorKind::SchemaMismatch, "{err}");
    assert!(err.to_string().contains("Book"), "{err}");
    assert_eq!(book_rows, 0, "the dropped table stays dropped");
}

/// The KV requests the etcd server at `endpoint` has answered so far (as the etcd bench
/// counts them: `grpc_server_handled_total` of the KV service).
fn kv_requests(endpoint: &str) -> u64 {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let mut total = 0.0;
    for line in body.lines() {
        if line.starts_with("grpc_server_handled_total{") && line.contains("grpc_service=\"etcdserverpb.KV\"") {
            total += line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        }
    }
    total as u64
}

/// docs/engines.md: the generation is fetched "in the request that starts it ... no extra
/// round trip". But `finish` builds the links from the descriptors read *before*
/// `initialize` stores this program's own descriptors (which moves the generation), so
/// the first write after every open that stored a descriptor (a new database, a new
/// entity) takes the refresh path: `check_meta` (one get per registered entity) and two
/// scans of `drift#meta`, and the transaction then conflicts with any commit that writes
/// `drift#meta` meanwhile (META is in its scanned set).
#[test]
fn the_first_write_after_open_costs_what_the_next_one_does() {
    let server = Server::start(ROOMY);
    let db =
        Db::builder().entity::<lib::Shelf>().entity::<lib::Book>().etcd([server.endpoint.clone()], "first/").unwrap();
    let before = kv_requests(&server.endpoint);
    db.write(|tx| tx.insert(&lib::Shelf { id: 1 })).unwrap();
    let first = kv_requests(&server.endpoint) - before;
    let before = kv_requests(&server.endpoint);
    db.write(|tx| tx.insert(&lib::Shelf { id: 2 })).unwrap();
    let second = kv_requests(&server.endpoint) - before;
    assert_eq!(first, second, "KV requests of the first insert after open: {first}, of the second: {second}");
}

mod seq {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Ticket {
        #[drift(primary_key, auto_increment)]
        pub id: u64,
        pub n: u64,
    }
}

/// The refresh in `Db::begin_write` reads the descriptors through the write transaction
/// (`check_meta`, `meta::stored_schemas`): a range of `drift#meta`, so the transaction is
/// guarded on the whole meta table's version key. Any commit that writes `drift#meta`
/// meanwhile (an `auto_increment` insert writes `seq/<table>` there) then fails its
/// commit, though nothing it depends on changed (the generation compare already guards
/// the descriptors). The same transaction begun without a refresh commits.
#[test]
fn a_refreshed_transaction_does_not_conflict_with_a_sequence_write() {
    let server = Server::start(ROOMY);
    let a = Db::builder().entity::<lib::Shelf>().etcd([server.endpoint.clone()], "seq/").unwrap();
    a.write(|tx| tx.insert(&lib::Shelf { id: 9 })).unwrap();
    // Another program stores its descriptor: `a`'s next transaction refreshes.
    let b = Db::builder().entity::<seq::Ticket>().etcd([server.endpoint.clone()], "seq/").unwrap();
    b.write(|tx| tx.insert(&seq::Ticket { id: 0, n: 1 })).unwrap();

    let mut tx = a.begin_write().unwrap();
    b.write(|tx| tx.insert(&seq::Ticket { id: 0, n: 2 })).unwrap();
    tx.insert(&lib::Shelf { id: 1 }).unwrap();
    let refreshed = tx.commit();

    let mut tx = a.begin_write().unwrap();
    b.write(|tx| tx.insert(&seq::Ticket { id: 0, n: 3 })).unwrap();
    tx.insert(&lib::Shelf { id: 2 }).unwrap();
    let plain = tx.commit();
    assert!(plain.is_ok(), "{plain:?}");
    assert!(refreshed.is_ok(), "the transaction that refreshed its links: {refreshed:?}");
}

/// The planner asks for a table's length before a full scan: on etcd one count-only
/// request, not a second pass over the table's pages (it was: 41 requests for a scan of
/// 20 pages in the etcd bench).
#[test]
fn a_full_scan_on_etcd_reads_each_page_once() {
    let server = Server::start(ROOMY);
    let db = Db::builder().entity::<lib::Shelf>().etcd([server.endpoint.clone()], "scan/").unwrap();
    db.write(|tx| {
        for id in 0..1_100 {
            tx.insert(&lib::Shelf { id })?;
        }
        Ok(())
    })
    .unwrap();
    let before = kv_requests(&server.endpoint);
    let all = db.read(|tx| tx.query::<lib::Shelf>().all()).unwrap();
    let scan = kv_requests(&server.endpoint) - before;
    assert_eq!(all.len(), 1_100);
    // The start, the count, and 3 pages of 512.
    assert!(scan <= 5, "{scan} requests for a scan of 3 pages");
    let before = kv_requests(&server.endpoint);
    assert_eq!(db.read(|tx| tx.query::<lib::Shelf>().count()).unwrap(), 1_100);
    let count = kv_requests(&server.endpoint) - before;
    assert!(count <= 2, "{count} requests for a count: the start and one count-only request");
}
