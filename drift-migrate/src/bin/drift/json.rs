//! Stored values as JSON and back, for export and import.
//!
//! Writing follows what `serde_json` writes for the Rust value, so an exported row
//! reads like the application's own JSON, with these exceptions that keep the
//! mapping exact:
//! - integers are numbers when they fit in 64 bits (`u128` / `i128` beyond that are
//!   decimal strings); readers in JavaScript lose precision above 2^53;
//! - floats are numbers (an `f32` written with its shortest exact digits); NaN and
//!   the infinities are the strings `"NaN"`, `"inf"`, `"-inf"`;
//! - bytes (`Vec<u8>`, byte shapes) are a base64 string (standard alphabet, padded);
//! - `None` is `null` and `Some(v)` is `v`, except when the option's inner type can
//!   itself be `null` (`Option<Option<T>>`, `Option<()>`): then `Some(v)` is
//!   `{"Some": v}` whatever `v` holds;
//! - a map whose keys are all strings is an object (in stored order); any other
//!   map is an array of `[key, value]` pairs;
//! - a struct is an object, a tuple struct an array, a newtype struct its inner
//!   value, a unit struct `null`; an enum's unit variant is `"Variant"`, another
//!   variant `{"Variant": content}` with the content as for a struct.
//!
//! Reading is directed by the stored shape, so it is exact: it accepts what writing
//! produces, and also numbers given as strings, bytes as an array of numbers, any
//! map as pairs, and a struct's `Option` fields left out (as `None`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use drift_core::dynamic::{Row, Value};
use drift_core::{EntityDescriptor, FieldKind, NamedShape, Shape};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A value written as JSON.
pub struct ToJson<'a>(pub &'a Value);

/// A decoded row written as a JSON object, fields in stored order.
pub struct RowJson<'a>(pub &'a Row);

/// Whether a value is written as `null`.
fn null_like(v: &Value) -> bool {
    match v {
        Value::Option(_) | Value::Unit => true,
        Value::Struct(f) if f.is_empty() => true,
        // A newtype is written as its one field.
        Value::Struct(f) if f.len() == 1 && f[0].0 == "0" => null_like(&f[0].1),
        _ => false,
    }
}

/// Whether a shape's values can be written as `null`.
fn nullable(s: &Shape) -> bool {
    match s {
        Shape::Option(_) | Shape::Unit => true,
        Shape::Struct { fields, .. } if fields.is_empty() => true,
        // A newtype is written as its one field.
        Shape::Struct { fields, .. } if fields.len() == 1 && fields[0].name == "0" => nullable(&fields[0].shape),
        _ => false,
    }
}

/// Whether fields are named `0`, `1`, ...: a tuple struct or variant.
fn positional<T>(fields: &[T], name: impl Fn(&T) -> &str) -> bool {
    fields.iter().enumerate().all(|(i, f)| name(f).parse::<usize>() == Ok(i))
}

fn float<S: Serializer>(v: f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if v.is_infinite() {
        s.serialize_str(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        s.serialize_f64(v)
    }
}

struct Fields<'a>(&'a [(String, Value)]);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.0;
        if fields.is_empty() {
            return s.serialize_unit();
        }
        if positional(fields, |(n, _)| n) {
            if let [(_, only)] = fields {
                return ToJson(only).serialize(s);
            }
            let mut seq = s.serialize_seq(Some(fields.len()))?;
            for (_, v) in fields {
                seq.serialize_element(&ToJson(v))?;
            }
            return seq.end();
        }
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (n, v) in fields {
            map.serialize_entry(n, &ToJson(v))?;
        }
        map.end()
    }
}

impl Serialize for ToJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(v) => s.serialize_bool(*v),
            Value::U8(v) => s.serialize_u8(*v),
            Value::U16(v) => s.serialize_u16(*v),
            Value::U32(v) => s.serialize_u32(*v),
            Value::U64(v) => s.serialize_u64(*v),
            Value::U128(v) => match u64::try_from(*v) {
                Ok(x) => s.serialize_u64(x),
                Err(_) => s.serialize_str(&v.to_string()),
            },
            Value::I8(v) => s.serialize_i8(*v),
            Value::I16(v) => s.serialize_i16(*v),
            Value::I32(v) => s.serialize_i32(*v),
            Value::I64(v) => s.serialize_i64(*v),
            Value::I128(v) => match i64::try_from(*v) {
                Ok(x) => s.serialize_i64(x),
                Err(_) => s.serialize_str(&v.to_string()),
            },
            // The f32's shortest digits, read as an f64: `1.1`, not `1.100000023841858`;
            // read back as an f32 it is the same value.
            Value::F32(v) => float(v.to_string().parse::<f64>().unwrap_or(f64::from(*v)), s),
            Value::F64(v) => float(*v, s),
            Value::Char(v) => s.serialize_char(*v),
            Value::String(v) => s.serialize_str(v),
            Value::Bytes(v) => s.serialize_str(&BASE64.encode(v)),
            Value::Unit => s.serialize_unit(),
            Value::Option(None) => s.serialize_none(),
            Value::Option(Some(v)) if null_like(v) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("Some", &ToJson(v))?;
                map.end()
            }
            Value::Option(Some(v)) => ToJson(v).serialize(s),
            Value::Seq(items) | Value::Tuple(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&ToJson(v))?;
                }
                seq.end()
            }
            Value::Map(entries) if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&ToJson(k), &ToJson(v))?;
                }
                map.end()
            }
            Value::Map(entries) => {
                let mut seq = s.serialize_seq(Some(entries.len()))?;
                for (k, v) in entries {
                    seq.serialize_element(&(ToJson(k), ToJson(v)))?;
                }
                seq.end()
            }
            Value::Struct(fields) => Fields(fields).serialize(s),
            Value::Enum { variant, fields } if fields.is_empty() => s.serialize_str(variant),
            Value::Enum { variant, fields } => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry(variant, &Fields(fields))?;
                map.end()
            }
        }
    }
}

impl Serialize for RowJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in self.0.fields() {
            map.serialize_entry(n, &ToJson(v))?;
        }
        map.end()
    }
}

/// Reads a value of a shape from JSON.
#[derive(Clone, Copy)]
pub struct Seed<'a>(pub &'a Shape);

/// An integer read from JSON, before it is fitted to its width.
#[derive(Clone, Copy)]
enum Int {
    U(u128),
    I(i128),
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int::U(v) => write!(f, "{v}"),
            Int::I(v) => write!(f, "{v}"),
        }
    }
}

fn is_int(s: &Shape) -> bool {
    matches!(
        s,
        Shape::U8
            | Shape::U16
            | Shape::U32
            | Shape::U64
            | Shape::U128
            | Shape::I8
            | Shape::I16
            | Shape::I32
            | Shape::I64
            | Shape::I128
    )
}

fn int_value(shape: &Shape, n: Int) -> Result<Value, String> {
    let unsigned = match n {
        Int::U(v) => Some(v),
        Int::I(v) => u128::try_from(v).ok(),
    };
    let signed = match n {
        Int::U(v) => i128::try_from(v).ok(),
        Int::I(v) => Some(v),
    };
    let out = match shape {
        Shape::U8 => unsigned.and_then(|v| u8::try_from(v).ok()).map(Value::U8),
        Shape::U16 => unsigned.and_then(|v| u16::try_from(v).ok()).map(Value::U16),
        Shape::U32 => unsigned.and_then(|v| u32::try_from(v).ok()).map(Value::U32),
        Shape::U64 => unsigned.and_then(|v| u64::try_from(v).ok()).map(Value::U64),
        Shape::U128 => unsigned.map(Value::U128),
        Shape::I8 => signed.and_then(|v| i8::try_from(v).ok()).map(Value::I8),
        Shape::I16 => signed.and_then(|v| i16::try_from(v).ok()).map(Value::I16),
        Shape::I32 => signed.and_then(|v| i32::try_from(v).ok()).map(Value::I32),
        Shape::I64 => signed.and_then(|v| i64::try_from(v).ok()).map(Value::I64),
        Shape::I128 => signed.map(Value::I128),
        _ => None,
    };
    out.ok_or_else(|| format!("{n} does not fit in {shape}"))
}

#[allow(clippy::cast_possible_truncation)]
fn float_value(shape: &Shape, v: f64) -> Value {
    if *shape == Shape::F32 { Value::F32(v as f32) } else { Value::F64(v) }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

struct Visit<'a>(&'a Shape);

impl Visit<'_> {
    fn mismatch<E: de::Error>(&self, found: &str) -> E {
        E::custom(format!("expected {}, found {found}", self.0))
    }

    fn int<E: de::Error>(&self, n: Int) -> Result<Value, E> {
        match self.0 {
            s if is_int(s) => int_value(s, n).map_err(E::custom),
            #[allow(clippy::cast_precision_loss)]
            s @ (Shape::F32 | Shape::F64) => Ok(float_value(
                s,
                match n {
                    Int::U(v) => v as f64,
                    Int::I(v) => v as f64,
                },
            )),
            _ => Err(self.mismatch(&format!("number {n}"))),
        }
    }
}

impl<'de> Visitor<'de> for Visit<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of shape {}", self.0)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.0 {
            Shape::Bool => Ok(Value::Bool(v)),
            _ => Err(self.mismatch(&format!("{v}"))),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.int(Int::U(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.int(Int::I(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.0 {
            s @ (Shape::F32 | Shape::F64) => Ok(float_value(s, v)),
            _ => Err(self.mismatch(&format!("number {v}"))),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        let found = || format!("string {v:?}");
        match self.0 {
            Shape::String => Ok(Value::String(v.to_string())),
            Shape::Char => {
                let mut chars = v.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(Value::Char(c)),
                    _ => Err(E::custom(format!("expected one character, found {}", found()))),
                }
            }
            Shape::Bytes => decode_base64(v).map(Value::Bytes),
            Shape::Seq(item) if **item == Shape::U8 => decode_base64(v).map(Value::Bytes),
            s if is_int(s) => {
                let n = if v.starts_with('-') { v.parse().map(Int::I) } else { v.parse().map(Int::U) };
                let n = n.map_err(|_| E::custom(format!("expected {s}, found {}", found())))?;
                int_value(s, n).map_err(E::custom)
            }
            s @ (Shape::F32 | Shape::F64) => {
                parse_float(v).map(|f| float_value(s, f)).ok_or_else(|| self.mismatch(&found()))
            }
            Shape::Enum { variants, .. } => match variants.iter().find(|x| x.name == v) {
                Some(x) if x.fields.is_empty() => Ok(Value::Enum { variant: v.to_string(), fields: Vec::new() }),
                Some(_) => Err(E::custom(format!("variant `{v}` has fields: write {{\"{v}\": ...}}"))),
                None => Err(E::custom(format!("unknown variant `{v}` of {}", self.0))),
            },
            _ => Err(self.mismatch(&found())),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        match self.0 {
            Shape::Unit => Ok(Value::Unit),
            _ => Err(self.mismatch("null")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.0 {
            Shape::Seq(item) => {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element_seed(Seed(item))? {
                    items.push(v);
                }
                Ok(if **item == Shape::U8 { Value::Bytes(bytes_of(items)) } else { Value::Seq(items) })
            }
            Shape::Bytes => {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element_seed(Seed(&Shape::U8))? {
                    items.push(v);
                }
                Ok(Value::Bytes(bytes_of(items)))
            }
            Shape::Array(item, n) => {
                // Element by element against the one item shape: `n` comes from the
                // header and is not trusted to size anything.
                let mut items = Vec::new();
                while let Some(v) = seq.next_element_seed(Seed(item))? {
                    if items.len() == *n {
                        return Err(de::Error::custom(format!("expected {n} items, found more")));
                    }
                    items.push(v);
                }
                if items.len() != *n {
                    return Err(de::Error::custom(format!("expected {n} items, found {}", items.len())));
                }
                Ok(Value::Tuple(items))
            }
            Shape::Tuple(shapes) => Ok(Value::Tuple(items_of(shapes, &mut seq)?)),
            Shape::Map(k, v) => {
                let pair = [(**k).clone(), (**v).clone()];
                let mut entries = Vec::new();
                while let Some(p) = seq.next_element_seed(Items(&pair))? {
                    let mut p = p.into_iter();
                    if let (Some(k), Some(v)) = (p.next(), p.next()) {
                        entries.push((k, v));
                    }
                }
                Ok(Value::Map(entries))
            }
            _ => Err(self.mismatch("an array")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.0 {
            Shape::Map(k, v) => {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let key = Visit(k).visit_str::<A::Error>(&key)?;
                    entries.push((key, map.next_value_seed(Seed(v))?));
                }
                Ok(Value::Map(entries))
            }
            Shape::Enum { variants, .. } => {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("expected {\"Variant\": ...}, found {}"));
                };
                let Some(variant) = variants.iter().find(|x| x.name == name) else {
                    return Err(de::Error::custom(format!("unknown variant `{name}` of {}", self.0)));
                };
                let fields = map.next_value_seed(FieldsSeed(&variant.fields))?;
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("an enum value is an object with one key, its variant"));
                }
                Ok(Value::Enum { variant: name, fields })
            }
            _ => Err(self.mismatch("an object")),
        }
    }
}

fn decode_base64<E: de::Error>(v: &str) -> Result<Vec<u8>, E> {
    BASE64.decode(v).map_err(|e| E::custom(format!("bytes are base64: {e}")))
}

fn bytes_of(items: Vec<Value>) -> Vec<u8> {
    items.into_iter().filter_map(|v| if let Value::U8(b) = v { Some(b) } else { None }).collect()
}

fn items_of<'de, A: SeqAccess<'de>>(shapes: &[Shape], seq: &mut A) -> Result<Vec<Value>, A::Error> {
    let mut out = Vec::with_capacity(shapes.len());
    for s in shapes {
        match seq.next_element_seed(Seed(s))? {
            Some(v) => out.push(v),
            None => return Err(de::Error::custom(format!("expected {} items, found {}", shapes.len(), out.len()))),
        }
    }
    if seq.next_element::<de::IgnoredAny>()?.is_some() {
        return Err(de::Error::custom(format!("expected {} items, found more", shapes.len())));
    }
    Ok(out)
}

/// A fixed list of values, one per shape.
struct Items<'a>(&'a [Shape]);

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {} items", self.0.len())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        items_of(self.0, &mut seq)
    }
}

/// A struct's or variant's fields.
struct FieldsSeed<'a>(&'a [NamedShape]);

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let fields = self.0;
        if fields.is_empty() {
            return d.deserialize_any(self);
        }
        if positional(fields, |f| &f.name) {
            if let [only] = fields {
                return Ok(vec![(only.name.clone(), Seed(&only.shape).deserialize(d)?)]);
            }
            let shapes: Vec<Shape> = fields.iter().map(|f| f.shape.clone()).collect();
            let values = Items(&shapes).deserialize(d)?;
            return Ok(fields.iter().map(|f| f.name.clone()).zip(values).collect());
        }
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str("null") } else { f.write_str("an object of fields") }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        items_of(&[], &mut seq).map(|_| Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots: Vec<Option<Value>> = vec![None; self.0.len()];
        while let Some(key) = map.next_key::<String>()? {
            let Some(i) = self.0.iter().position(|f| f.name == key) else {
                return Err(de::Error::custom(format!("unknown field `{key}`")));
            };
            let v = map
                .next_value_seed(Seed(&self.0[i].shape))
                .map_err(|e| de::Error::custom(format!("field `{key}`: {e}")))?;
            slots[i] = Some(v);
        }
        self.0
            .iter()
            .zip(slots)
            .map(|(f, v)| match (v, &f.shape) {
                (Some(v), _) => Ok((f.name.clone(), v)),
                (None, Shape::Option(_)) => Ok((f.name.clone(), Value::Option(None))),
                (None, _) => Err(de::Error::custom(format!("missing field `{}`", f.name))),
            })
            .collect()
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Shape::Option(inner) => d.deserialize_option(OptionVisit(inner)),
            Shape::Struct { fields, .. } => FieldsSeed(fields).deserialize(d).map(Value::Struct),
            Shape::Opaque => Err(de::Error::custom(
                "the field's type is not described (opaque): its values cannot be read without the struct",
            )),
            s => d.deserialize_any(Visit(s)),
        }
    }
}

struct OptionVisit<'a>(&'a Shape);

impl<'de> Visitor<'de> for OptionVisit<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "null or a value of shape {}", self.0)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Option(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Option(None))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let inner =
            if nullable(self.0) { d.deserialize_map(SomeVisit(self.0))? } else { Seed(self.0).deserialize(d)? };
        Ok(Value::Option(Some(Box::new(inner))))
    }
}

/// `{"Some": v}`, for a `Some` whose value can be `null`.
struct SomeVisit<'a>(&'a Shape);

impl<'de> Visitor<'de> for SomeVisit<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or {\"Some\": value}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match map.next_key::<String>()?.as_deref() {
            Some("Some") => {
                let v = map.next_value_seed(Seed(self.0))?;
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("expected {\"Some\": value} with one key"));
                }
                Ok(v)
            }
            _ => Err(de::Error::custom("expected null or {\"Some\": value}")),
        }
    }
}

/// Reads a row of an entity from a JSON object of its stored fields (key and data
/// fields; relations are not stored).
pub struct RowSeed<'a>(pub &'a EntityDescriptor);

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object of the fields of {}", self.0.name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let desc = self.0;
        let mut row = Row::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = desc.field(&key).filter(|f| f.kind != FieldKind::Relation) else {
                return Err(de::Error::custom(format!("`{key}` is not a stored field of {}", desc.name)));
            };
            let Some(shape) = field.shape.get() else {
                return Err(de::Error::custom(format!("field `{key}` of {} has no stored shape", desc.name)));
            };
            let v = map.next_value_seed(Seed(&shape)).map_err(|e| de::Error::custom(format!("field `{key}`: {e}")))?;
            row.set(&key, v);
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use drift_core::dynamic::Value;
    use drift_core::{NamedShape, Shape, Variant};
    use serde::de::DeserializeSeed;

    use super::{Seed, ToJson};

    fn round_trip(shape: &Shape, v: &Value) -> String {
        let text = serde_json::to_string(&ToJson(v)).unwrap();
        let back = Seed(shape).deserialize(&mut serde_json::Deserializer::from_str(&text)).unwrap();
        assert_eq!(&back, v, "{text}");
        text
    }

    fn named(fields: &[(&str, Shape)]) -> Vec<NamedShape> {
        fields.iter().map(|(n, s)| NamedShape::new(*n, s.clone())).collect()
    }

    #[test]
    fn scalars_are_json_numbers_strings_and_bools() {
        assert_eq!(round_trip(&Shape::U64, &Value::U64(u64::MAX)), "18446744073709551615");
        assert_eq!(round_trip(&Shape::I8, &Value::I8(-5)), "-5");
        assert_eq!(round_trip(&Shape::U128, &Value::U128(u128::MAX)), "\"340282366920938463463374607431768211455\"");
        assert_eq!(round_trip(&Shape::I128, &Value::I128(i128::MIN)), "\"-170141183460469231731687303715884105728\"");
        assert_eq!(round_trip(&Shape::I128, &Value::I128(-3)), "-3");
        assert_eq!(round_trip(&Shape::F32, &Value::F32(1.1)), "1.1");
        assert_eq!(round_trip(&Shape::F64, &Value::F64(f64::INFINITY)), "\"inf\"");
        assert_eq!(round_trip(&Shape::Char, &Value::Char('é')), "\"é\"");
        assert_eq!(round_trip(&Shape::Bytes, &Value::Bytes(vec![0, 255, 7])), "\"AP8H\"");
        assert_eq!(round_trip(&Shape::Bool, &Value::Bool(true)), "true");
        assert_eq!(round_trip(&Shape::Unit, &Value::Unit), "null");
        let nan = serde_json::to_string(&ToJson(&Value::F64(f64::NAN))).unwrap();
        assert_eq!(nan, "\"NaN\"");
    }

    #[test]
    fn options_are_null_or_the_value_and_nested_ones_are_tagged() {
        let opt = Shape::Option(Box::new(Shape::U32));
        assert_eq!(round_trip(&opt, &Value::none()), "null");
        assert_eq!(round_trip(&opt, &Value::some(Value::U32(4))), "4");
        let nested = Shape::Option(Box::new(opt));
        assert_eq!(round_trip(&nested, &Value::some(Value::none())), "{\"Some\":null}");
        assert_eq!(round_trip(&nested, &Value::none()), "null");
    }

    #[test]
    fn containers_structs_and_enums_read_like_serde_json() {
        let seq = Shape::Seq(Box::new(Shape::String));
        assert_eq!(round_trip(&seq, &Value::Seq(vec!["a".into(), "b".into()])), "[\"a\",\"b\"]");
        let map = Shape::Map(Box::new(Shape::String), Box::new(Shape::U8));
        let m = Value::Map(vec![("z".into(), Value::U8(1)), ("a".into(), Value::U8(2))]);
        assert_eq!(round_trip(&map, &m), "{\"z\":1,\"a\":2}", "stored order is kept");
        let int_map = Shape::Map(Box::new(Shape::U16), Box::new(Shape::Bool));
        assert_eq!(round_trip(&int_map, &Value::Map(vec![(Value::U16(9), Value::Bool(false))])), "[[9,false]]");
        let point = Shape::Struct { name: "Point".into(), fields: named(&[("x", Shape::I32), ("y", Shape::I32)]) };
        let p = Value::Struct(vec![("x".into(), Value::I32(1)), ("y".into(), Value::I32(-2))]);
        assert_eq!(round_trip(&point, &p), "{\"x\":1,\"y\":-2}");
        let newtype = Shape::Struct { name: "Email".into(), fields: named(&[("0", Shape::String)]) };
        assert_eq!(round_trip(&newtype, &Value::Struct(vec![("0".into(), "a@b".into())])), "\"a@b\"");
        let shape = Shape::Enum {
            name: "Status".into(),
            variants: vec![
                Variant { name: "Draft".into(), fields: vec![] },
                Variant { name: "Moved".into(), fields: named(&[("to", Shape::U64)]) },
                Variant { name: "Pair".into(), fields: named(&[("0", Shape::U8), ("1", Shape::U8)]) },
            ],
        };
        let draft = Value::Enum { variant: "Draft".into(), fields: vec![] };
        assert_eq!(round_trip(&shape, &draft), "\"Draft\"");
        let moved = Value::Enum { variant: "Moved".into(), fields: vec![("to".into(), Value::U64(3))] };
        assert_eq!(round_trip(&shape, &moved), "{\"Moved\":{\"to\":3}}");
        let pair = Value::Enum {
            variant: "Pair".into(),
            fields: vec![("0".into(), Value::U8(1)), ("1".into(), Value::U8(2))],
        };
        assert_eq!(round_trip(&shape, &pair), "{\"Pair\":[1,2]}");
        let arr = Shape::Array(Box::new(Shape::U8), 2);
        assert_eq!(round_trip(&arr, &Value::Tuple(vec![Value::U8(1), Value::U8(2)])), "[1,2]");
    }

    #[test]
    fn reading_refuses_what_does_not_fit_the_shape() {
        let read = |shape: &Shape, text: &str| {
            Seed(shape).deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| e.to_string())
        };
        assert!(read(&Shape::U8, "300").unwrap_err().contains("300 does not fit in u8"));
        assert!(read(&Shape::U32, "\"x\"").unwrap_err().contains("expected u32"));
        assert!(read(&Shape::U32, "-1").unwrap_err().contains("does not fit"));
        assert_eq!(read(&Shape::U64, "\"42\""), Ok(Value::U64(42)));
        assert!(read(&Shape::Array(Box::new(Shape::U8), 2), "[1]").unwrap_err().contains("expected 2 items"));
        assert!(read(&Shape::Opaque, "1").unwrap_err().contains("opaque"));
    }
}
