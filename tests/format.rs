//! Golden bytes for `docs/format.md`: every value here is taken from that document,
//! so a change to the key encoding, the table layout or the meta table fails a test.
//! Files are read back with the `redb` crate directly, after the `Db` is dropped.

#[path = "common/file.rs"]
mod file;

use std::path::Path;

use drift::prelude::*;
use drift::{KeyCodec, KeyError, prefix_successor};
use file::{Entries, contents};

// ---------------------------------------------------------------------------
// Key encoding (docs/format.md, "Key encoding")
// ---------------------------------------------------------------------------

/// `v` encodes to exactly `bytes`, and `bytes` decode back to `v`.
#[track_caller]
fn golden<T: KeyCodec + PartialEq + std::fmt::Debug>(v: T, bytes: &[u8]) {
    assert_eq!(v.to_key_bytes().unwrap(), bytes, "encoding of {v:?}");
    let mut appended = vec![0xAA];
    v.encode_key(&mut appended).unwrap();
    assert_eq!(&appended[1..], bytes, "encode_key appends the encoding of {v:?}");
    assert_eq!(T::from_key_bytes(bytes).unwrap(), v, "decoding of {bytes:02X?}");
}

#[test]
fn unsigned_integers_are_their_big_endian_bytes() {
    golden(0xABu8, &[0xAB]);
    golden(0x0102u16, &[0x01, 0x02]);
    golden(0x0102_0304u32, &[0x01, 0x02, 0x03, 0x04]);
    golden(0x0102_0304_0506_0708u64, &[1, 2, 3, 4, 5, 6, 7, 8]);
    golden(1u64, &[0, 0, 0, 0, 0, 0, 0, 1]);
    golden(u64::MAX, &[0xFF; 8]);
    golden(0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10u128, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn usize_is_eight_big_endian_bytes_on_64_bit_targets() {
    golden(0x0102_0304_0506_0708usize, &[1, 2, 3, 4, 5, 6, 7, 8]);
    golden(-1isize, &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
}

#[test]
fn signed_integers_are_big_endian_with_the_sign_bit_flipped() {
    // The four examples of the document.
    golden(i8::MIN, &[0x00]);
    golden(-1i8, &[0x7F]);
    golden(0i8, &[0x80]);
    golden(i8::MAX, &[0xFF]);
    golden(-2i16, &[0x7F, 0xFE]);
    golden(1i32, &[0x80, 0x00, 0x00, 0x01]);
    golden(i64::MIN, &[0x00; 8]);
    golden(-1i64, &[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    golden(0i64, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
    golden(0x0102_0304_0506_0708i64, &[0x81, 2, 3, 4, 5, 6, 7, 8]);
    golden(i64::MAX, &[0xFF; 8]);
    let mut minus_one = [0xFFu8; 16];
    minus_one[0] = 0x7F;
    golden(-1i128, &minus_one);
}

#[test]
fn floats_set_the_sign_bit_of_positives_and_invert_negatives() {
    // 1.0 = 0x3FF0_0000_0000_0000: sign bit clear, so it is set.
    golden(1.0f64, &[0xBF, 0xF0, 0, 0, 0, 0, 0, 0]);
    // -1.0 = 0xBFF0_0000_0000_0000: sign bit set, so all bits are inverted.
    golden(-1.0f64, &[0x40, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    golden(0.0f64, &[0x80, 0, 0, 0, 0, 0, 0, 0]);
    golden(f64::INFINITY, &[0xFF, 0xF0, 0, 0, 0, 0, 0, 0]);
    golden(f64::NEG_INFINITY, &[0x00, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    golden(1.0f32, &[0xBF, 0x80, 0x00, 0x00]);
    golden(-1.0f32, &[0x40, 0x7F, 0xFF, 0xFF]);
    // -0.0 is first replaced by 0.0.
    assert_eq!((-0.0f64).to_key_bytes().unwrap(), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((-0.0f32).to_key_bytes().unwrap(), [0x80, 0, 0, 0]);
}

#[test]
fn nan_cannot_be_encoded_and_bytes_of_nan_or_negative_zero_are_rejected() {
    assert_eq!(f64::NAN.to_key_bytes(), Err(KeyError::NaN));
    assert_eq!(f32::NAN.to_key_bytes(), Err(KeyError::NaN));
    // The bytes -0.0 would have without the replacement: !0x8000_0000_0000_0000.
    assert!(f64::from_key_bytes(&[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    assert!(f32::from_key_bytes(&[0x7F, 0xFF, 0xFF, 0xFF]).is_err());
    // A positive quiet NaN, 0x7FF8_0000_0000_0000, with its sign bit set.
    assert!(f64::from_key_bytes(&[0xFF, 0xF8, 0, 0, 0, 0, 0, 0]).is_err());
}

#[test]
fn bool_is_00_for_false_and_01_for_true() {
    golden(false, &[0x00]);
    golden(true, &[0x01]);
}

#[test]
fn char_is_its_scalar_value_as_a_big_endian_u32() {
    golden('A', &[0x00, 0x00, 0x00, 0x41]);
    golden('é', &[0x00, 0x00, 0x00, 0xE9]);
    golden('🦀', &[0x00, 0x01, 0xF9, 0x80]);
}

#[test]
fn strings_escape_00_as_00_ff_and_end_with_00_00() {
    golden(String::from("a"), &[0x61, 0x00, 0x00]);
    golden(String::from("a\0b"), &[0x61, 0x00, 0xFF, 0x62, 0x00, 0x00]);
    golden(String::new(), &[0x00, 0x00]);
    golden(String::from("\0"), &[0x00, 0xFF, 0x00, 0x00]);
    golden(String::from("ab"), &[0x61, 0x62, 0x00, 0x00]);
}

#[test]
fn byte_vectors_use_the_string_escape() {
    golden(vec![0x00u8], &[0x00, 0xFF, 0x00, 0x00]);
    golden(vec![0x61u8, 0x00, 0x62], &[0x61, 0x00, 0xFF, 0x62, 0x00, 0x00]);
    golden(vec![0xFFu8, 0x00, 0x00], &[0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0x00]);
    golden(Vec::<u8>::new(), &[0x00, 0x00]);
}

#[test]
fn byte_arrays_are_their_bytes_as_they_are() {
    golden([0x00u8, 0xFF, 0x07], &[0x00, 0xFF, 0x07]);
    golden([0u8; 0], &[]);
}

#[test]
fn option_is_00_for_none_and_01_then_the_value_for_some() {
    golden(None::<u8>, &[0x00]);
    golden(Some(5u8), &[0x01, 0x05]);
    golden(None::<String>, &[0x00]);
    golden(Some(String::from("a")), &[0x01, 0x61, 0x00, 0x00]);
    golden(Some(-1i8), &[0x01, 0x7F]);
    golden(Some(None::<u8>), &[0x01, 0x00]);
}

#[test]
fn box_is_encoded_as_its_content_and_unit_as_no_bytes() {
    golden(Box::new(0x0102u16), &[0x01, 0x02]);
    golden((), &[]);
}

#[test]
fn tuples_concatenate_their_fields_without_separator() {
    // The example of the document: the field boundary cannot shift.
    golden((String::from("a"), String::from("bc")), &[0x61, 0x00, 0x00, 0x62, 0x63, 0x00, 0x00]);
    golden((String::from("ab"), String::from("c")), &[0x61, 0x62, 0x00, 0x00, 0x63, 0x00, 0x00]);
    golden((7u8,), &[0x07]);
    golden((1u16, true, -1i8), &[0x00, 0x01, 0x01, 0x7F]);
    golden((String::from("s"), 2u32, None::<u8>), &[0x73, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00]);
    golden((1u8, 2u8, 3u8, 4u8, 5u8, 6u8), &[1, 2, 3, 4, 5, 6]);
}

#[test]
fn prefix_successor_drops_trailing_ff_and_increments_the_last_byte() {
    assert_eq!(prefix_successor(&[0x61, 0x62]), Some(vec![0x61, 0x63]));
    assert_eq!(prefix_successor(&[0x61, 0xFF, 0xFF]), Some(vec![0x62]));
    assert_eq!(prefix_successor(&[]), None);
    assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
}

// ---------------------------------------------------------------------------
// The file (docs/format.md, "Tables", "Rows", "Index entries", "Meta table")
// ---------------------------------------------------------------------------

/// Table `user` as in the document's examples: `#[drift(unique)] email` gives
/// `user#email`, `index(fields(a, b))` gives `user#a_b`.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "user", index(fields(a, b)), index(fields(c), name = "by_c"))]
pub struct Member {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub a: String,
    pub b: i16,
    pub c: u8,
    #[drift(unique)]
    pub nick: Option<String>,
}

/// No `table` attribute: the table is the struct name in snake_case. All fields are
/// key fields, so the row value is empty.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct PostTag {
    #[drift(primary_key)]
    pub post_id: u64,
    #[drift(primary_key)]
    pub tag: String,
}

/// A `belongs_to` whose key is not indexed: the derive adds `note#owner_id`.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Note {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub owner_id: u64,
    #[drift(belongs_to(Member, key = owner_id, on_delete = cascade))]
    pub owner: BelongsTo<Member>,
}

/// A `belongs_to` on an optional key: index entries start with the `Some` tag.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Memo {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub owner_id: Option<u64>,
    #[drift(belongs_to(Member, key = owner_id, on_delete = set_null))]
    pub owner: BelongsTo<Member>,
}

fn open(path: &Path) -> Db {
    Db::builder().entity::<Member>().entity::<PostTag>().entity::<Note>().entity::<Memo>().open(path).unwrap()
}

fn entries<const N: usize>(pairs: [(Vec<u8>, Vec<u8>); N]) -> Entries {
    pairs.into_iter().collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const PK1: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const PK2: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 2];

#[test]
fn a_new_file_holds_the_format_marker_and_every_entitys_tables_even_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.drift");
    drop(open(&path));
    let file = contents(&path);
    let names: Vec<&str> = file.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "drift#meta",
            "memo",
            "memo#owner_id",
            "note",
            "note#owner_id",
            "post_tag",
            "user",
            "user#a_b",
            "user#age",
            "user#by_c",
            "user#email",
            "user#nick",
        ]
    );
    for (name, rows) in &file {
        if name != "drift#meta" {
            assert!(rows.is_empty(), "{name} is empty");
        }
    }
    assert_eq!(file["drift#meta"][b"format".as_slice()], b"drift-kv/1");
}

#[test]
fn meta_holds_each_schema_as_json_under_schema_slash_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.drift");
    drop(open(&path));
    let meta = &contents(&path)["drift#meta"];
    let keys: Vec<&[u8]> = meta.keys().map(Vec::as_slice).collect();
    assert_eq!(
        keys,
        [
            b"format".as_slice(),
            b"schema-generation".as_slice(),
            b"schema/memo".as_slice(),
            b"schema/note".as_slice(),
            b"schema/post_tag".as_slice(),
            b"schema/user".as_slice(),
        ]
    );
    // Each stored descriptor counted once: a u64, big-endian.
    assert_eq!(meta[b"schema-generation".as_slice()], 4u64.to_be_bytes());
    let json: serde_json::Value = serde_json::from_slice(&meta[b"schema/user".as_slice()]).unwrap();
    assert_eq!(json["name"], "Member");
    assert_eq!(json["table"], "user");
    assert_eq!(json["version"], 1);
    assert_eq!(json["primary_key"], serde_json::json!(["id"]));
    assert_eq!(json["auto_increment"], true);
    assert_eq!(
        json["fields"][1],
        serde_json::json!({"name": "email", "ty": "String", "kind": "Data", "optional": false, "shape": "String"})
    );
    assert_eq!(json["fields"][0]["kind"], "Key");
    let index = json["indexes"].as_array().unwrap().iter().find(|i| i["name"] == "a_b").unwrap();
    assert_eq!((&index["fields"], &index["unique"]), (&serde_json::json!(["a", "b"]), &serde_json::json!(false)));
    let note: serde_json::Value = serde_json::from_slice(&meta[b"schema/note".as_slice()]).unwrap();
    assert_eq!(note["fields"][2]["kind"], "Relation");
    let stored: drift::EntityDescriptor = serde_json::from_slice(&meta[b"schema/user".as_slice()]).unwrap();
    assert_eq!(&stored, <Member as drift::Entity>::SCHEMA);
}

#[test]
fn rows_and_index_entries_have_the_documented_keys_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.drift");
    {
        let db = open(&path);
        db.write(|tx| {
            let ann = Member { email: "ann@x".into(), age: 300, a: "p".into(), b: -2, c: 5, ..Default::default() };
            assert_eq!(tx.insert(&ann)?, 1);
            let bob =
                Member { email: "b".into(), age: 1, a: String::new(), b: 0, c: 200, nick: Some("z".into()), id: 0 };
            assert_eq!(tx.insert(&bob)?, 2);
            Ok(())
        })
        .unwrap();
    }
    let file = contents(&path);
    // Row table: key = encoded primary key; value = postcard of the non-key fields in
    // declaration order (email, age, a, b, c, nick).
    let ann_row = cat(&[
        &[0x05],
        b"ann@x",      // String: varint length, bytes
        &[0xAC, 0x02], // u32 300: varint
        &[0x01, 0x70], // "p"
        &[0x03],       // i16 -2: zigzag varint
        &[0x05],       // u8: the byte
        &[0x00],       // None
    ]);
    let bob_row = cat(&[&[0x01], b"b", &[0x01], &[0x00], &[0x00], &[0xC8], &[0x01, 0x01, 0x7A]]);
    assert_eq!(file["user"], entries([(PK1.to_vec(), ann_row), (PK2.to_vec(), bob_row)]));
    // Unique index: key = encoded value; value = encoded primary key.
    assert_eq!(
        file["user#email"],
        entries([(cat(&[b"ann@x", &[0x00, 0x00]]), PK1.to_vec()), (cat(&[b"b", &[0x00, 0x00]]), PK2.to_vec()),])
    );
    // A unique index on an Option field has no entry for None; Some is tagged 01.
    assert_eq!(file["user#nick"], entries([(vec![0x01, 0x7A, 0x00, 0x00], PK2.to_vec())]));
    // Non-unique index: key = encoded values, then the primary key; value empty.
    assert_eq!(
        file["user#age"],
        entries([
            (cat(&[&[0x00, 0x00, 0x00, 0x01], &PK2]), Vec::new()),
            (cat(&[&[0x00, 0x00, 0x01, 0x2C], &PK1]), Vec::new()),
        ])
    );
    // A multi-field index concatenates the fields in index order.
    assert_eq!(
        file["user#a_b"],
        entries([
            (cat(&[&[0x00, 0x00], &[0x80, 0x00], &PK2]), Vec::new()),
            (cat(&[&[0x70, 0x00, 0x00], &[0x7F, 0xFE], &PK1]), Vec::new()),
        ])
    );
    // `name = "by_c"` names the table.
    assert_eq!(file["user#by_c"], entries([(cat(&[&[0x05], &PK1]), Vec::new()), (cat(&[&[0xC8], &PK2]), Vec::new())]));
}

#[test]
fn a_composite_key_is_the_tuple_of_its_fields_and_an_all_key_row_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("composite.drift");
    {
        let db = open(&path);
        db.write(|tx| tx.insert(&PostTag { post_id: 7, tag: "rs".into() }).map(drop)).unwrap();
    }
    let key = cat(&[&[0, 0, 0, 0, 0, 0, 0, 7], &[0x72, 0x73, 0x00, 0x00]]);
    assert_eq!(contents(&path)["post_tag"], entries([(key, Vec::new())]));
}

#[test]
fn a_belongs_to_key_gets_an_index_whose_entries_lead_with_the_parent_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("relations.drift");
    {
        let db = open(&path);
        db.write(|tx| {
            let owner = tx.insert(&Member { email: "o".into(), ..Default::default() })?;
            assert_eq!(owner, 1);
            tx.insert(&Note { owner_id: owner, ..Default::default() })?;
            tx.insert(&Memo { owner_id: Some(owner), ..Default::default() })?;
            tx.insert(&Memo { owner_id: None, ..Default::default() })?;
            Ok(())
        })
        .unwrap();
    }
    let file = contents(&path);
    assert_eq!(file["note#owner_id"], entries([(cat(&[&PK1, &PK1]), Vec::new())]));
    assert_eq!(
        file["memo#owner_id"],
        entries([
            // None: the tag 00, then the memo's key 2.
            (cat(&[&[0x00], &PK2]), Vec::new()),
            // Some(1): the Some tag 01, the parent's key, then the memo's key 1.
            (cat(&[&[0x01], &PK1, &PK1]), Vec::new()),
        ])
    );
}

#[test]
fn the_sequence_is_stored_as_eight_big_endian_bytes_and_outlives_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seq.drift");
    {
        let db = open(&path);
        db.write(|tx| {
            tx.insert(&Member { email: "1".into(), ..Default::default() })?;
            tx.insert(&Member { id: 0x0102, email: "2".into(), ..Default::default() })?;
            Ok(())
        })
        .unwrap();
        db.write(|tx| tx.delete::<Member>(&0x0102).map(drop)).unwrap();
    }
    let file = contents(&path);
    assert_eq!(file["drift#meta"][b"seq/user".as_slice()], [0, 0, 0, 0, 0, 0, 0x01, 0x02]);
    assert_eq!(file["user"].keys().collect::<Vec<_>>(), [&PK1.to_vec()]);
    assert!(!file["drift#meta"].contains_key(b"seq/note".as_slice()), "no mark for a sequence never used");
    // The next key comes from the stored mark, not the last row.
    let db = open(&path);
    assert_eq!(db.write(|tx| tx.insert(&Member { email: "3".into(), ..Default::default() })).unwrap(), 0x0103);
}
