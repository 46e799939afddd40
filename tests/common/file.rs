//! A Drift file's tables read with redb directly, below Drift: what is really stored.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

/// One table's entries, key -> value.
pub type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// Every table of the file at `path`, entry by entry.
pub fn contents(path: &Path) -> BTreeMap<String, Entries> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let tx = db.begin_read().unwrap();
    let names: Vec<String> = tx.list_tables().unwrap().map(|h| h.name().to_string()).collect();
    let mut out = BTreeMap::new();
    for name in names {
        let table = tx.open_table(TableDefinition::<&[u8], &[u8]>::new(&name)).unwrap();
        let entries = table
            .iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.value().to_vec(), v.value().to_vec())
            })
            .collect();
        out.insert(name, entries);
    }
    out
}
