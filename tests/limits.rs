//! Storage-level input checks: key and row size limits, NaN keys, and strings with
//! NUL bytes or no bytes at all as keys.

mod common;

use common::{Reads, index_entries};
use drift::prelude::*;
use drift::{ErrorKind, MAX_KEY_LEN, MAX_ROW_LEN};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Doc {
    #[drift(primary_key)]
    pub name: String,
    #[drift(index)]
    pub title: String,
    pub body: Vec<u8>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(site, level)))]
pub struct Sample {
    #[drift(primary_key)]
    pub sensor: String,
    #[drift(primary_key)]
    pub at: f64,
    pub site: String,
    pub level: f32,
}

fn db() -> Db {
    Db::builder().entity::<Doc>().entity::<Sample>().in_memory().unwrap()
}

fn doc(name: &str, title: &str) -> Doc {
    Doc { name: name.into(), title: title.into(), body: Vec::new() }
}

fn doc_count(db: &Db) -> u64 {
    db.read(|tx| tx.query::<Doc>().count()).unwrap()
}

/// The entries of the `title` index, from the index alone.
fn titles(tx: &impl Reads) -> Vec<(String, u64)> {
    index_entries(tx, Doc::TITLE, "title")
}

#[test]
fn primary_key_over_the_limit_is_rejected_and_nothing_is_written() {
    let db = db();
    // A string key is its bytes and a two-byte terminator.
    let longest = "k".repeat(MAX_KEY_LEN - 2);
    db.write(|tx| tx.insert(&doc(&longest, "t"))).unwrap();
    db.write(|tx| {
        let err = tx.insert(&doc(&format!("{longest}k"), "t2")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyTooLarge);
        let msg = err.to_string();
        assert!(msg.starts_with("the primary key of Doc with key \"kkkk"), "{msg}");
        assert!(
            msg.contains(&format!(
                "is {} bytes encoded, over the limit of {MAX_KEY_LEN} (field `name`)",
                MAX_KEY_LEN + 1
            )),
            "{msg}"
        );
        assert!(msg.len() < 300, "the key is shortened in the message: {msg}");
        // Inside the same transaction: no row, no title entry.
        assert_eq!(tx.query::<Doc>().count()?, 1);
        assert_eq!(tx.query::<Doc>().filter(Doc::TITLE.eq("t2")).count()?, 0);
        assert_eq!(titles(tx), vec![("t".to_string(), 1)]);
        // The transaction goes on.
        tx.insert(&doc("b", "t3")).map(drop)
    })
    .unwrap();
    assert_eq!(doc_count(&db), 2);
    assert_eq!(db.read(|tx| Ok(titles(tx))).unwrap(), vec![("t".to_string(), 1), ("t3".to_string(), 1)]);
}

#[test]
fn index_entry_over_the_limit_is_rejected_on_insert_and_update() {
    let db = db();
    let long_title = "t".repeat(MAX_KEY_LEN - 1);
    let longest_title = "t".repeat(MAX_KEY_LEN - 2);
    db.write(|tx| {
        let err = tx.insert(&doc("a", &long_title)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::KeyTooLarge);
        let msg = err.to_string();
        assert!(msg.starts_with("the entry of index `title` of Doc with key \"a\""), "{msg}");
        assert!(msg.contains("(field `title`)"), "{msg}");
        // The statement left no row and no entry, and the transaction goes on.
        assert_eq!(tx.get::<Doc>(&"a".to_string())?, None);
        assert_eq!(titles(tx), vec![]);
        tx.insert(&doc("a", "short"))?;

        assert_eq!(tx.update(&doc("a", &long_title)).unwrap_err().kind(), ErrorKind::KeyTooLarge);
        // The update left the row and its entry as they were.
        assert_eq!(tx.get::<Doc>(&"a".to_string())?.unwrap().title, "short");
        assert_eq!(titles(tx), vec![("short".to_string(), 1)]);
        tx.update(&doc("a", &longest_title))
    })
    .unwrap();
    assert_eq!(doc_count(&db), 1);
    assert_eq!(db.read(|tx| Ok(titles(tx))).unwrap(), vec![(longest_title, 1)]);
}

#[test]
fn row_over_the_limit_is_rejected_and_the_old_row_stays() {
    let db = db();
    // The row is postcard: the empty title (1 byte), the body's length (4 bytes), the body.
    let at_limit = Doc { body: vec![7; MAX_ROW_LEN - 5], ..doc("big", "") };
    db.write(|tx| tx.insert(&at_limit)).unwrap();
    let over = Doc { body: vec![7; MAX_ROW_LEN - 4], title: "over".into(), ..doc("big", "") };
    db.write(|tx| {
        let err = tx.update(&over).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowTooLarge);
        assert_eq!(
            err.to_string(),
            format!(
                "Doc with key \"big\" is {} bytes encoded, over the row limit of {MAX_ROW_LEN}; nothing was written",
                MAX_ROW_LEN + 5
            )
        );
        let err = tx.insert(&Doc { name: "other".into(), ..over.clone() }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RowTooLarge);
        // Inside the same transaction: the old row, and no row or entry of the failed ones.
        assert_eq!(tx.get::<Doc>(&"big".to_string())?.unwrap().body.len(), MAX_ROW_LEN - 5);
        assert_eq!(tx.get::<Doc>(&"other".to_string())?, None);
        assert_eq!(titles(tx), vec![(String::new(), 1)]);
        tx.insert(&doc("small", "s"))?;
        Ok(())
    })
    .unwrap();
    assert_eq!(doc_count(&db), 2);
    assert_eq!(db.read(|tx| Ok(titles(tx))).unwrap(), vec![(String::new(), 1), ("s".to_string(), 1)]);
}

#[test]
fn nan_in_a_key_field_is_rejected_naming_that_field() {
    let db = db();
    let sample = |sensor: &str, at: f64, level: f32| Sample { sensor: sensor.into(), at, site: "s".into(), level };
    db.write(|tx| {
        // The second field of a composite primary key.
        let err = tx.insert(&sample("a", f64::NAN, 1.0)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        assert_eq!(
            err.to_string(),
            "field `at` of Sample (key (\"a\", NaN)) cannot be encoded as a key: NaN cannot be used as a key"
        );
        // The second field of a multi-field index.
        let err = tx.insert(&sample("a", 1.0, f32::NAN)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        let msg = err.to_string();
        assert!(msg.starts_with("field `level` of Sample (key (\"a\", 1.0))"), "{msg}");
        // A lookup by a NaN key.
        let err = tx.get::<Sample>(&("a".to_string(), f64::NAN)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Key);
        // Inside the same transaction: no row, no entry in the `site_level` index.
        assert_eq!(tx.query::<Sample>().count()?, 0);
        assert_eq!(index_entries(tx, Sample::SITE, "site_level"), vec![]);
        // The transaction goes on, with the key the second insert would have had.
        // Infinities are keys.
        tx.insert(&sample("a", 1.0, f32::NEG_INFINITY))?;
        tx.insert(&sample("a", f64::INFINITY, f32::NEG_INFINITY)).map(drop)
    })
    .unwrap();
    db.read(|tx| {
        assert_eq!(tx.query::<Sample>().count()?, 2);
        assert_eq!(index_entries(tx, Sample::SITE, "site_level"), vec![("s".to_string(), 2)]);
        Ok(())
    })
    .unwrap();
}

#[test]
fn keys_with_nul_bytes_and_empty_strings_round_trip_and_sort_bytewise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nul.drift");
    let names = ["a\0b", "", "\0", "ab", "a", "\0\0", "a\0", "\u{1}", "b", "\0a", "a\u{ff}"];
    {
        let db = Db::builder().entity::<Doc>().open(&path).unwrap();
        db.write(|tx| {
            for (i, n) in names.iter().enumerate() {
                // The title, indexed, is the name reversed, so the index sorts differently.
                let title: String = n.chars().rev().collect();
                tx.insert(&Doc { body: vec![u8::try_from(i).unwrap()], ..doc(n, &title) })?;
            }
            Ok(())
        })
        .unwrap();
    }
    let db = Db::builder().entity::<Doc>().open(&path).unwrap();
    let mut sorted: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    db.read(|tx| {
        for (i, n) in names.iter().enumerate() {
            let got = tx.get::<Doc>(&n.to_string())?.unwrap_or_else(|| panic!("{n:?} is missing"));
            assert_eq!(got.body, vec![u8::try_from(i).unwrap()], "{n:?}");
        }
        let scanned: Vec<String> = tx.query::<Doc>().all()?.into_iter().map(|d| d.name).collect();
        assert_eq!(scanned, sorted);
        let mut titles: Vec<String> = sorted.iter().map(|n| n.chars().rev().collect()).collect();
        titles.sort();
        let by_title: Vec<String> =
            tx.query::<Doc>().order_by(Doc::TITLE.asc()).all()?.into_iter().map(|d| d.title).collect();
        assert_eq!(by_title, titles);
        let with_a: Vec<String> =
            tx.query::<Doc>().filter(Doc::NAME.starts_with("a")).all()?.into_iter().map(|d| d.name).collect();
        assert_eq!(with_a, vec!["a", "a\0", "a\0b", "ab", "a\u{ff}"]);
        assert_eq!(tx.query::<Doc>().filter(Doc::TITLE.eq("")).count()?, 1);
        assert_eq!(tx.query::<Doc>().filter(Doc::NAME.lt("\0\0")).count()?, 2);
        Ok(())
    })
    .unwrap();
}
