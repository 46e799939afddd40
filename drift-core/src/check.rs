//! [`check`]: a file verified from its stored descriptors alone (no struct needed):
//! every row decodes, every index entry matches a row and every row has its entries,
//! unique values are unique, no foreign key dangles, auto_increment marks are ahead
//! of their keys. Tables are read in chunks: memory does not grow with the file.

use std::fmt;

use crate::dynamic::{Row, Value, decode_key_value, encode_key_value};
use crate::error::Result;
use crate::message::{hex, shorten};
use crate::raw::{CompiledEntity, Entries, RawRead, index_table};
use crate::schema::{EntityDescriptor, FieldKind, IndexDescriptor, RelationKind};

/// Rows read per chunk.
const CHUNK: usize = 512;
/// Problems listed at most; the count goes on past it.
const MAX_LISTED: usize = 10_000;

/// What kind of problem [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A stored descriptor cannot be used to read its rows (no shape for a field).
    Unreadable,
    /// A row does not decode through its stored descriptor.
    Undecodable,
    /// A row has no entry in an index.
    MissingIndexEntry,
    /// An index entry points at no row, or at a row with other values.
    StaleIndexEntry,
    /// Two rows share a value of a unique index.
    DuplicateUnique,
    /// A foreign key points at no row of its parent.
    DanglingForeignKey,
    /// An auto_increment mark is below the largest key.
    SequenceBehind,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::Unreadable => "unreadable descriptor",
            ProblemKind::Undecodable => "undecodable row",
            ProblemKind::MissingIndexEntry => "missing index entry",
            ProblemKind::StaleIndexEntry => "stale index entry",
            ProblemKind::DuplicateUnique => "duplicate unique value",
            ProblemKind::DanglingForeignKey => "dangling foreign key",
            ProblemKind::SequenceBehind => "auto_increment mark behind the keys",
        })
    }
}

/// One problem: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The entity.
    pub entity: String,
    /// The index, for index problems.
    pub index: Option<String>,
    /// The relation, for a dangling key.
    pub relation: Option<String>,
    /// The row's key, rendered (hex when it does not decode).
    pub key: Option<String>,
    /// What is wrong, in words.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.entity, self.kind)?;
        if let Some(i) = &self.index {
            write!(f, " in index `{i}`")?;
        }
        if let Some(r) = &self.relation {
            write!(f, " of relation `{r}`")?;
        }
        if let Some(k) = &self.key {
            write!(f, " at key {k}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// What [`check`] read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Entities checked.
    pub entities: u64,
    /// Rows read.
    pub rows: u64,
    /// Index entries read.
    pub index_entries: u64,
    /// The problems, at most 10,000 listed.
    pub problems: Vec<Problem>,
    /// Problems found in all (more than listed when over the limit).
    pub problem_count: u64,
    /// Entities whose rows could not be read: a field type without a stored shape,
    /// and the entity not compiled into the checking program.
    pub unchecked: Vec<String>,
}

impl CheckReport {
    /// Whether the file is sound.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn push(&mut self, p: Problem) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} entities, {} rows, {} index entries: {}",
            self.entities,
            self.rows,
            self.index_entries,
            if self.is_ok() { "no problems".to_string() } else { format!("{} problem(s)", self.problem_count) }
        )?;
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        if self.problem_count > self.problems.len() as u64 {
            writeln!(f, "  and {} more", self.problem_count - self.problems.len() as u64)?;
        }
        if !self.unchecked.is_empty() {
            writeln!(
                f,
                "  not checked (a field type has no stored shape; check from a program that compiles it): {}",
                self.unchecked.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A key rendered from its values, or hex when it does not decode.
fn render_key(desc: &EntityDescriptor, key: &[u8]) -> String {
    let mut input = key;
    let mut parts = Vec::new();
    for name in desc.primary_key.iter() {
        let Some(shape) = desc.field(name).and_then(|f| f.shape.get()) else { return hex(key) };
        match decode_key_value(&shape, &mut input) {
            Ok(v) => parts.push(v.to_string()),
            Err(_) => return hex(key),
        }
    }
    if !input.is_empty() {
        return hex(key);
    }
    shorten(if parts.len() == 1 { parts.remove(0) } else { format!("({})", parts.join(", ")) })
}

/// An index entry: its key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The entry of index `index` for a decoded row: `None` when the row has none (a
/// `None` in an `Option` field of a unique index).
///
/// # Errors
/// When a value cannot be encoded as a key.
pub fn index_entry(
    desc: &EntityDescriptor,
    index: &IndexDescriptor,
    row: &Row,
    key: &[u8],
) -> std::result::Result<Option<Entry>, String> {
    let mut entry = Vec::new();
    for name in index.fields.iter() {
        let field = desc.field(name).ok_or_else(|| format!("index field `{name}` is not a field"))?;
        let shape = field.shape.get().ok_or_else(|| format!("field `{name}` has no shape"))?;
        let value = row.get(name).ok_or_else(|| format!("the row has no field `{name}`"))?;
        if index.unique && field.optional && matches!(value, Value::Option(None)) {
            return Ok(None);
        }
        encode_key_value(&shape, value, &mut entry).map_err(|e| format!("field `{name}`: {e}"))?;
    }
    Ok(Some(if index.unique {
        (entry, key.to_vec())
    } else {
        entry.extend_from_slice(key);
        (entry, Vec::new())
    }))
}

/// The primary key an index entry points at: the value of a unique one, what
/// follows the index values in another.
fn entry_key(desc: &EntityDescriptor, index: &IndexDescriptor, entry: &[u8], value: &[u8]) -> Option<Vec<u8>> {
    if index.unique {
        return Some(value.to_vec());
    }
    let mut input = entry;
    for name in index.fields.iter() {
        let shape = desc.field(name)?.shape.get()?;
        decode_key_value(&shape, &mut input).ok()?;
    }
    Some(input.to_vec())
}

/// The encoded parent key a `belongs_to` holds, `None` when its key is `None`.
fn parent_key(
    child: &EntityDescriptor,
    key_fields: &[crate::schema::Text],
    parent: &EntityDescriptor,
    row: &Row,
) -> std::result::Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    for (name, pk) in key_fields.iter().zip(parent.primary_key.iter()) {
        let value = row.get(name).ok_or_else(|| format!("the row has no field `{name}`"))?;
        let value = match value {
            Value::Option(None) => return Ok(None),
            Value::Option(Some(v)) if child.is_optional(name) => &**v,
            v => v,
        };
        let shape = parent.field(pk).and_then(|f| f.shape.get()).ok_or_else(|| format!("`{pk}` has no shape"))?;
        let fitted = value.clone().fit(&shape).map_err(|e| format!("field `{name}`: {e}"))?;
        encode_key_value(&shape, &fitted, &mut out).map_err(|e| format!("field `{name}`: {e}"))?;
    }
    Ok(Some(out))
}

/// Checks every entity stored in the file that `raw` reads, from the stored
/// descriptors alone. An entity with a field whose type has no stored shape cannot
/// be read without its struct: it is listed in [`CheckReport::unchecked`].
///
/// # Errors
/// [`Error::Storage`](crate::Error::Storage) when the store fails,
/// [`Error::NotADatabase`](crate::Error::NotADatabase) when a stored descriptor
/// cannot be read. What is wrong with the data is in the report, not an error.
pub fn check(raw: &RawRead) -> Result<CheckReport> {
    check_with(raw, &[])
}

/// As [`check`], reading the rows of the `compiled` entities whose stored
/// descriptor matches through their structs (so fields without a shape are checked
/// too).
///
/// # Errors
/// As [`check`].
pub fn check_with(raw: &RawRead, compiled: &[CompiledEntity]) -> Result<CheckReport> {
    let stored = raw.stored_schemas()?;
    let mut report = CheckReport::default();
    for desc in &stored {
        report.entities += 1;
        check_entity(raw, desc, &stored, compiled, &mut report)?;
    }
    Ok(report)
}

fn problem(kind: ProblemKind, desc: &EntityDescriptor, key: Option<String>, detail: impl Into<String>) -> Problem {
    Problem { kind, entity: desc.name.to_string(), index: None, relation: None, key, detail: detail.into() }
}

/// How the rows of one entity are read.
enum Reader<'a> {
    /// Through the stored shapes.
    Dynamic,
    /// Through the compiled struct.
    Typed(&'a CompiledEntity),
}

impl Reader<'_> {
    /// The row's index entries (index position, entry, value), or why it does not
    /// decode.
    fn entries(
        &self,
        desc: &EntityDescriptor,
        key: &[u8],
        bytes: &[u8],
    ) -> std::result::Result<Vec<(usize, Entry)>, String> {
        match self {
            Reader::Typed(c) => {
                let mut out = Vec::new();
                c.index_entries(key, bytes, &mut out).map_err(|e| e.to_string())?;
                Ok(out.into_iter().map(|(i, e, v)| (i, (e, v))).collect())
            }
            Reader::Dynamic => {
                let row = Row::decode(desc, key, bytes).map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                for (i, index) in desc.indexes.iter().enumerate() {
                    if let Some(e) = index_entry(desc, index, &row, key)? {
                        out.push((i, e));
                    }
                }
                Ok(out)
            }
        }
    }

    /// The encoded parent keys of each `belongs_to` relation `rels` of a row (`None`
    /// for a `None` key), as candidates per parent of the relation's target name.
    fn parent_key(
        &self,
        desc: &EntityDescriptor,
        rel: usize,
        parent: &EntityDescriptor,
        key: &[u8],
        bytes: &[u8],
    ) -> std::result::Result<Option<Vec<u8>>, String> {
        match self {
            Reader::Typed(c) => c.belongs_to_key(key, bytes, rel).map_err(|e| e.to_string()),
            Reader::Dynamic => {
                let row = Row::decode(desc, key, bytes).map_err(|e| e.to_string())?;
                parent_key(desc, &desc.relations[rel].key, parent, &row)
            }
        }
    }
}

fn check_entity(
    raw: &RawRead,
    desc: &EntityDescriptor,
    stored: &[EntityDescriptor],
    compiled: &[CompiledEntity],
    report: &mut CheckReport,
) -> Result<()> {
    let unshaped =
        desc.fields.iter().any(|f| f.kind != FieldKind::Relation && f.shape.get().is_none_or(|s| s.is_opaque()));
    let typed = compiled
        .iter()
        .find(|c| c.schema.table == desc.table && c.schema.name == desc.name && c.schema.differences(desc).is_empty());
    let reader = match (unshaped, typed) {
        (false, _) => Reader::Dynamic,
        (true, Some(c)) => Reader::Typed(c),
        (true, None) => {
            report.unchecked.push(desc.name.to_string());
            return Ok(());
        }
    };
    // Each relation's parents: every stored entity of the target's name (several
    // entities may share one); a key is sound when one of them holds it.
    let parents: Vec<(usize, Vec<&EntityDescriptor>)> = desc
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| r.kind == RelationKind::BelongsTo)
        .map(|(i, r)| (i, stored.iter().filter(|s| s.name == r.target).collect()))
        .collect();
    // Unique entries missing from their index, to find duplicates among them.
    let mut missing_unique: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut chunk: Entries = Vec::with_capacity(CHUNK);
    let mut last: Option<Vec<u8>> = None;
    let mut max_key: Option<u64> = None;
    loop {
        raw.chunk(&desc.table, last.as_deref(), CHUNK, &mut chunk)?;
        let Some((k, _)) = chunk.last() else { break };
        last = Some(k.clone());
        for (key, bytes) in &chunk {
            report.rows += 1;
            if desc.auto_increment {
                if let Ok(k) = <[u8; 8]>::try_from(key.as_slice()) {
                    max_key = Some(u64::from_be_bytes(k));
                }
            }
            let rendered = render_key(desc, key);
            let entries = match reader.entries(desc, key, bytes) {
                Ok(entries) => entries,
                Err(e) => {
                    report.push(problem(ProblemKind::Undecodable, desc, Some(rendered), e));
                    continue;
                }
            };
            for (i, (entry, value)) in entries {
                let index = &desc.indexes[i];
                let table = index_table(&desc.table, &index.name);
                let p = |kind, detail: String| {
                    let mut p = problem(kind, desc, Some(rendered.clone()), detail);
                    p.index = Some(index.name.to_string());
                    p
                };
                match raw.get(&table, &entry)? {
                    None => {
                        report.push(p(ProblemKind::MissingIndexEntry, "the row has no entry".into()));
                        if index.unique && missing_unique.len() < MAX_LISTED {
                            missing_unique.push((i, entry, key.clone()));
                        }
                    }
                    Some(v) if v != value => {
                        let other = render_key(desc, &v);
                        report.push(p(
                            ProblemKind::DuplicateUnique,
                            format!("the row's value is held by the entry of key {other}"),
                        ));
                    }
                    Some(_) => {}
                }
            }
            for (ri, candidates) in &parents {
                let rel = &desc.relations[*ri];
                let p = |detail: String| {
                    let mut p = problem(ProblemKind::DanglingForeignKey, desc, Some(rendered.clone()), detail);
                    p.relation = Some(rel.name.to_string());
                    p
                };
                if candidates.is_empty() {
                    report.push(p(format!("the file holds no entity `{}`", rel.target)));
                    continue;
                }
                let mut missing = None;
                for parent in candidates {
                    match reader.parent_key(desc, *ri, parent, key, bytes) {
                        Err(e) => missing = Some(e),
                        Ok(None) => {
                            missing = None;
                            break;
                        }
                        Ok(Some(pk)) => {
                            if raw.get(&parent.table, &pk)?.is_some() {
                                missing = None;
                                break;
                            }
                            missing = Some(format!("no {} has key {}", parent.name, render_key(parent, &pk)));
                        }
                    }
                }
                if let Some(detail) = missing {
                    report.push(p(detail));
                }
            }
        }
    }
    // Rows sharing a unique value whose entries are all missing.
    missing_unique.sort();
    for pair in missing_unique.windows(2) {
        let ((i, a, ka), (j, b, kb)) = (&pair[0], &pair[1]);
        if i == j && a == b {
            let mut p = problem(
                ProblemKind::DuplicateUnique,
                desc,
                Some(render_key(desc, kb)),
                format!("the row shares its value with key {}", render_key(desc, ka)),
            );
            p.index = Some(desc.indexes[*i].name.to_string());
            report.push(p);
        }
    }
    if let Some(max) = max_key {
        let mark = raw.sequence(&desc.table)?;
        if mark < max {
            report.push(problem(
                ProblemKind::SequenceBehind,
                desc,
                None,
                format!("the mark is {mark}, the largest key {max}: a key could be handed out twice"),
            ));
        }
    }
    for (i, index) in desc.indexes.iter().enumerate() {
        check_index(raw, desc, i, index, &reader, report)?;
    }
    Ok(())
}

/// Every entry of `index` points at a row whose entry it is.
fn check_index(
    raw: &RawRead,
    desc: &EntityDescriptor,
    position: usize,
    index: &IndexDescriptor,
    reader: &Reader<'_>,
    report: &mut CheckReport,
) -> Result<()> {
    let table = index_table(&desc.table, &index.name);
    let mut chunk: Entries = Vec::with_capacity(CHUNK);
    let mut last: Option<Vec<u8>> = None;
    loop {
        raw.chunk(&table, last.as_deref(), CHUNK, &mut chunk)?;
        let Some((k, _)) = chunk.last() else { break };
        last = Some(k.clone());
        for (entry, value) in &chunk {
            report.index_entries += 1;
            let stale = |detail: String, key: Option<String>| {
                let mut p = problem(ProblemKind::StaleIndexEntry, desc, key, detail);
                p.index = Some(index.name.to_string());
                p
            };
            let Some(key) = entry_key(desc, index, entry, value) else {
                report.push(stale(format!("entry {} does not decode", hex(entry)), None));
                continue;
            };
            let rendered = render_key(desc, &key);
            let Some(bytes) = raw.get(&desc.table, &key)? else {
                report.push(stale("the entry points at no row".into(), Some(rendered)));
                continue;
            };
            // An undecodable row is reported with the rows.
            let Ok(entries) = reader.entries(desc, &key, &bytes) else { continue };
            if !entries.iter().any(|(i, (e, _))| *i == position && e == entry) {
                report.push(stale("the row's values differ from the entry's".into(), Some(rendered)));
            }
        }
    }
    Ok(())
}
