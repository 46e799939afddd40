//! `drift inspect`: what a file holds, from its stored descriptors.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_core::raw::{RawRead, index_table};
use drift_core::{EntityDescriptor, FieldKind, OnDelete, RelationKind};
use serde::Serialize;

use crate::fail::{self, Fail};
use crate::open::{self, META_TABLE};
use crate::table::{self, Table};

/// A file, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// The file's path, as given.
    pub file: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// The format marker (`drift-kv/1`), `null` when the file has none.
    pub format: Option<String>,
    /// The stored entities, in table order.
    pub entities: Vec<EntityInfo>,
    /// Tables that belong to no stored entity (not the meta table).
    pub other_tables: Vec<TableInfo>,
    /// Migrations applied to the file.
    pub migrations: usize,
}

/// One stored entity.
#[derive(Debug, Serialize)]
pub struct EntityInfo {
    pub name: String,
    pub table: String,
    pub version: u32,
    pub rows: u64,
    pub key: Vec<String>,
    pub auto_increment: bool,
    /// The auto_increment mark: the largest key handed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Bytes the row table takes (rows and the engine's structures).
    pub bytes: u64,
    pub fields: Vec<FieldInfo>,
    pub indexes: Vec<IndexInfo>,
    pub relations: Vec<RelationInfo>,
}

/// One field.
#[derive(Debug, Serialize)]
pub struct FieldInfo {
    pub name: String,
    /// The Rust type as written.
    #[serde(rename = "type")]
    pub ty: String,
    /// `key`, `data` or `relation`.
    pub stored: &'static str,
    pub optional: bool,
    /// The wire shape, `null` when the descriptor records none.
    pub shape: Option<String>,
}

/// One index.
#[derive(Debug, Serialize)]
pub struct IndexInfo {
    pub name: String,
    pub fields: Vec<String>,
    pub unique: bool,
    pub entries: u64,
    /// Bytes the index table takes (entries and the engine's structures).
    pub bytes: u64,
}

/// One relation.
#[derive(Debug, Serialize)]
pub struct RelationInfo {
    pub name: String,
    pub kind: &'static str,
    pub target: String,
    pub key: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// For `belongs_to`: `restrict`, `cascade` or `set_null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<&'static str>,
}

/// A table of no entity.
#[derive(Debug, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub entries: u64,
}

pub fn relation_kind(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::BelongsTo => "belongs_to",
        RelationKind::HasMany => "has_many",
        RelationKind::HasOne => "has_one",
        RelationKind::ManyToMany => "many_to_many",
        _ => "relation",
    }
}

fn on_delete(rule: OnDelete) -> &'static str {
    match rule {
        OnDelete::Restrict => "restrict",
        OnDelete::Cascade => "cascade",
        OnDelete::SetNull => "set_null",
        _ => "other",
    }
}

fn field_kind(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Key => "key",
        FieldKind::Data => "data",
        FieldKind::Relation => "relation",
        _ => "other",
    }
}

/// Bytes table `t` takes: entries and the engine's own structures (0 when unknown).
fn bytes(raw: &RawRead, t: &str, path: &Path) -> Result<u64, Fail> {
    let sizes = raw.sizes(t).map_err(|e| fail::db(path, e))?;
    Ok(sizes.map_or(0, |s| s.stored + s.metadata))
}

fn entity_info(raw: &RawRead, d: &EntityDescriptor, path: &Path) -> Result<EntityInfo, Fail> {
    let err = |e| fail::db(path, e);
    let mut indexes = Vec::new();
    for i in d.indexes.iter() {
        indexes.push(IndexInfo {
            name: i.name.to_string(),
            fields: i.fields.iter().map(ToString::to_string).collect(),
            unique: i.unique,
            entries: raw.count(&index_table(&d.table, &i.name)).map_err(err)?,
            bytes: bytes(raw, &index_table(&d.table, &i.name), path)?,
        });
    }
    Ok(EntityInfo {
        name: d.name.to_string(),
        table: d.table.to_string(),
        version: d.version,
        rows: raw.count(&d.table).map_err(err)?,
        key: d.primary_key.iter().map(ToString::to_string).collect(),
        auto_increment: d.auto_increment,
        sequence: if d.auto_increment { Some(raw.sequence(&d.table).map_err(err)?) } else { None },
        bytes: bytes(raw, &d.table, path)?,
        fields: d
            .fields
            .iter()
            .map(|f| FieldInfo {
                name: f.name.to_string(),
                ty: f.ty.to_string(),
                stored: field_kind(f.kind),
                optional: f.optional,
                shape: if f.kind == FieldKind::Relation { None } else { f.shape.get().map(|s| s.to_string()) },
            })
            .collect(),
        indexes,
        relations: d
            .relations
            .iter()
            .map(|r| RelationInfo {
                name: r.name.to_string(),
                kind: relation_kind(r.kind),
                target: r.target.to_string(),
                key: r.key.iter().map(ToString::to_string).collect(),
                through: r.through.as_ref().map(ToString::to_string),
                on_delete: (r.kind == RelationKind::BelongsTo).then(|| on_delete(r.on_delete)),
            })
            .collect(),
    })
}

/// Reads what `inspect` shows.
///
/// # Errors
/// When the file cannot be read.
pub fn inspect(path: &Path) -> Result<Inspection, Fail> {
    let raw = open::read(path)?;
    let err = |e| fail::db(path, e);
    let stored = raw.stored_schemas().map_err(err)?;
    let mut entities = Vec::new();
    for d in &stored {
        entities.push(entity_info(&raw, d, path)?);
    }
    let owned = |t: &str| {
        t == META_TABLE
            || stored.iter().any(|d| d.table == t || d.indexes.iter().any(|i| index_table(&d.table, &i.name) == t))
    };
    let mut other_tables = Vec::new();
    for t in raw.table_names().iter().filter(|t| !owned(t)) {
        other_tables.push(TableInfo { name: t.clone(), entries: raw.count(t).map_err(err)? });
    }
    Ok(Inspection {
        file: path.display().to_string(),
        size_bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        format: open::format_marker(&raw, path)?,
        entities,
        other_tables,
        migrations: raw.history().map_err(err)?.len(),
    })
}

fn yes(b: bool) -> String {
    if b { "yes".into() } else { "no".into() }
}

/// Writes `i` for people.
fn write_human(i: &Inspection, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "file        {} ({} bytes)", i.file, i.size_bytes)?;
    writeln!(out, "format      {}", i.format.as_deref().unwrap_or("none (no Drift metadata yet)"))?;
    writeln!(out, "entities    {}", i.entities.len())?;
    writeln!(out, "migrations  {} applied", i.migrations)?;
    for e in &i.entities {
        writeln!(out)?;
        let key = if e.auto_increment {
            format!("{} (auto_increment, last handed out {})", e.key.join(", "), e.sequence.unwrap_or(0))
        } else {
            e.key.join(", ")
        };
        writeln!(
            out,
            "{} (table `{}`, version {}): {} in {} bytes, key {}",
            e.name,
            e.table,
            e.version,
            table::count(e.rows, "row"),
            e.bytes,
            key
        )?;
        let mut fields = Table::new(&["field", "type", "stored", "shape"]);
        for f in &e.fields {
            fields.row(vec![f.name.clone(), f.ty.clone(), f.stored.to_string(), f.shape.clone().unwrap_or_default()]);
        }
        fields.write(out, "  ")?;
        if !e.indexes.is_empty() {
            let mut t = Table::new(&["index", "fields", "unique", "entries", "bytes"]);
            for x in &e.indexes {
                t.row(vec![
                    x.name.clone(),
                    x.fields.join(", "),
                    yes(x.unique),
                    x.entries.to_string(),
                    x.bytes.to_string(),
                ]);
            }
            t.write(out, "  ")?;
        }
        if !e.relations.is_empty() {
            let mut t = Table::new(&["relation", "kind", "target", "key", "on_delete"]);
            for r in &e.relations {
                let key = match &r.through {
                    Some(through) => format!("through {through}"),
                    None => r.key.join(", "),
                };
                t.row(vec![
                    r.name.clone(),
                    r.kind.to_string(),
                    r.target.clone(),
                    key,
                    r.on_delete.unwrap_or("").to_string(),
                ]);
            }
            t.write(out, "  ")?;
        }
    }
    if !i.other_tables.is_empty() {
        writeln!(out)?;
        let mut t = Table::new(&["other table", "entries"]);
        for x in &i.other_tables {
            t.row(vec![x.name.clone(), x.entries.to_string()]);
        }
        t.write(out, "")?;
    }
    Ok(())
}

/// `drift inspect FILE [--json]`.
pub fn run(path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    let i = inspect(path)?;
    if json {
        crate::print_json(out, &i)?;
    } else {
        write_human(&i, out)?;
    }
    Ok(ExitCode::SUCCESS)
}
