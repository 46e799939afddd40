//! [`Migrations`]: the steps a project writes, and applying them on open in one write
//! transaction, rows streamed in key order.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use drift_core::dynamic::{Row, RowError};
use drift_core::raw::{CompiledEntity, Entries, Migrator, RawWrite};
use drift_core::{DbBuilder, Entity, EntityDescriptor, Error, MAX_KEY_LEN, Result};

use crate::history::SchemaHistory;
use crate::plan::{self, EntityWork, Plan};

/// An error a transform returns: anything that converts into a boxed error
/// (`RowError` from a [`Row`] getter, `drift::Error`, a `String`, ...).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) type RowFn = Arc<dyn Fn(Row) -> std::result::Result<Row, BoxError> + Send + Sync>;

/// Stored key and row bytes to the new key and row bytes.
type TypedRowFn = dyn Fn(&[u8], &[u8]) -> std::result::Result<(Vec<u8>, Vec<u8>), BoxError> + Send + Sync;
type ProgressFn = dyn Fn(&Progress) + Send + Sync;

/// A typed transform: reads a stored row as the old struct, returns the new row.
#[derive(Clone)]
pub(crate) struct TypedFn {
    pub(crate) from: &'static EntityDescriptor,
    pub(crate) f: Arc<TypedRowFn>,
}

struct Transform {
    entity: String,
    to_version: u32,
    f: RowFn,
}

/// Where a migration is: reported to [`Migrations::on_progress`] after each chunk
/// of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The step, in words (`"Post v1 -> v2"`, `"check relation `author`"`).
    pub step: String,
    /// The entity.
    pub entity: String,
    /// Rows done so far in this step.
    pub rows_done: u64,
    /// Rows in all.
    pub rows_total: u64,
}

/// The record of a migration applied to a file, stored in it (see [`applied`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedMigration {
    /// When it committed, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The steps applied.
    pub steps: Vec<AppliedStep>,
    /// Entities dropped with their rows.
    pub dropped: Vec<String>,
}

/// One applied step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedStep {
    /// The entity.
    pub entity: String,
    /// The version its rows were at.
    pub from_version: u32,
    /// The version they went to.
    pub to_version: u32,
    /// The changes, in words.
    pub changes: Vec<String>,
    /// Rows migrated.
    pub rows: u64,
}

/// The migrations applied to the file behind `db`, oldest first.
///
/// # Errors
/// [`Error::Storage`] when the store fails, [`Error::Migration`] when a record
/// cannot be read.
pub fn applied(db: &drift_core::Db) -> Result<Vec<AppliedMigration>> {
    parse_history(&db.raw_read()?.history()?)
}

/// The records of applied migrations as a file stores them (`RawRead::history`),
/// parsed, oldest first.
///
/// # Errors
/// [`Error::Migration`] when a record cannot be read.
pub fn parse_history(records: &[Vec<u8>]) -> Result<Vec<AppliedMigration>> {
    records
        .iter()
        .map(|r| {
            serde_json::from_slice(r).map_err(|e| Error::Migration {
                step: "history".into(),
                entity: String::new(),
                key: None,
                field: None,
                reason: format!("a stored migration record is unreadable: {e}"),
            })
        })
        .collect()
}

/// The migrations of a project, given to `Db::builder().migrations(..)`: the
/// schema history, a transform for each step that needs one, and the data the
/// project agrees to drop. Changes that need nothing (a new entity, a rename, an
/// added `Option` or defaulted field, an index) are applied without being listed.
#[derive(Default, Clone)]
pub struct Migrations {
    pub(crate) history: SchemaHistory,
    transforms: Vec<Arc<Transform>>,
    typed: Vec<(String, TypedFn)>,
    dropped_fields: Vec<(String, String)>,
    dropped_entities: Vec<String>,
    progress: Option<Arc<ProgressFn>>,
}

impl std::fmt::Debug for Migrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrations")
            .field("history", &self.history.entities.keys().collect::<Vec<_>>())
            .field("transforms", &self.transforms.iter().map(|t| (&t.entity, t.to_version)).collect::<Vec<_>>())
            .field("dropped_fields", &self.dropped_fields)
            .field("dropped_entities", &self.dropped_entities)
            .finish_non_exhaustive()
    }
}

impl Migrations {
    /// No steps yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Chains through the versions recorded in `history` (see [`SchemaHistory`]).
    #[must_use]
    pub fn history(mut self, history: SchemaHistory) -> Self {
        self.history = history;
        self
    }

    /// Loads the history file at `path` and chains through it.
    ///
    /// # Errors
    /// [`Error::Migration`] when the file cannot be read.
    pub fn history_file(self, path: impl AsRef<Path>) -> Result<Self> {
        Ok(self.history(SchemaHistory::load(path)?))
    }

    /// The transform of the step of `entity` to version `to_version`: a function of
    /// the row at the version before (a dynamic [`Row`] of that version, renamed
    /// fields already renamed) returning the row at `to_version`. Fields the new
    /// version adds with a default or as an `Option` may be left out.
    #[must_use]
    pub fn transform(
        mut self,
        entity: &str,
        to_version: u32,
        f: impl Fn(Row) -> std::result::Result<Row, BoxError> + Send + Sync + 'static,
    ) -> Self {
        self.transforms.push(Arc::new(Transform { entity: entity.to_string(), to_version, f: Arc::new(f) }));
        self
    }

    /// The transform of the last step of entity `T`, returning the new entity
    /// itself.
    #[must_use]
    pub fn transform_into<T: Entity>(
        self,
        f: impl Fn(Row) -> std::result::Result<T, BoxError> + Send + Sync + 'static,
    ) -> Self {
        let schema: &'static EntityDescriptor = T::SCHEMA;
        self.transform(&schema.name, schema.version, move |row| Ok(Row::from_entity(&f(row)?)?))
    }

    /// A typed transform from a kept old struct `Old` (whose descriptor must match
    /// the stored one) to the compiled entity `New`: the whole migration of `New`'s
    /// rows, for types without a stored shape.
    #[must_use]
    pub fn typed<Old: Entity, New: Entity>(
        mut self,
        f: impl Fn(Old) -> std::result::Result<New, BoxError> + Send + Sync + 'static,
    ) -> Self {
        let new: &'static EntityDescriptor = New::SCHEMA;
        let t = TypedFn {
            from: Old::SCHEMA,
            f: Arc::new(move |key, row| {
                let old = Old::__decode_row(key, row).map_err(BoxError::from)?;
                let new = f(old)?;
                let (mut k, mut r) = (Vec::new(), Vec::new());
                new.__encode_key(&mut k).map_err(|e| BoxError::from(e.to_string()))?;
                new.__encode_row(&mut r).map_err(BoxError::from)?;
                Ok((k, r))
            }),
        };
        self.typed.push((new.name.to_string(), t));
        self
    }

    /// Agrees that field `field` of `entity`, removed from the compiled struct, is
    /// dropped with its values.
    #[must_use]
    pub fn drop_field(mut self, entity: &str, field: &str) -> Self {
        self.dropped_fields.push((entity.to_string(), field.to_string()));
        self
    }

    /// Agrees that entity `entity`, no longer compiled, is dropped with its rows.
    #[must_use]
    pub fn drop_entity(mut self, entity: &str) -> Self {
        self.dropped_entities.push(entity.to_string());
        self
    }

    /// Calls `f` as rows are migrated.
    #[must_use]
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// The plan for the file at `path` opened with `builder`'s entities, without
    /// writing anything (a dry run). An empty plan when there is no file.
    ///
    /// # Errors
    /// [`Error::Migration`] listing every step that cannot run; [`Error::NotADatabase`]
    /// or [`Error::Storage`] when the file cannot be read.
    pub fn dry_run(&self, builder: &DbBuilder, path: impl AsRef<Path>) -> Result<Plan> {
        let Some(raw) = drift_core::raw::open_read(path)? else { return Ok(Plan::default()) };
        let stored = raw.stored_schemas()?;
        match plan::build(self, &stored, builder.compiled(), &mut |t| raw.count(t))? {
            Ok(work) => Ok(work.plan()),
            Err(problems) => Err(refused(&problems)),
        }
    }

    pub(crate) fn transform_for(&self, entity: &str, from: &EntityDescriptor, to_version: u32) -> Option<RowFn> {
        self.transforms
            .iter()
            .find(|t| t.to_version == to_version && (t.entity == entity || t.entity == *from.name))
            .map(|t| Arc::clone(&t.f))
    }

    pub(crate) fn transform_targets(&self) -> impl Iterator<Item = (&str, u32)> {
        self.transforms.iter().map(|t| (t.entity.as_str(), t.to_version))
    }

    pub(crate) fn typed_for(&self, entity: &str) -> Option<TypedFn> {
        self.typed.iter().find(|(e, _)| e == entity).map(|(_, t)| t.clone())
    }

    pub(crate) fn field_dropped(&self, entity: &str, from: &EntityDescriptor, field: &str) -> bool {
        self.dropped_fields.iter().any(|(e, f)| (e == entity || *e == *from.name) && f == field)
    }

    pub(crate) fn entity_dropped(&self, entity: &str) -> bool {
        self.dropped_entities.iter().any(|e| e == entity)
    }

    pub(crate) fn dropped_entity_names(&self) -> &[String] {
        &self.dropped_entities
    }

    fn report(&self, step: &str, entity: &str, rows_done: u64, rows_total: u64) {
        if let Some(p) = &self.progress {
            p(&Progress { step: step.to_string(), entity: entity.to_string(), rows_done, rows_total });
        }
    }
}

fn refused(problems: &[String]) -> Error {
    Error::Migration {
        step: "plan".into(),
        entity: String::new(),
        key: None,
        field: None,
        reason: format!("{} problem(s):\n  - {}", problems.len(), problems.join("\n  - ")),
    }
}

/// Rows read per chunk: memory stays bounded by a chunk whatever the table's size.
const CHUNK: usize = 512;
/// Conflicting or dangling keys listed in an error at most.
const MAX_LISTED: usize = 1000;

impl Migrator for Migrations {
    fn migrate(&self, raw: &mut RawWrite, compiled: &[CompiledEntity]) -> Result<()> {
        let started = Instant::now();
        let stored = raw.stored_schemas()?;
        let work = match plan::build(self, &stored, compiled, &mut |t| raw.count(t))? {
            Ok(work) => work,
            Err(problems) => return Err(refused(&problems)),
        };
        if work.entities.is_empty() && work.dropped.is_empty() {
            return Ok(());
        }
        // Dropped entities go first: an entity may move into a dropped one's table.
        for d in &work.dropped {
            raw.delete_table(&d.table)?;
            for i in d.indexes.iter() {
                raw.delete_table(&drift_core::raw::index_table(&d.table, &i.name))?;
            }
            raw.remove_schema(&d.table)?;
            raw.set_sequence(&d.table, 0)?;
        }
        let mut applied = Vec::new();
        for e in &work.entities {
            migrate_entity(self, raw, e)?;
            for s in &e.steps {
                applied.push(AppliedStep {
                    entity: e.compiled.schema.name.to_string(),
                    from_version: s.from.version,
                    to_version: s.to.version,
                    changes: s.changes.iter().map(|c| c.kind.to_string()).collect(),
                    rows: e.rows,
                });
            }
        }
        for e in &work.entities {
            check_relations(self, raw, e, compiled)?;
        }
        for d in &work.retarget {
            raw.put_schema(d)?;
        }
        let record = AppliedMigration {
            at_unix_ms: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
            duration_ms: started.elapsed().as_millis() as u64,
            steps: applied,
            dropped: work.dropped.iter().map(|d| d.name.to_string()).collect(),
        };
        let json = serde_json::to_vec(&record).map_err(|e| Error::Migration {
            step: "history".into(),
            entity: String::new(),
            key: None,
            field: None,
            reason: e.to_string(),
        })?;
        raw.push_history(&json)
    }
}

/// The error of a row at `key` in step `step` of `e`.
fn row_error(e: &EntityWork, step: &str, key: &[u8], field: Option<String>, reason: impl std::fmt::Display) -> Error {
    Error::Migration {
        step: step.to_string(),
        entity: e.compiled.schema.name.to_string(),
        key: Some(e.compiled.render_key(key)),
        field,
        reason: reason.to_string(),
    }
}

fn from_row_error(e: &EntityWork, step: &str, key: &[u8], err: RowError) -> Error {
    row_error(e, step, key, err.field.clone(), err.reason)
}

/// The error a transform returned or panicked with.
fn transform_error(e: &EntityWork, step: &str, key: &[u8], err: BoxError) -> Error {
    match err.downcast::<RowError>() {
        Ok(r) => from_row_error(e, step, key, *r),
        Err(other) => match other.downcast::<Error>() {
            Ok(d) => row_error(e, step, key, None, d),
            Err(other) => row_error(e, step, key, None, other),
        },
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// One row through every step: the new key and row bytes.
fn migrate_row(e: &EntityWork, key: &[u8], row: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    if let Some(t) = &e.typed {
        let step = format!("{} typed transform", e.compiled.schema.name);
        return match catch_unwind(AssertUnwindSafe(|| (t.f)(key, row))) {
            Ok(Ok(kr)) => Ok(kr),
            Ok(Err(err)) => Err(transform_error(e, &step, key, err)),
            Err(p) => Err(row_error(e, &step, key, None, format!("the transform panicked: {}", panic_message(&*p)))),
        };
    }
    let first = e.steps.first().map_or(&*e.compiled.schema.name, |s| s.name.as_str());
    let mut r = Row::decode(&e.stored, key, row).map_err(|err| from_row_error(e, first, key, err))?;
    for s in &e.steps {
        let step = s.name.as_str();
        for (old, new) in &s.renames {
            r.rename(old, new);
        }
        if let Some(t) = &s.transform {
            r = match catch_unwind(AssertUnwindSafe(|| t(r))) {
                Ok(Ok(r)) => r,
                Ok(Err(err)) => return Err(transform_error(e, step, key, err)),
                Err(p) => {
                    return Err(row_error(
                        e,
                        step,
                        key,
                        None,
                        format!("the transform panicked: {}", panic_message(&*p)),
                    ));
                }
            };
        }
        for f in &s.dropped {
            r.remove(f);
        }
        let extra: Vec<String> = r.fields().map(|(n, _)| n.to_string()).filter(|n| s.to.field(n).is_none()).collect();
        if let Some(f) = extra.first() {
            return Err(row_error(
                e,
                step,
                key,
                Some(f.clone()),
                format!(
                    "field `{f}` is not in version {}: drop it in the transform or acknowledge it with `.drop_field`",
                    s.to.version
                ),
            ));
        }
        for (name, value) in &s.defaults {
            if !r.contains(name) {
                r.set(name, value.clone());
            }
        }
        if !s.last {
            // Through the bytes of the intermediate version: defaults filled in,
            // values fitted to its types, as if a row of that version had been stored.
            let (k, v) = r.encode(&s.to).map_err(|err| from_row_error(e, step, key, err))?;
            r = Row::decode(&s.to, &k, &v).map_err(|err| from_row_error(e, step, key, err))?;
        } else {
            return r.encode(&s.to).map_err(|err| from_row_error(e, step, key, err));
        }
    }
    r.encode(e.compiled.schema).map_err(|err| from_row_error(e, first, key, err))
}

fn migrate_entity(m: &Migrations, raw: &mut RawWrite, e: &EntityWork) -> Result<()> {
    let to = e.compiled.schema;
    let step = e.steps.last().map_or_else(
        || to.name.to_string(),
        |_| {
            let first = e.steps.first().map_or(e.stored.version, |s| s.from.version);
            format!("{} v{} -> v{}", to.name, first, to.version)
        },
    );
    for t in &e.drop_indexes {
        raw.delete_table(t)?;
    }
    let moved = e.stored.table != to.table;
    let mut done = 0u64;
    let mut chunk: Entries = Vec::with_capacity(CHUNK);
    let mut last: Option<Vec<u8>> = None;
    let mut entries = Vec::new();
    let mut conflicts: Vec<String> = Vec::new();
    let mut conflict_count = 0usize;
    let mut first_conflict: Option<(String, String)> = None;
    m.report(&step, &to.name, 0, e.rows);
    loop {
        raw.chunk(&e.stored.table, last.as_deref(), CHUNK, &mut chunk)?;
        let Some((k, _)) = chunk.last() else { break };
        last = Some(k.clone());
        for (key, row) in &chunk {
            let (nk, nv) = if e.rewrite { migrate_row(e, key, row)? } else { (key.clone(), row.clone()) };
            if nk != *key {
                return Err(row_error(e, &step, key, None, "the migrated row has another primary key"));
            }
            // One decode of the new row: the new validation, and the entries of the
            // indexes to build.
            if e.build.is_empty() {
                e.compiled.check(&nk, &nv).map_err(|err| row_error(e, &step, key, None, err))?;
                entries.clear();
            } else {
                e.compiled
                    .check_with_entries(&nk, &nv, &mut entries)
                    .map_err(|err| row_error(e, &step, key, None, err))?;
            }
            if e.rewrite {
                raw.put(&to.table, &nk, &nv)?;
            }
            for (i, entry, value) in &entries {
                if !e.build.contains(i) {
                    continue;
                }
                let index = &to.indexes[*i];
                // The limit is on the values: a non-unique entry ends with the key.
                let values = if index.unique { entry.len() } else { entry.len() - nk.len() };
                if values > MAX_KEY_LEN {
                    return Err(row_error(
                        e,
                        &step,
                        key,
                        Some(index.fields.join(", ")),
                        format!(
                            "the entry of index `{}` is {} bytes, over the limit of {MAX_KEY_LEN}",
                            index.name,
                            entry.len()
                        ),
                    ));
                }
                let itable = drift_core::raw::index_table(&to.table, &index.name);
                if index.unique {
                    if let Some(other) = raw.get(&itable, entry)? {
                        conflict_count += 1;
                        let (a, b) = (e.compiled.render_key(&other), e.compiled.render_key(&nk));
                        if first_conflict.is_none() {
                            first_conflict = Some((index.name.to_string(), b.clone()));
                        }
                        if conflicts.len() < MAX_LISTED {
                            conflicts.push(format!("keys {a} and {b} share a value of unique index `{}`", index.name));
                        }
                        continue;
                    }
                }
                raw.put(&itable, entry, value)?;
            }
        }
        done += chunk.len() as u64;
        m.report(&step, &to.name, done, e.rows);
    }
    if let Some((index, key)) = first_conflict {
        let more = conflict_count.saturating_sub(conflicts.len());
        return Err(Error::Migration {
            step: format!("{step}: build unique index `{index}`"),
            entity: to.name.to_string(),
            key: Some(key),
            field: to.indexes.iter().find(|i| i.name == index).map(|i| i.fields.join(", ")),
            reason: format!(
                "{conflict_count} conflict(s), nothing changed: {}{}",
                conflicts.join("; "),
                if more > 0 { format!("; and {more} more") } else { String::new() }
            ),
        });
    }
    if to.auto_increment {
        // A key below the mark is never handed out again: the mark is at least the
        // largest key (auto_increment may have been turned on by this migration).
        let largest = last.as_deref().and_then(|k| <[u8; 8]>::try_from(k).ok()).map_or(0, u64::from_be_bytes);
        let seq = raw.sequence(&e.stored.table)?;
        if largest > seq {
            raw.set_sequence(&e.stored.table, largest)?;
        }
    }
    if moved {
        let seq = raw.sequence(&e.stored.table)?;
        raw.delete_table(&e.stored.table)?;
        raw.remove_schema(&e.stored.table)?;
        raw.set_sequence(&e.stored.table, 0)?;
        if seq > 0 {
            raw.set_sequence(&to.table, seq)?;
        }
    }
    raw.put_schema(to)
}

/// Every `belongs_to` of `e` that is new or changed must find its parent: the
/// error lists every dangling key.
fn check_relations(m: &Migrations, raw: &mut RawWrite, e: &EntityWork, compiled: &[CompiledEntity]) -> Result<()> {
    let to = e.compiled.schema;
    for &ri in &e.check_relations {
        let rel = &to.relations[ri];
        let step = format!("{} v{} -> v{}: check relation `{}`", to.name, e.stored.version, to.version, rel.name);
        let target = e.compiled.relation_target(ri);
        let Some(parent) = compiled.iter().find(|c| target.is_some_and(|t| c.type_id() == t)) else {
            return Err(Error::Migration {
                step,
                entity: to.name.to_string(),
                key: None,
                field: rel.key.first().map(ToString::to_string),
                reason: format!("the related entity `{}` is not registered", rel.target),
            });
        };
        let mut chunk: Entries = Vec::with_capacity(CHUNK);
        let mut last: Option<Vec<u8>> = None;
        let mut dangling = Vec::new();
        let mut count = 0usize;
        let mut done = 0u64;
        loop {
            raw.chunk(&to.table, last.as_deref(), CHUNK, &mut chunk)?;
            let Some((k, _)) = chunk.last() else { break };
            last = Some(k.clone());
            for (key, row) in &chunk {
                let Some(pk) = e.compiled.belongs_to_key(key, row, ri)? else { continue };
                if raw.get(&parent.schema.table, &pk)?.is_none() {
                    count += 1;
                    if dangling.len() < MAX_LISTED {
                        dangling.push(format!("{} -> {}", e.compiled.render_key(key), parent.render_key(&pk)));
                    }
                }
            }
            done += chunk.len() as u64;
            m.report(&step, &to.name, done, e.rows);
        }
        if count > 0 {
            let more = count - dangling.len();
            return Err(Error::Migration {
                step,
                entity: to.name.to_string(),
                key: None,
                field: rel.key.first().map(ToString::to_string),
                reason: format!(
                    "{count} row(s) point at no {}, nothing changed (key -> missing {} key): {}{}",
                    rel.target,
                    rel.target,
                    dangling.join(", "),
                    if more > 0 { format!("; and {more} more") } else { String::new() }
                ),
            });
        }
    }
    Ok(())
}
