//! `drift export`: rows through the stored descriptors, as JSON lines (a round trip
//! with `drift import`) or CSV.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_core::dynamic::{Row, Value};
use drift_core::raw::{Entries, RawRead};
use drift_core::{EntityDescriptor, FieldKind, Shape};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::cli::Format;
use crate::fail::{self, Fail};
use crate::json::{RowJson, ToJson};
use crate::open;

pub const LONG_ABOUT: &str = "\
Writes the rows of FILE through its stored descriptors (no struct needed), streamed \
in chunks in key order; read-only.

JSON lines (the default): the first line is a header, \
{\"drift_export\": 1, \"format\": ..., \"schemas\": [stored descriptors], \"sequences\": \
{table: auto_increment mark}, \"history\": [applied migration records]}, then one line \
per row, {\"entity\": \"User\", \"row\": {\"id\": 1, \"email\": ...}}. `drift import` \
rebuilds the database from it, also with a later version of drift.

Values are written as serde_json writes the Rust value, with exact rules: integers are \
numbers when they fit in 64 bits, else decimal strings; NaN and infinities are \"NaN\", \
\"inf\", \"-inf\"; bytes are a base64 string; None is null and Some(v) is v (but \
{\"Some\": v} when the inner type can itself be null, as in Option<Option<T>>); a map with string keys is an object, any \
other an array of [key, value] pairs; an enum's unit variant is \"Variant\", another \
{\"Variant\": content}.

CSV: one entity (--entity, or the file's only one) whose stored fields are all \
scalars or options of scalars; a header row of field names; None is an empty cell, \
bytes are base64. CSV is for reading elsewhere: import takes JSON lines.";

/// Rows read per chunk.
const CHUNK: usize = 512;

/// The first line of a JSON lines export.
#[derive(Serialize)]
pub struct Header<'a> {
    /// The export format's version.
    pub drift_export: u32,
    /// The file's format marker.
    pub format: Option<String>,
    /// The stored descriptors of the exported entities.
    pub schemas: &'a [EntityDescriptor],
    /// auto_increment marks by table.
    pub sequences: BTreeMap<String, u64>,
    /// The records of applied migrations, as stored (whole exports only).
    pub history: Vec<Box<RawValue>>,
}

#[derive(Serialize)]
struct Line<'a> {
    entity: &'a str,
    row: RowJson<'a>,
}

/// Calls `f` on each row of `desc`, in key order, chunk by chunk.
///
/// # Errors
/// When the store fails, a row does not decode, or `f` fails.
pub fn each_row(
    raw: &RawRead,
    path: &Path,
    desc: &EntityDescriptor,
    mut f: impl FnMut(&Row) -> Result<(), Fail>,
) -> Result<(), Fail> {
    let mut chunk: Entries = Vec::with_capacity(CHUNK);
    let mut last: Option<Vec<u8>> = None;
    loop {
        raw.chunk(&desc.table, last.as_deref(), CHUNK, &mut chunk).map_err(|e| fail::db(path, e))?;
        let Some((k, _)) = chunk.last() else { return Ok(()) };
        last = Some(k.clone());
        for (key, bytes) in &chunk {
            let row = Row::decode(desc, key, bytes).map_err(|e| {
                Fail::new(format!(
                    "{}: a {} row does not decode ({e}); `drift check` lists undecodable rows, and entities it cannot read without their structs",
                    path.display(),
                    desc.name
                ))
            })?;
            f(&row)?;
        }
    }
}

/// The entities to export: all, or the one named.
fn selected(stored: Vec<EntityDescriptor>, entity: Option<&str>, path: &Path) -> Result<Vec<EntityDescriptor>, Fail> {
    let Some(name) = entity else { return Ok(stored) };
    let names: Vec<String> = stored.iter().map(|d| d.name.to_string()).collect();
    match stored.into_iter().find(|d| d.name == name) {
        Some(d) => Ok(vec![d]),
        None => Err(Fail::new(format!(
            "{} holds no entity `{name}`; it holds: {}",
            path.display(),
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        ))),
    }
}

/// `drift export FILE [--entity E] [--format jsonl|csv] [-o OUT]`.
pub fn run(
    path: &Path,
    entity: Option<&str>,
    format: Format,
    output: Option<&Path>,
    out: &mut dyn Write,
) -> Result<ExitCode, Fail> {
    let raw = open::read(path)?;
    let stored = raw.stored_schemas().map_err(|e| fail::db(path, e))?;
    let whole = entity.is_none();
    let entities = selected(stored, entity, path)?;
    let Some(o) = output else {
        match format {
            Format::Jsonl => jsonl(&raw, path, &entities, whole, out)?,
            Format::Csv => csv(&raw, path, &entities, out)?,
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    // Never onto the database itself (export only reads it), and never a half-written
    // export: written beside OUT, renamed over it at the end.
    let same = |a: &Path, b: &Path| match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(o, path) {
        return Err(Fail::new(format!("{} is the database being exported; choose another output", o.display())));
    }
    let tmp = o.with_file_name(format!(
        ".{}.drift-export-{}",
        o.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let written = (|| -> Result<(), Fail> {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(&tmp).map_err(|e| Fail::new(format!("cannot create {}: {e}", tmp.display())))?,
        );
        match format {
            Format::Jsonl => jsonl(&raw, path, &entities, whole, &mut file)?,
            Format::Csv => csv(&raw, path, &entities, &mut file)?,
        }
        file.flush()?;
        file.get_ref().sync_all().map_err(|e| Fail::new(format!("cannot write {}: {e}", tmp.display())))?;
        drop(file);
        std::fs::rename(&tmp, o).map_err(|e| Fail::new(format!("cannot write {}: {e}", o.display())))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    Ok(ExitCode::SUCCESS)
}

fn total_rows(raw: &RawRead, path: &Path, entities: &[EntityDescriptor]) -> Result<u64, Fail> {
    let mut total = 0;
    for d in entities {
        total += raw.count(&d.table).map_err(|e| fail::db(path, e))?;
    }
    Ok(total)
}

fn jsonl(
    raw: &RawRead,
    path: &Path,
    entities: &[EntityDescriptor],
    whole: bool,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let err = |e| fail::db(path, e);
    let mut sequences = BTreeMap::new();
    for d in entities.iter().filter(|d| d.auto_increment) {
        let mark = raw.sequence(&d.table).map_err(err)?;
        if mark > 0 {
            sequences.insert(d.table.to_string(), mark);
        }
    }
    let mut history = Vec::new();
    if whole {
        for record in raw.history().map_err(err)? {
            let text = String::from_utf8(record)
                .map_err(|_| Fail::new(format!("{}: a migration record is not UTF-8", path.display())))?;
            let value = RawValue::from_string(text)
                .map_err(|e| Fail::new(format!("{}: a migration record is not JSON: {e}", path.display())))?;
            history.push(value);
        }
    }
    let header =
        Header { drift_export: 1, format: open::format_marker(raw, path)?, schemas: entities, sequences, history };
    write_line(out, &header)?;
    let bar = crate::progress::bar(total_rows(raw, path, entities)?, "exporting", "rows");
    let mut counts = BTreeMap::new();
    for d in entities {
        let mut n = 0u64;
        each_row(raw, path, d, |row| {
            write_line(out, &Line { entity: &d.name, row: RowJson(row) })?;
            n += 1;
            bar.inc(1);
            Ok(())
        })?;
        counts.insert(d.name.to_string(), n);
    }
    bar.finish_and_clear();
    // The last line: rows per entity, so that an import notices an export that lost
    // lines.
    write_line(out, &serde_json::json!({ "drift_export_end": { "rows": counts } }))
}

/// Writes `value` as one compact JSON line.
fn write_line(out: &mut dyn Write, value: &impl Serialize) -> Result<(), Fail> {
    serde_json::to_writer(&mut *out, value).map_err(|e| {
        if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
            Fail::BrokenPipe
        } else {
            Fail::new(format!("cannot write the export: {e}"))
        }
    })?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Whether a CSV cell can hold values of `shape`.
fn scalar(shape: &Shape) -> bool {
    match shape {
        Shape::Option(inner) => !matches!(**inner, Shape::Option(_)) && scalar(inner),
        Shape::Seq(item) => **item == Shape::U8,
        Shape::Bool
        | Shape::U8
        | Shape::U16
        | Shape::U32
        | Shape::U64
        | Shape::U128
        | Shape::I8
        | Shape::I16
        | Shape::I32
        | Shape::I64
        | Shape::I128
        | Shape::F32
        | Shape::F64
        | Shape::Char
        | Shape::String
        | Shape::Bytes
        | Shape::Unit => true,
        _ => false,
    }
}

/// A scalar value as a CSV cell's text (before quoting).
fn cell(v: &Value) -> String {
    match v {
        Value::Option(None) | Value::Unit => String::new(),
        Value::Option(Some(v)) => cell(v),
        Value::String(s) => s.clone(),
        Value::Char(c) => c.to_string(),
        // Numbers, bools and bytes as in JSON, without quotes.
        other => match serde_json::to_value(ToJson(other)) {
            Ok(serde_json::Value::String(s)) => s,
            Ok(j) => j.to_string(),
            Err(_) => other.to_string(),
        },
    }
}

/// `text` quoted for CSV when it needs to be (RFC 4180).
fn quoted(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn csv(raw: &RawRead, path: &Path, entities: &[EntityDescriptor], out: &mut dyn Write) -> Result<(), Fail> {
    let [d] = entities else {
        let names: Vec<&str> = entities.iter().map(|d| &*d.name).collect();
        return Err(Fail::new(format!(
            "CSV holds one entity: name it with `--entity` (one of: {})",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        )));
    };
    let fields: Vec<&drift_core::FieldDescriptor> = d.fields.iter().filter(|f| f.kind != FieldKind::Relation).collect();
    for f in &fields {
        match f.shape.get() {
            Some(s) if scalar(&s) => {}
            Some(s) => {
                return Err(Fail::new(format!(
                    "{} is not flat: field `{}` is a {s}, which a CSV cell cannot hold; export it as jsonl",
                    d.name, f.name
                )));
            }
            None => return Err(Fail::new(format!("field `{}` of {} has no stored shape", f.name, d.name))),
        }
    }
    let header: Vec<String> = fields.iter().map(|f| quoted(&f.name)).collect();
    writeln!(out, "{}", header.join(","))?;
    let bar = crate::progress::bar(total_rows(raw, path, entities)?, "exporting", "rows");
    each_row(raw, path, d, |row| {
        let cells: Vec<String> =
            fields.iter().map(|f| row.get(&f.name).map(|v| quoted(&cell(v))).unwrap_or_default()).collect();
        writeln!(out, "{}", cells.join(","))?;
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(())
}
