//! Review of ebdd901 (schema generation on etcd): corners the commit's tests leave out.
#![cfg(feature = "etcd")]

#[path = "common/etcd_server.rs"]
mod etcd_server;

use drift::prelude::*;
use etcd_server::Server;

const ROOMY: &[&str] = &["--max-txn-ops", "100000", "--max-request-bytes", "33554432"];

mod lib {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Shelf {
        #[drift(primary_key)]
        pub id: u64,
    }

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    pub struct Book {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub shelf_id: u64,
        #[drift(belongs_to(Shelf, key = shelf_id, on_delete = restrict))]
        pub shelf: BelongsTo<Shelf>,
    }
}

/// Another process drops an entity this handle registers (`drop_entity`: its tables and
/// its stored descriptor go, the generation moves). The refresh in `Db::begin_write`
/// runs `check_meta`, which takes a registered entity without a stored descriptor for a
/// new one, so the old handle goes on writing rows of the dropped entity: its table comes
/// back with rows no stored descriptor describes, whose `restrict` relation no other
/// process enforces.
#[test]
fn an_entity_another_handle_drops_is_not_written_without_its_descriptor() {
    let server = Server::start(ROOMY);
    let old = Db::builder().entity::<lib::Shelf>().entity::<lib::Book>().etcd([server.endpoint.clone()], "dropped/").unwrap();
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
    let book_rows = raw.count("book").unwrap();
    // The newer program, which knows nothing of `Book` now, deletes the shelf.
    let deleted = new.write(|tx| tx.delete::<lib::Shelf>(&1));
    let dangling = old.read(|tx| tx.get::<lib::Book>(&7)).unwrap().is_some()
        && old.read(|tx| tx.get::<lib::Shelf>(&1)).unwrap().is_none();
    assert!(
        wrote.is_err(),
        "the old handle wrote a row of an entity another handle dropped: wrote = {wrote:?}; \
         `book` rows afterwards = {book_rows}, a stored `Book` descriptor = {described}; \
         the newer handle's delete of shelf 1 = {deleted:?}; book 7 now refers to a missing shelf = {dangling}; \
         old.check() ok = {:?}",
        old.check().map(|r| r.is_ok()),
    );
}
