//! Row decoding: arbitrary key and row bytes never make `__decode_row` (what every
//! read runs on stored bytes) or `__skip_index` panic; what decodes re-encodes to a
//! row that decodes to the same entity.
#![no_main]

use drift::Entity;
use drift_fuzz::{Note, Sample};
use libfuzzer_sys::fuzz_target;

/// Decodes `key`/`row` as `T`; when that works, encoding and decoding again is stable.
fn check<T: Entity + std::fmt::Debug>(key: &[u8], row: &[u8]) {
    let Ok(e) = T::__decode_row(key, row) else { return };
    let (mut k, mut r) = (Vec::new(), Vec::new());
    e.__encode_key(&mut k).expect("a decoded key encodes");
    e.__encode_row(&mut r).expect("a decoded row encodes");
    assert_eq!(k, key, "keys decode only from their canonical bytes");
    let again = T::__decode_row(&k, &r).unwrap_or_else(|err| panic!("{e:?} re-encoded does not decode: {err}"));
    let (mut k2, mut r2) = (Vec::new(), Vec::new());
    again.__encode_key(&mut k2).unwrap();
    again.__encode_row(&mut r2).unwrap();
    assert_eq!((k2, r2), (k, r), "{e:?} is not stable through encode and decode");
    let _ = e.validate();
    for i in 0..T::SCHEMA.indexes.len() {
        let mut entry = Vec::new();
        if e.__encode_index(i, &mut entry).is_ok() {
            let mut rest = entry.as_slice();
            T::__skip_index(i, &mut rest).expect("an encoded index entry skips");
            assert!(rest.is_empty());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let at = usize::from(split).min(rest.len());
    let (key, row) = rest.split_at(at);
    check::<Sample>(key, row);
    check::<Note>(key, row);
    for i in 0..Sample::SCHEMA.indexes.len() {
        let mut input = data;
        let _ = Sample::__skip_index(i, &mut input);
    }
});
