//! The key codec: decoding arbitrary bytes never panics and accepts only canonical
//! encodings; encoding round-trips, orders bytes as values, and is prefix-free.
#![no_main]

use std::cmp::Ordering;
use std::fmt::Debug;

use arbitrary::Arbitrary;
use drift::KeyCodec;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Input {
    /// Decode these bytes as the type chosen by the tag.
    Decode(u8, Vec<u8>),
    /// Encode two values of one type and compare.
    Pair(Pair),
}

#[derive(Arbitrary, Debug)]
enum Pair {
    U8(u8, u8),
    U64(u64, u64),
    U128(u128, u128),
    I16(i16, i16),
    I64(i64, i64),
    I128(i128, i128),
    F32(f32, f32),
    F64(f64, f64),
    Bool(bool, bool),
    Char(char, char),
    Str(String, String),
    Bytes(Vec<u8>, Vec<u8>),
    Array([u8; 3], [u8; 3]),
    OptStr(Option<String>, Option<String>),
    OptF64(Option<f64>, Option<f64>),
    Tuple((String, i32, Vec<u8>), (String, i32, Vec<u8>)),
    Nested((Option<(u8, String)>, bool), (Option<(u8, String)>, bool)),
}

/// Decoding `bytes` as `K` never panics; what it accepts re-encodes to exactly the
/// bytes it consumed (one encoding per value).
fn decode<K: KeyCodec + Debug>(bytes: &[u8]) {
    let mut rest = bytes;
    if let Ok(v) = K::decode_key(&mut rest) {
        let used = &bytes[..bytes.len() - rest.len()];
        let again = v.to_key_bytes().expect("a decoded value encodes");
        assert_eq!(again, used, "{v:?} decoded from non-canonical bytes");
    }
    let _ = K::from_key_bytes(bytes);
}

/// `cmp` is the value order the encoding must follow (`None` when a value has no
/// encoding, such as NaN).
fn pair<K: KeyCodec + Debug>(a: &K, b: &K, cmp: impl Fn(&K, &K) -> Ordering) {
    let (Ok(ea), Ok(eb)) = (a.to_key_bytes(), b.to_key_bytes()) else { return };
    assert_eq!(ea.cmp(&eb), cmp(a, b), "byte order of {a:?} vs {b:?}");
    assert_eq!(a.key_cmp(b), cmp(a, b), "key_cmp of {a:?} vs {b:?}");
    for (v, e) in [(a, &ea), (b, &eb)] {
        let back = K::from_key_bytes(e).unwrap_or_else(|err| panic!("{v:?} does not decode: {err}"));
        assert_eq!(back.key_cmp(v), Ordering::Equal, "{v:?} came back as {back:?}");
    }
    if ea != eb {
        assert!(!ea.starts_with(&eb) && !eb.starts_with(&ea), "{a:?} and {b:?}: one encoding is a prefix");
    }
    // Concatenated, each decodes from where the previous one ended.
    let mut both = ea.clone();
    both.extend_from_slice(&eb);
    let mut rest = both.as_slice();
    let x = K::decode_key(&mut rest).expect("first of two");
    let y = K::decode_key(&mut rest).expect("second of two");
    assert!(rest.is_empty() && x.key_cmp(a).is_eq() && y.key_cmp(b).is_eq());
}

fn float_cmp64(a: &f64, b: &f64) -> Ordering {
    let n = |x: f64| if x == 0.0 { 0.0 } else { x };
    n(*a).total_cmp(&n(*b))
}

fn float_cmp32(a: &f32, b: &f32) -> Ordering {
    let n = |x: f32| if x == 0.0 { 0.0 } else { x };
    n(*a).total_cmp(&n(*b))
}

fuzz_target!(|input: Input| {
    match input {
        Input::Decode(tag, bytes) => match tag % 16 {
            0 => decode::<u8>(&bytes),
            1 => decode::<u64>(&bytes),
            2 => decode::<i32>(&bytes),
            3 => decode::<i128>(&bytes),
            4 => decode::<f32>(&bytes),
            5 => decode::<f64>(&bytes),
            6 => decode::<bool>(&bytes),
            7 => decode::<char>(&bytes),
            8 => decode::<String>(&bytes),
            9 => decode::<Vec<u8>>(&bytes),
            10 => decode::<[u8; 5]>(&bytes),
            11 => decode::<Option<String>>(&bytes),
            12 => decode::<Option<f64>>(&bytes),
            13 => decode::<(String, i64)>(&bytes),
            14 => decode::<(Option<u8>, Vec<u8>, bool)>(&bytes),
            _ => decode::<((String, String), char)>(&bytes),
        },
        Input::Pair(p) => match p {
            Pair::U8(a, b) => pair(&a, &b, Ord::cmp),
            Pair::U64(a, b) => pair(&a, &b, Ord::cmp),
            Pair::U128(a, b) => pair(&a, &b, Ord::cmp),
            Pair::I16(a, b) => pair(&a, &b, Ord::cmp),
            Pair::I64(a, b) => pair(&a, &b, Ord::cmp),
            Pair::I128(a, b) => pair(&a, &b, Ord::cmp),
            Pair::F32(a, b) => {
                assert_eq!(a.to_key_bytes().is_err(), a.is_nan());
                pair(&a, &b, float_cmp32);
            }
            Pair::F64(a, b) => {
                assert_eq!(a.to_key_bytes().is_err(), a.is_nan());
                pair(&a, &b, float_cmp64);
            }
            Pair::Bool(a, b) => pair(&a, &b, Ord::cmp),
            Pair::Char(a, b) => pair(&a, &b, Ord::cmp),
            Pair::Str(a, b) => pair(&a, &b, Ord::cmp),
            Pair::Bytes(a, b) => pair(&a, &b, Ord::cmp),
            Pair::Array(a, b) => pair(&a, &b, Ord::cmp),
            Pair::OptStr(a, b) => pair(&a, &b, Ord::cmp),
            Pair::OptF64(a, b) => pair(&a, &b, |x, y| match (x, y) {
                (Some(x), Some(y)) => float_cmp64(x, y),
                _ => x.is_some().cmp(&y.is_some()),
            }),
            Pair::Tuple(a, b) => pair(&a, &b, Ord::cmp),
            Pair::Nested(a, b) => pair(&a, &b, Ord::cmp),
        },
    }
});
