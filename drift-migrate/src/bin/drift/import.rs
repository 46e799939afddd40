//! `drift import`: a database rebuilt from a JSON lines export, all or nothing.
//!
//! Rows go into a temporary file beside the target in one write transaction; the
//! temporary file is checked (`drift check`) and renamed over the target only when
//! sound. On any error or problem the target is untouched and the temporary file
//! removed.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use drift_core::dynamic::Row;
use drift_core::raw::{RawWrite, index_table};
use drift_core::{EntityDescriptor, FieldKind, MAX_KEY_LEN, MAX_ROW_LEN};
use serde::Deserialize;
use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use crate::fail::{self, Fail};
use crate::json::RowSeed;
use crate::open;

pub const LONG_ABOUT: &str = "\
Rebuilds a database from the JSON lines `drift export` writes, into FILE, which must \
not exist, be empty, or hold no entity. The header's descriptors are stored; each row \
is encoded through its entity's descriptor, its index entries written, its key checked \
for duplicates and its unique values for conflicts; auto_increment marks are set to the \
exported mark or the largest key, whichever is larger; the migration records are kept.

All or nothing: the rows go into a temporary file beside FILE, which is checked (as \
`drift check` does: foreign keys included) and renamed to FILE only when sound. A row \
that does not fit its descriptor stops the import with exit code 2, naming the line; \
problems found by the check are listed and the import exits with 1. Either way FILE is \
left as it was.

Not checked: `#[drift(validate(..))]` rules. They live in the application's structs, \
which the tool does not have; open the imported file in the application and validate \
there if the data may break them.";

/// The header as read back.
#[derive(Deserialize)]
struct Header {
    drift_export: u32,
    schemas: Vec<EntityDescriptor>,
    #[serde(default)]
    sequences: BTreeMap<String, u64>,
    #[serde(default)]
    history: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Line<'a> {
    entity: String,
    #[serde(borrow)]
    row: &'a RawValue,
}

/// The export's last line.
#[derive(Deserialize)]
struct End {
    drift_export_end: EndRows,
}

#[derive(Deserialize)]
struct EndRows {
    rows: std::collections::BTreeMap<String, u64>,
}

/// Removes the temporary file unless the import succeeded.
struct Temp(Option<PathBuf>);

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Fails unless `path` is missing, empty, or a Drift file with no entity.
fn check_target(path: &Path) -> Result<(), Fail> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Fail::new(format!("cannot read {}: {e}", path.display()))),
        Ok(m) if m.is_dir() => return Err(Fail::new(format!("{} is a directory", path.display()))),
        Ok(m) if m.len() == 0 => return Ok(()),
        Ok(_) => {}
    }
    let raw = open::read(path)?;
    let stored = raw.stored_schemas().map_err(|e| fail::db(path, e))?;
    if !stored.is_empty() || raw.table_names().iter().any(|t| t != open::META_TABLE) {
        return Err(Fail::new(format!(
            "{} already holds data; import writes into a new or empty file only",
            path.display()
        )));
    }
    Ok(())
}

/// The descriptors must each be readable and not clash.
fn check_schemas(schemas: &[EntityDescriptor], input: &Path) -> Result<(), Fail> {
    for (i, d) in schemas.iter().enumerate() {
        if let Some(other) = schemas[..i].iter().find(|o| o.name == d.name || o.table == d.table) {
            return Err(Fail::new(format!(
                "{}: the header holds {} and {} with the same name or table",
                input.display(),
                other.name,
                d.name
            )));
        }
        let bad = |reason: String| Err(Fail::new(format!("{}: {} in the header: {reason}", input.display(), d.name)));
        if d.table.is_empty() || d.table.contains('#') {
            return bad(format!("table name `{}` is empty or holds `#`", d.table));
        }
        for (j, f) in d.fields.iter().enumerate() {
            if d.fields[..j].iter().any(|g| g.name == f.name) {
                return bad(format!("field `{}` appears twice", f.name));
            }
        }
        if d.primary_key.is_empty() || d.primary_key.iter().any(|k| d.field(k).is_none_or(|f| f.kind != FieldKind::Key))
        {
            return bad("the primary key does not name key fields".into());
        }
        for i in d.indexes.iter() {
            if i.fields.is_empty() || i.fields.iter().any(|f| d.field(f).is_none_or(|f| f.kind == FieldKind::Relation))
            {
                return bad(format!("index `{}` does not name stored fields", i.name));
            }
        }
        for r in d.relations.iter().filter(|r| r.kind == drift_core::RelationKind::BelongsTo) {
            let parent = schemas.iter().find(|p| p.name == r.target);
            if r.key.iter().any(|k| d.field(k).is_none()) || parent.is_some_and(|p| p.primary_key.len() != r.key.len())
            {
                return bad(format!("relation `{}` has a key that does not match its parent's", r.name));
            }
        }
        for f in d.fields.iter().filter(|f| f.kind != FieldKind::Relation) {
            if f.shape.get().is_none_or(|s| s.is_opaque()) {
                return Err(Fail::new(format!(
                    "{}: field `{}` of {} has no described shape, so its values cannot be read",
                    input.display(),
                    f.name,
                    d.name
                )));
            }
        }
    }
    Ok(())
}

/// A row's key fields, for messages: `3` or `(1, 2)`.
fn key_of(desc: &EntityDescriptor, row: &Row) -> String {
    let parts: Vec<String> =
        desc.primary_key.iter().map(|k| row.get(k).map_or_else(|| "?".into(), ToString::to_string)).collect();
    if parts.len() == 1 { parts.concat() } else { format!("({})", parts.join(", ")) }
}

/// What the rows of one entity left: the largest auto_increment key.
#[derive(Default)]
struct Seen {
    max_key: u64,
    rows: u64,
}

/// Writes one row and its index entries.
fn put_row(w: &mut RawWrite, desc: &EntityDescriptor, row: &Row, seen: &mut Seen) -> Result<(), String> {
    let (key, bytes) = row.encode(desc).map_err(|e| e.to_string())?;
    let rendered = key_of(desc, row);
    if key.len() > MAX_KEY_LEN {
        return Err(format!("key {rendered} is {} bytes encoded, over the limit of {MAX_KEY_LEN}", key.len()));
    }
    if bytes.len() > MAX_ROW_LEN {
        return Err(format!("row {rendered} is {} bytes encoded, over the limit of {MAX_ROW_LEN}", bytes.len()));
    }
    if w.put(&desc.table, &key, &bytes).map_err(|e| e.to_string())? {
        return Err(format!("a second {} with key {rendered}", desc.name));
    }
    // Index entries from the row as stored, so they match what `check` computes.
    let stored = Row::decode(desc, &key, &bytes).map_err(|e| e.to_string())?;
    for index in desc.indexes.iter() {
        let table = index_table(&desc.table, &index.name);
        let Some((entry, value)) = drift_core::check::index_entry(desc, index, &stored, &key)? else { continue };
        // The limit an insert applies: on the index values, not the key after them.
        let values = if index.unique { entry.len() } else { entry.len() - key.len() };
        if values > MAX_KEY_LEN {
            return Err(format!(
                "{} with key {rendered}: the values of index `{}` are {values} bytes encoded, over the limit of \
                 {MAX_KEY_LEN}",
                desc.name, index.name
            ));
        }
        if index.unique && w.get(&table, &entry).map_err(|e| e.to_string())?.is_some() {
            return Err(format!(
                "{} with key {rendered}: unique index `{}` already holds its value for an earlier row",
                desc.name, index.name
            ));
        }
        w.put(&table, &entry, &value).map_err(|e| e.to_string())?;
    }
    if desc.auto_increment {
        if let Ok(k) = <[u8; 8]>::try_from(key.as_slice()) {
            seen.max_key = seen.max_key.max(u64::from_be_bytes(k));
        }
    }
    seen.rows += 1;
    Ok(())
}

/// Creates `table` empty when it does not exist yet, so a copy has every table the
/// original has (a raw write creates a table on its first entry).
pub fn ensure_table(w: &mut RawWrite, table: &str) -> drift_core::Result<()> {
    if !w.has_table(table) {
        w.put(table, &[], &[])?;
        w.remove(table, &[])?;
    }
    Ok(())
}

/// `drift import FILE --input IN`.
pub fn run(path: &Path, input: &Path, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    check_target(path)?;
    let file = std::fs::File::open(input).map_err(|e| Fail::new(format!("cannot read {}: {e}", input.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut lines = std::io::BufReader::new(file);
    let at = |n: usize| format!("{}:{n}", input.display());
    let mut text = String::new();
    let read_line = |lines: &mut std::io::BufReader<std::fs::File>, text: &mut String, n: usize| {
        text.clear();
        lines.read_line(text).map_err(|e| Fail::new(format!("{}: cannot read: {e}", at(n))))
    };
    if read_line(&mut lines, &mut text, 1)? == 0 {
        return Err(Fail::new(format!("{} is empty: expected a `drift export` header", input.display())));
    }
    let header: Header =
        serde_json::from_str(&text).map_err(|e| Fail::new(format!("{}: not a `drift export` header: {e}", at(1))))?;
    if header.drift_export != 1 {
        return Err(Fail::new(format!(
            "{}: export format {} is not supported (this drift reads format 1)",
            at(1),
            header.drift_export
        )));
    }
    check_schemas(&header.schemas, input)?;

    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "drift".into(), |n| n.to_string_lossy().into_owned());
    let tmp_path = dir.join(format!(".{name}.import-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp_path);
    let mut temp = Temp(Some(tmp_path.clone()));
    let wanted: Vec<String> = header
        .schemas
        .iter()
        .flat_map(|d| {
            std::iter::once(d.table.to_string()).chain(d.indexes.iter().map(|i| index_table(&d.table, &i.name)))
        })
        .collect();
    let mut w = drift_core::raw::open_write(&tmp_path, &wanted).map_err(|e| fail::db(&tmp_path, e))?;
    let werr = |e| fail::db(&tmp_path, e);
    w.mark_format().map_err(werr)?;
    for d in &header.schemas {
        w.put_schema(d).map_err(werr)?;
    }
    for t in &wanted {
        ensure_table(&mut w, t).map_err(werr)?;
    }
    let mut seen: Vec<Seen> = header.schemas.iter().map(|_| Seen::default()).collect();
    let bar = crate::progress::bar(size, "importing", "bytes");
    let mut n = 1;
    let mut end: Option<std::collections::BTreeMap<String, u64>> = None;
    loop {
        n += 1;
        let len = read_line(&mut lines, &mut text, n)?;
        if len == 0 {
            break;
        }
        bar.inc(len as u64);
        if text.trim().is_empty() {
            continue;
        }
        if end.is_some() {
            return Err(Fail::new(format!("{}: a line after the export's last line", at(n))));
        }
        if text.trim_start().starts_with("{\"drift_export_end\"") {
            let e: End = serde_json::from_str(&text)
                .map_err(|e| Fail::new(format!("{}: not an export's last line: {e}", at(n))))?;
            end = Some(e.drift_export_end.rows);
            continue;
        }
        let line: Line<'_> =
            serde_json::from_str(&text).map_err(|e| Fail::new(format!("{}: not a row line: {e}", at(n))))?;
        let Some(i) = header.schemas.iter().position(|d| d.name == line.entity) else {
            return Err(Fail::new(format!("{}: entity `{}` is not in the header", at(n), line.entity)));
        };
        let desc = &header.schemas[i];
        let row = RowSeed(desc)
            .deserialize(&mut serde_json::Deserializer::from_str(line.row.get()))
            .map_err(|e| Fail::new(format!("{}: {}: {e}", at(n), desc.name)))?;
        put_row(&mut w, desc, &row, &mut seen[i]).map_err(|e| Fail::new(format!("{}: {}: {e}", at(n), desc.name)))?;
    }
    bar.finish_and_clear();
    let Some(expected) = end else {
        return Err(Fail::new(format!(
            "{} ends without the export's last line (`drift_export_end`): it is cut short",
            input.display()
        )));
    };
    for (d, s) in header.schemas.iter().zip(&seen) {
        let want = expected.get(&*d.name).copied().unwrap_or(0);
        if want != s.rows {
            return Err(Fail::new(format!(
                "{}: the export holds {} rows of {} but {want} were exported: lines are missing or added",
                input.display(),
                s.rows,
                d.name
            )));
        }
    }
    for (d, s) in header.schemas.iter().zip(&seen).filter(|(d, _)| d.auto_increment) {
        let mark = header.sequences.get(&*d.table).copied().unwrap_or(0).max(s.max_key);
        w.set_sequence(&d.table, mark).map_err(werr)?;
    }
    for record in &header.history {
        // A record `drift history` could not read is refused here.
        drift_migrate::parse_history(&[record.get().as_bytes().to_vec()])
            .map_err(|e| Fail::new(format!("the header's migration records: {e}")))?;
        w.push_history(record.get().as_bytes()).map_err(werr)?;
    }
    w.commit().map_err(werr)?;

    let raw = open::read(&tmp_path)?;
    let report = crate::check::check_raw(&raw, path)?;
    drop(raw);
    if !report.is_ok() {
        crate::check::print(&report, path, false, out)?;
        eprintln!("drift: the imported rows have the problems listed; {} was left as it was.", path.display());
        return Ok(ExitCode::from(fail::PROBLEMS));
    }
    std::fs::rename(&tmp_path, path)
        .map_err(|e| Fail::new(format!("cannot move the imported file to {}: {e}", path.display())))?;
    temp.0 = None;
    let rows: u64 = seen.iter().map(|s| s.rows).sum();
    writeln!(
        out,
        "imported {} of {} into {}; check: no problems (validation rules are the application's: not run)",
        crate::table::count(rows, "row"),
        crate::table::count(header.schemas.len() as u64, "entity"),
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
