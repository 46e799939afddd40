//! Property tests of the key codec against a model order.
//!
//! For every `KeyCodec` type: encodings round-trip and are self-delimiting, byte order
//! equals the model order (`Ord`, or `total_cmp` with `-0.0 == 0.0` for floats), equal
//! encodings mean equal values, and decoding any bytes returns instead of panicking.
//! Then the properties composite keys and prefix scans rely on: tuple encodings are
//! concatenations, a tuple's encoding starts with its leading fields' encoding, and
//! `prefix_successor` bounds exactly the keys that start with a prefix.

use std::cmp::Ordering;
use std::fmt::Debug;

use drift_core::{KeyCodec, KeyError, prefix_successor};
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---------------------------------------------------------------------------
// The model: the order keys must follow, computed without the codec.

trait Model {
    fn model_cmp(&self, other: &Self) -> Ordering;
}

macro_rules! model_by_ord {
    ($($t:ty),*) => {$(
        impl Model for $t {
            fn model_cmp(&self, other: &Self) -> Ordering {
                Ord::cmp(self, other)
            }
        }
    )*};
}
model_by_ord!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, bool, char, String, Vec<u8>, [u8; 4]);

macro_rules! model_float {
    ($($t:ty),*) => {$(
        impl Model for $t {
            fn model_cmp(&self, other: &Self) -> Ordering {
                let norm = |x: $t| if x == 0.0 { 0.0 } else { x };
                norm(*self).total_cmp(&norm(*other))
            }
        }
    )*};
}
model_float!(f32, f64);

impl<T: Model> Model for Option<T> {
    fn model_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.model_cmp(b),
        }
    }
}

impl<T: Model> Model for Box<T> {
    fn model_cmp(&self, other: &Self) -> Ordering {
        (**self).model_cmp(other)
    }
}

macro_rules! model_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Model),+> Model for ($($name,)+) {
            fn model_cmp(&self, other: &Self) -> Ordering {
                Ordering::Equal $(.then_with(|| self.$idx.model_cmp(&other.$idx)))+
            }
        }
    };
}
model_tuple!(A 0);
model_tuple!(A 0, B 1);
model_tuple!(A 0, B 1, C 2);
model_tuple!(A 0, B 1, C 2, D 3);
model_tuple!(A 0, B 1, C 2, D 3, E 4);
model_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);

// ---------------------------------------------------------------------------
// Strategies that make collisions, shared prefixes, NUL bytes and edge values likely.

/// Full-range values, small values (so equal pairs occur) and the extremes.
macro_rules! int {
    ($t:ty, $small:ty) => {
        prop_oneof![
            3 => any::<$t>(),
            2 => any::<$small>().prop_map(<$t>::from),
            1 => select(vec![<$t>::MIN, <$t>::MAX, <$t>::default()]),
        ]
    };
}

/// Any non-NaN bit pattern, the special values (both zeros) and small integers.
macro_rules! float {
    ($t:ty, $bits:ty) => {
        prop_oneof![
            3 => any::<$bits>().prop_map(<$t>::from_bits).prop_filter("NaN", |x| !x.is_nan()),
            2 => select(vec![
                0.0, -0.0, 1.0, -1.0, <$t>::INFINITY, <$t>::NEG_INFINITY, <$t>::MIN,
                <$t>::MAX, <$t>::MIN_POSITIVE, -<$t>::MIN_POSITIVE, <$t>::from_bits(1),
                -<$t>::from_bits(1),
            ]),
            2 => any::<i8>().prop_map(<$t>::from),
        ]
    };
}

fn string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => "[a\\x00b]{0,4}",
        1 => "[a\\x00\\x01\u{e9}\u{10FFFF}]{0,3}",
        1 => any::<String>(),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        3 => prop::collection::vec(select(vec![0x00u8, 0x01, 0xFF, b'a']), 0..5),
        1 => prop::collection::vec(any::<u8>(), 0..16),
    ]
}

fn array() -> impl Strategy<Value = [u8; 4]> + Clone {
    prop_oneof![prop::array::uniform4(select(vec![0x00u8, 0x01, 0xFF])), any::<[u8; 4]>(),]
}

fn character() -> impl Strategy<Value = char> + Clone {
    prop_oneof![any::<char>(), select(vec!['\0', 'a', 'b', '\u{D7FF}', '\u{E000}', char::MAX]),]
}

/// Input for decoders: random bytes, and bytes from a small alphabet rich in the
/// codec's markers (escape, terminator, tags) so that deep paths are reached.
fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(select(vec![0x00u8, 0x01, 0x02, 0x7F, 0x80, 0xFF, b'a']), 0..48),
    ]
}

// ---------------------------------------------------------------------------
// The checks, shared by every type.

fn enc<T: KeyCodec + Debug>(v: &T) -> Vec<u8> {
    match v.to_key_bytes() {
        Ok(bytes) => bytes,
        Err(e) => panic!("{v:?} cannot be encoded: {e}"),
    }
}

const TAIL: &[u8] = &[0x00, 0xFF, 0x01];

/// `decode(encode(v)) == v`, reading exactly the encoded bytes even when more follow.
fn check_round_trip<T: KeyCodec + PartialEq + Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = enc(v);
    let mut followed = bytes.clone();
    followed.extend_from_slice(TAIL);
    let mut input = &followed[..];
    let back = T::decode_key(&mut input)?;
    prop_assert_eq!(&back, v);
    prop_assert_eq!(input, TAIL, "decoding must stop at the end of the encoding");
    prop_assert_eq!(T::from_key_bytes(&bytes)?, back);
    prop_assert_eq!(T::from_key_bytes(&followed).err(), Some(KeyError::TrailingBytes(TAIL.len())));
    Ok(())
}

/// Byte order and `key_cmp` equal the model order; equal encodings exactly for equal
/// values; no encoding is a strict prefix of another.
fn check_order<T: KeyCodec + Model + PartialEq + Debug>(a: &T, b: &T) -> Result<(), TestCaseError> {
    let (ea, eb) = (enc(a), enc(b));
    let model = a.model_cmp(b);
    prop_assert_eq!(ea.cmp(&eb), model, "byte order of {:?} and {:?}", a, b);
    prop_assert_eq!(a.key_cmp(b), model, "key_cmp of {:?} and {:?}", a, b);
    prop_assert_eq!(ea == eb, a == b, "encodings equal iff values equal");
    if ea != eb {
        prop_assert!(!eb.starts_with(&ea) && !ea.starts_with(&eb));
    }
    Ok(())
}

/// Decoding returns (never panics), and whatever decodes is canonical: re-encoding the
/// value gives back exactly the bytes consumed.
fn check_decode_any<T: KeyCodec + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut input = bytes;
    if let Ok(v) = T::decode_key(&mut input) {
        let consumed = &bytes[..bytes.len() - input.len()];
        prop_assert_eq!(enc(&v), consumed, "decoded {:?}", v);
    }
    let _ = T::from_key_bytes(bytes);
    Ok(())
}

/// A strict prefix of an encoding never decodes, and a corrupted one decodes or fails
/// without panicking.
fn check_damaged<T: KeyCodec + Debug>(v: &T, cut: Index, flip: Index, byte: u8) -> Result<(), TestCaseError> {
    let bytes = enc(v);
    let mut short = &bytes[..cut.index(bytes.len())];
    prop_assert!(T::decode_key(&mut short).is_err(), "a truncated {:?} decoded", v);
    let mut corrupt = bytes.clone();
    let at = flip.index(corrupt.len());
    corrupt[at] = byte;
    check_decode_any::<T>(&corrupt)
}

/// The properties every key type must have, one module of tests per type.
macro_rules! codec_props {
    ($($module:ident: $ty:ty = $strategy:expr;)*) => {$(
        mod $module {
            use super::*;

            proptest! {
                #[test]
                fn decoding_an_encoding_gives_the_value_and_consumes_exactly_its_bytes(
                    v in $strategy,
                ) {
                    check_round_trip::<$ty>(&v)?;
                }

                #[test]
                fn encoding_order_matches_ord(a in $strategy, b in $strategy) {
                    check_order::<$ty>(&a, &b)?;
                    check_order::<$ty>(&a, &a)?;
                }

                #[test]
                fn decoding_arbitrary_bytes_returns_and_accepts_only_canonical_encodings(
                    bytes in junk(),
                ) {
                    check_decode_any::<$ty>(&bytes)?;
                }

                #[test]
                fn decoding_a_truncated_encoding_fails_and_a_corrupted_one_does_not_panic(
                    v in $strategy,
                    cut in any::<Index>(),
                    flip in any::<Index>(),
                    byte in any::<u8>(),
                ) {
                    check_damaged::<$ty>(&v, cut, flip, byte)?;
                }
            }
        }
    )*};
}

codec_props! {
    u8_key: u8 = any::<u8>();
    u16_key: u16 = int!(u16, u8);
    u32_key: u32 = int!(u32, u8);
    u64_key: u64 = int!(u64, u8);
    u128_key: u128 = int!(u128, u8);
    usize_key: usize = int!(usize, u8);
    i8_key: i8 = any::<i8>();
    i16_key: i16 = int!(i16, i8);
    i32_key: i32 = int!(i32, i8);
    i64_key: i64 = int!(i64, i8);
    i128_key: i128 = int!(i128, i8);
    isize_key: isize = int!(isize, i8);
    bool_key: bool = any::<bool>();
    char_key: char = character();
    string_key: String = string();
    bytes_key: Vec<u8> = bytes();
    array_key: [u8; 4] = array();
    f32_key: f32 = float!(f32, u32);
    f64_key: f64 = float!(f64, u64);
    boxed_string_key: Box<String> = string().prop_map(Box::new);
    option_u32_key: Option<u32> = prop::option::of(int!(u32, u8));
    option_string_key: Option<String> = prop::option::of(string());
    option_f64_key: Option<f64> = prop::option::of(float!(f64, u64));
    option_option_bool_key: Option<Option<bool>> = prop::option::of(prop::option::of(any::<bool>()));
    option_string_i64_key: Option<(String, i64)> = prop::option::of((string(), int!(i64, i8)));
    tuple1_key: (String,) = (string(),);
    tuple2_key: (String, u16) = (string(), int!(u16, u8));
    tuple3_key: (i64, String, bool) = (int!(i64, i8), string(), any::<bool>());
    tuple4_key: (Option<String>, f32, Vec<u8>, char) =
        (prop::option::of(string()), float!(f32, u32), bytes(), character());
    tuple5_key: (i16, [u8; 4], String, Option<u64>, bool) = (
        int!(i16, i8),
        array(),
        string(),
        prop::option::of(int!(u64, u8)),
        any::<bool>(),
    );
    tuple6_key: (bool, String, u128, Option<i8>, Vec<u8>, f64) = (
        any::<bool>(),
        string(),
        int!(u128, u8),
        prop::option::of(any::<i8>()),
        bytes(),
        float!(f64, u64),
    );
    nested_key: (Option<(String, i64)>, String) =
        (prop::option::of((string(), int!(i64, i8))), string());
}

// ---------------------------------------------------------------------------
// Floats: NaN has no key; -0.0 and 0.0 are one key.

fn nan_f64() -> impl Strategy<Value = f64> {
    (any::<bool>(), 1u64..(1 << 52))
        .prop_map(|(negative, mantissa)| f64::from_bits((u64::from(negative) << 63) | 0x7FF0_0000_0000_0000 | mantissa))
}

fn nan_f32() -> impl Strategy<Value = f32> {
    (any::<bool>(), 1u32..(1 << 23))
        .prop_map(|(negative, mantissa)| f32::from_bits((u32::from(negative) << 31) | 0x7F80_0000 | mantissa))
}

proptest! {
    #[test]
    fn f64_nan_is_rejected_alone_and_inside_options_and_tuples(nan in nan_f64()) {
        prop_assert_eq!(nan.to_key_bytes(), Err(KeyError::NaN));
        prop_assert_eq!(Some(nan).to_key_bytes(), Err(KeyError::NaN));
        prop_assert_eq!((1u8, nan).to_key_bytes(), Err(KeyError::NaN));
        prop_assert_eq!(nan.encode_key(&mut Vec::new()), Err(KeyError::NaN));
    }

    #[test]
    fn f32_nan_is_rejected(nan in nan_f32()) {
        prop_assert_eq!(nan.to_key_bytes(), Err(KeyError::NaN));
        prop_assert_eq!((nan, 1u8).to_key_bytes(), Err(KeyError::NaN));
    }

    #[test]
    fn f64_bytes_that_would_decode_to_nan_are_rejected(nan in nan_f64()) {
        // The encoder's mapping, applied to a NaN: set the sign bit of a positive
        // float, invert a negative one.
        let bits = nan.to_bits();
        let mapped = if bits >> 63 == 0 { bits | (1 << 63) } else { !bits };
        prop_assert!(f64::from_key_bytes(&mapped.to_be_bytes()).is_err());
    }

    #[test]
    fn f32_bytes_that_would_decode_to_nan_are_rejected(nan in nan_f32()) {
        let bits = nan.to_bits();
        let mapped = if bits >> 31 == 0 { bits | (1 << 31) } else { !bits };
        prop_assert!(f32::from_key_bytes(&mapped.to_be_bytes()).is_err());
    }
}

#[test]
fn negative_zero_and_zero_share_one_encoding_and_infinities_are_keys() {
    assert_eq!(enc(&-0.0f64), enc(&0.0f64));
    assert_eq!(enc(&-0.0f32), enc(&0.0f32));
    assert!(enc(&f64::NEG_INFINITY) < enc(&f64::MIN));
    assert!(enc(&f64::MAX) < enc(&f64::INFINITY));
    assert_eq!(f64::from_key_bytes(&enc(&f64::INFINITY)), Ok(f64::INFINITY));
    assert_eq!(f32::from_key_bytes(&enc(&f32::NEG_INFINITY)), Ok(f32::NEG_INFINITY));
}

#[test]
fn negative_zero_bytes_are_not_a_second_encoding_of_zero() {
    // What the sign-and-invert mapping would give -0.0 if it were not folded to 0.0.
    let f64_bytes = (!(-0.0f64).to_bits()).to_be_bytes();
    let f32_bytes = (!(-0.0f32).to_bits()).to_be_bytes();
    assert!(f64::from_key_bytes(&f64_bytes).is_err());
    assert!(f32::from_key_bytes(&f32_bytes).is_err());
}

// ---------------------------------------------------------------------------
// Tuples: concatenation, prefixes and the ranges prefix scans use.

/// `encode((a, b))` is `encode(a) ++ encode(b)`, starts with `encode((a,))`, and lies
/// in `[encode((a,)), prefix_successor(encode((a,))))`, a range that holds no key
/// whose first field differs from `a`.
fn check_pair_prefix<A, B>(a: &A, b: &B, other: &(A, B)) -> Result<(), TestCaseError>
where
    A: KeyCodec + Clone + PartialEq + Debug,
    B: KeyCodec + Clone + Debug,
{
    let whole = enc(&(a.clone(), b.clone()));
    let head = enc(&(a.clone(),));
    let mut concat = enc(a);
    concat.extend_from_slice(&enc(b));
    prop_assert_eq!(&whole, &concat);
    prop_assert!(whole.starts_with(&head));
    prop_assert!(whole.starts_with(&enc(a)));

    let in_range =
        |key: &[u8]| key >= head.as_slice() && prefix_successor(&head).is_none_or(|end| key < end.as_slice());
    prop_assert!(in_range(&whole));
    let other_key = enc(other);
    prop_assert_eq!(in_range(&other_key), other.0 == *a, "{:?} against {:?}", other, a);
    Ok(())
}

proptest! {
    #[test]
    fn string_u64_tuple_encoding_starts_with_its_first_field(
        a in string(), b in int!(u64, u8), other in (string(), int!(u64, u8)),
    ) {
        check_pair_prefix(&a, &b, &other)?;
    }

    #[test]
    fn i64_string_tuple_encoding_starts_with_its_first_field(
        a in int!(i64, i8), b in string(), other in (int!(i64, i8), string()),
    ) {
        check_pair_prefix(&a, &b, &other)?;
    }

    #[test]
    fn option_string_bool_tuple_encoding_starts_with_its_first_field(
        a in prop::option::of(string()),
        b in any::<bool>(),
        other in (prop::option::of(string()), any::<bool>()),
    ) {
        check_pair_prefix(&a, &b, &other)?;
    }

    #[test]
    fn bytes_f64_tuple_encoding_starts_with_its_first_field(
        a in bytes(), b in float!(f64, u64), other in (bytes(), float!(f64, u64)),
    ) {
        check_pair_prefix(&a, &b, &other)?;
    }

    #[test]
    fn nested_option_tuple_encoding_starts_with_its_first_field(
        a in prop::option::of((string(), int!(i64, i8))),
        b in string(),
        other in (prop::option::of((string(), int!(i64, i8))), string()),
    ) {
        check_pair_prefix(&a, &b, &other)?;
    }

    #[test]
    fn six_tuple_encoding_is_the_concatenation_and_extends_each_shorter_tuple(
        t in (
            any::<bool>(),
            string(),
            int!(u32, u8),
            prop::option::of(string()),
            bytes(),
            float!(f32, u32),
        ),
    ) {
        let (a, b, c, d, e, f) = t.clone();
        let mut concat = Vec::new();
        for part in [enc(&a), enc(&b), enc(&c), enc(&d), enc(&e), enc(&f)] {
            concat.extend_from_slice(&part);
        }
        let six = enc(&t);
        prop_assert_eq!(&six, &concat);
        let five = enc(&(a, b.clone(), c, d.clone(), e.clone()));
        let four = enc(&(a, b.clone(), c, d.clone()));
        let three = enc(&(a, b.clone(), c));
        let two = enc(&(a, b));
        let one = enc(&(a,));
        for (longer, shorter) in [(&six, &five), (&five, &four), (&four, &three), (&three, &two), (&two, &one)] {
            prop_assert!(longer.starts_with(shorter));
        }
    }

    /// `("a", "bc")` and `("ab", "c")`: moving the boundary between two strings
    /// changes the encoding, and the order is still the tuple order.
    #[test]
    fn string_pairs_split_at_different_points_have_distinct_ordered_encodings(
        word in "[ab\\x00]{0,6}",
        i in any::<Index>(),
        j in any::<Index>(),
    ) {
        let (i, j) = (i.index(word.len() + 1), j.index(word.len() + 1));
        let left = (word[..i].to_string(), word[i..].to_string());
        let right = (word[..j].to_string(), word[j..].to_string());
        prop_assert_eq!(enc(&left) == enc(&right), i == j);
        prop_assert_eq!(enc(&left).cmp(&enc(&right)), left.cmp(&right));
    }

    #[test]
    fn distinct_string_pairs_have_distinct_encodings(
        a in (string(), string()),
        b in (string(), string()),
    ) {
        prop_assert_eq!(enc(&a) == enc(&b), a == b);
        prop_assert_eq!(enc(&a).cmp(&enc(&b)), a.cmp(&b));
    }

    /// What `starts_with` filters scan: a string's encoding minus its two-byte
    /// terminator prefixes the encoding of exactly the strings that extend it.
    #[test]
    fn unterminated_string_encoding_prefixes_exactly_the_encodings_of_its_extensions(
        p in string(),
        s in string(),
        tail in string(),
    ) {
        let terminated = enc(&p);
        prop_assert_eq!(&terminated[terminated.len() - 2..], &[0x00, 0x00][..]);
        let unterminated = &terminated[..terminated.len() - 2];
        let extended = format!("{p}{tail}");
        prop_assert!(enc(&extended).starts_with(unterminated));
        prop_assert_eq!(enc(&s).starts_with(unterminated), s.starts_with(&p));
    }
}

// ---------------------------------------------------------------------------
// prefix_successor.

/// Prefixes rich in `0xFF`, where the successor has to carry.
fn prefix() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(vec![0x00u8, 0x01, 0xFE, 0xFF, 0xFF, b'a']), 0..6)
}

proptest! {
    #[test]
    fn prefix_successor_is_above_every_extension_of_the_prefix(
        p in prefix(),
        extensions in prop::collection::vec(
            prop::collection::vec(select(vec![0x00u8, 0x01, 0xFF]), 0..5),
            1..8,
        ),
    ) {
        match prefix_successor(&p) {
            Some(succ) => {
                prop_assert!(!succ.starts_with(&p), "the successor must lie outside the prefix range");
                for e in extensions {
                    let mut key = p.clone();
                    key.extend_from_slice(&e);
                    prop_assert!(key < succ, "{:?} >= successor {:?}", key, succ);
                }
            }
            None => prop_assert!(p.iter().all(|&b| b == 0xFF), "None only for an all-0xFF prefix"),
        }
    }

    /// Any string above the whole prefix range is at or above the successor, so
    /// `[p, successor)` is exactly the keys that start with `p`.
    #[test]
    fn prefix_successor_is_the_least_string_above_every_extension(
        p in prefix(),
        keep in any::<Index>(),
        tail in prop::collection::vec(select(vec![0x00u8, 0x01, 0xFE, 0xFF, b'a', b'b']), 0..5),
    ) {
        // Keys near the range: a prefix of `p` followed by anything.
        let mut q = p[..keep.index(p.len() + 1)].to_vec();
        q.extend_from_slice(&tail);
        let above_range = q > p && !q.starts_with(&p);
        match prefix_successor(&p) {
            Some(succ) => {
                if above_range {
                    prop_assert!(succ <= q, "successor {:?} > {:?}, which is above the range", succ, q);
                }
                prop_assert_eq!(q.starts_with(&p), p <= q && q < succ);
            }
            None => prop_assert!(!above_range, "{:?} is above the range of all-0xFF {:?}", q, p),
        }
    }
}
