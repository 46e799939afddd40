//! `drift diff` and `drift migrate --dry-run`: a file's stored descriptors against
//! the latest version of each entity in a schema history file.
//!
//! The CLI has no compiled entities: the history's latest versions stand in for
//! them. It has no transforms either, so the plan says which steps need one, and
//! a migration itself runs in the application.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_core::EntityDescriptor;
use drift_migrate::{Change, ChangeKind, Class, SchemaHistory, diff_entity, former_names, match_entities};
use serde::Serialize;

use crate::fail::{self, Fail};
use crate::open;
use crate::table;

/// A change as `--json` prints it.
#[derive(Debug, Serialize)]
struct ChangeJson {
    entity: String,
    /// A stable name of the kind of change (`field_added`, `index_removed`, ...).
    kind: &'static str,
    /// The change in words.
    change: String,
    /// `automatic`, `acknowledge`, `transform` or `refused`.
    class: &'static str,
    /// Why it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn kind_name(kind: &ChangeKind) -> &'static str {
    match kind {
        ChangeKind::EntityAdded => "entity_added",
        ChangeKind::EntityRemoved => "entity_removed",
        ChangeKind::EntityRenamed { .. } => "entity_renamed",
        ChangeKind::TableChanged { .. } => "table_changed",
        ChangeKind::FieldAdded { .. } => "field_added",
        ChangeKind::FieldRemoved { .. } => "field_removed",
        ChangeKind::FieldRenamed { .. } => "field_renamed",
        ChangeKind::TypeChanged { .. } => "type_changed",
        ChangeKind::MadeOptional { .. } => "made_optional",
        ChangeKind::MadeRequired { .. } => "made_required",
        ChangeKind::FieldsReordered => "fields_reordered",
        ChangeKind::IndexAdded { .. } => "index_added",
        ChangeKind::IndexRemoved { .. } => "index_removed",
        ChangeKind::IndexChanged { .. } => "index_changed",
        ChangeKind::UniqueAdded { .. } => "unique_added",
        ChangeKind::UniqueRemoved { .. } => "unique_removed",
        ChangeKind::RelationAdded { .. } => "relation_added",
        ChangeKind::RelationRemoved { .. } => "relation_removed",
        ChangeKind::RelationChanged { .. } => "relation_changed",
        ChangeKind::PrimaryKeyChanged { .. } => "primary_key_changed",
        ChangeKind::AutoIncrementChanged { .. } => "auto_increment_changed",
        ChangeKind::VersionChanged { .. } => "version_changed",
        _ => "other",
    }
}

fn class_name(class: &Class) -> &'static str {
    match class {
        Class::Automatic => "automatic",
        Class::Acknowledge => "acknowledge",
        Class::Transform => "transform",
        Class::Refused(_) => "refused",
    }
}

fn change_json(c: &Change) -> ChangeJson {
    ChangeJson {
        entity: c.entity.clone(),
        kind: kind_name(&c.kind),
        change: c.kind.to_string(),
        class: class_name(&c.class),
        reason: match &c.class {
            Class::Refused(r) => Some(r.clone()),
            _ => None,
        },
    }
}

/// Whether `c` is a required field added without a known default: the history
/// does not record defaults, so such a field may need no transform after all.
fn maybe_defaulted(c: &Change) -> bool {
    matches!(c.kind, ChangeKind::FieldAdded { optional: false, .. }) && c.class == Class::Transform
}

const DEFAULTS_NOTE: &str = "note: the schema history does not record `#[drift(default = ..)]`: a required field \
                             added with a default needs no transform";

/// The schema history at `path`, which must exist.
fn load_history(path: &Path) -> Result<SchemaHistory, Fail> {
    if !path.exists() {
        return Err(Fail::new(format!("{} does not exist", path.display())));
    }
    SchemaHistory::load(path).map_err(|e| Fail::new(format!("{} is not a schema history file: {e}", path.display())))
}

/// The latest recorded version of each entity of `history`, leaving out names that
/// a later entity was renamed from.
fn latest(history: &SchemaHistory) -> Vec<&EntityDescriptor> {
    let all: Vec<&EntityDescriptor> = history.entities.values().filter_map(|v| v.values().next_back()).collect();
    let superseded: Vec<String> = all.iter().flat_map(|c| former_names(c, Some(history)).into_iter().skip(1)).collect();
    all.into_iter().filter(|c| !superseded.iter().any(|s| *s == *c.name)).collect()
}

/// What the file and the history hold.
struct Inputs {
    stored: Vec<EntityDescriptor>,
    history: SchemaHistory,
    raw: drift_core::raw::RawRead,
}

fn inputs(path: &Path, history_path: &Path) -> Result<Inputs, Fail> {
    let history = load_history(history_path)?;
    let raw = open::read(path)?;
    let stored = raw.stored_schemas().map_err(|e| fail::db(path, e))?;
    Ok(Inputs { stored, history, raw })
}

#[derive(Debug, Serialize)]
struct DiffJson {
    file: String,
    history: String,
    up_to_date: bool,
    changes: Vec<ChangeJson>,
}

/// `drift diff FILE SCHEMA_HISTORY [--json]`.
pub fn diff(path: &Path, history_path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    let Inputs { stored, history, .. } = inputs(path, history_path)?;
    let latest = latest(&history);
    let changes = drift_migrate::diff(&stored, &latest);
    if json {
        crate::print_json(
            out,
            &DiffJson {
                file: path.display().to_string(),
                history: history_path.display().to_string(),
                up_to_date: changes.is_empty(),
                changes: changes.iter().map(change_json).collect(),
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let (file, hist) = (path.display(), history_path.display());
    if changes.is_empty() {
        writeln!(out, "{file} matches the latest versions in {hist}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{file} against the latest versions in {hist}: {}", table::count(changes.len() as u64, "change"))?;
    let mut entity = "";
    for c in &changes {
        if c.entity != entity {
            entity = &c.entity;
            writeln!(out, "{entity}")?;
        }
        writeln!(out, "  - {} ({})", c.kind, c.class)?;
    }
    if changes.iter().any(maybe_defaulted) {
        writeln!(out, "{DEFAULTS_NOTE}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One step of the plan.
#[derive(Debug, Serialize)]
struct StepJson {
    entity: String,
    from_version: u32,
    to_version: u32,
    rows: u64,
    changes: Vec<ChangeJson>,
}

#[derive(Debug, Serialize)]
struct PlanJson {
    file: String,
    history: String,
    steps: Vec<StepJson>,
    /// Entities the history holds and the file does not: created empty.
    new_entities: Vec<String>,
    /// Stored entities the history does not hold: left as stored.
    left: Vec<String>,
    /// Why the migration cannot run, one sentence each.
    problems: Vec<String>,
    /// Whether some step needs a transform the project writes.
    needs_transform: bool,
    /// Whether some step drops data, to acknowledge.
    needs_acknowledgement: bool,
}

/// `drift migrate FILE --history SCHEMA_HISTORY --dry-run [--json]`: the chain of
/// versions per entity, each step's changes and rows. Writes nothing.
pub fn plan(path: &Path, history_path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    let Inputs { stored, history, raw } = inputs(path, history_path)?;
    let latest = latest(&history);
    let sources = match_entities(&stored, &latest, |c| former_names(c, Some(&history)));
    let mut plan = PlanJson {
        file: path.display().to_string(),
        history: history_path.display().to_string(),
        steps: Vec::new(),
        new_entities: Vec::new(),
        left: stored
            .iter()
            .enumerate()
            .filter(|(i, _)| !sources.contains(&Some(*i)))
            .map(|(_, s)| s.name.to_string())
            .collect(),
        problems: Vec::new(),
        needs_transform: false,
        needs_acknowledgement: false,
    };
    let mut any_defaulted = false;
    for (to, source) in latest.iter().zip(&sources) {
        let Some(si) = *source else {
            plan.new_entities.push(to.name.to_string());
            continue;
        };
        let from = &stored[si];
        if from.differences(to).is_empty() && from.name == to.name {
            continue;
        }
        if from.version > to.version {
            plan.problems.push(format!(
                "{}: the file holds version {}, newer than the latest recorded version {}",
                to.name, from.version, to.version
            ));
            continue;
        }
        let rows = raw.count(&from.table).map_err(|e| fail::db(path, e))?;
        let mut chain: Vec<&EntityDescriptor> = vec![from];
        chain.extend(history.between(to, from.version, to.version));
        chain.push(to);
        for pair in chain.windows(2) {
            let changes = diff_entity(pair[0], pair[1]);
            for c in &changes {
                any_defaulted |= maybe_defaulted(c);
                plan.needs_transform |= c.class == Class::Transform;
                plan.needs_acknowledgement |= c.class == Class::Acknowledge;
                if let Class::Refused(reason) = &c.class {
                    plan.problems.push(format!(
                        "{} v{} -> v{}: {} is refused: {reason}",
                        to.name, pair[0].version, pair[1].version, c.kind
                    ));
                }
            }
            plan.steps.push(StepJson {
                entity: to.name.to_string(),
                from_version: pair[0].version,
                to_version: pair[1].version,
                rows,
                changes: changes.iter().map(change_json).collect(),
            });
        }
    }
    if json {
        crate::print_json(out, &plan)?;
    } else {
        write_plan(&plan, any_defaulted, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_plan(plan: &PlanJson, any_defaulted: bool, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "dry run: {} migrated to the latest versions in {}; nothing is written", plan.file, plan.history)?;
    if plan.steps.is_empty() && plan.new_entities.is_empty() {
        writeln!(out, "nothing to migrate")?;
    }
    for s in &plan.steps {
        writeln!(out, "{} v{} -> v{}: {}", s.entity, s.from_version, s.to_version, table::count(s.rows, "row"))?;
        for c in &s.changes {
            let class = match (c.class, &c.reason) {
                ("automatic", _) => "automatic".to_string(),
                ("acknowledge", _) => "drops data: needs an acknowledgement".to_string(),
                ("transform", _) => "needs a transform".to_string(),
                (_, reason) => format!("refused: {}", reason.as_deref().unwrap_or("")),
            };
            writeln!(out, "  - {} ({class})", c.change)?;
        }
    }
    for e in &plan.new_entities {
        writeln!(out, "{e}: new entity, its tables are created")?;
    }
    for e in &plan.left {
        writeln!(out, "{e}: not in the schema history, left as stored")?;
    }
    for p in &plan.problems {
        writeln!(out, "problem: {p}")?;
    }
    if plan.needs_transform || plan.needs_acknowledgement {
        let mut needs = Vec::new();
        if plan.needs_transform {
            needs.push("a transform for each step marked so (`Migrations::transform`)");
        }
        if plan.needs_acknowledgement {
            needs.push("an acknowledgement of each drop (`Migrations::drop_field` / `drop_entity`)");
        }
        writeln!(out, "the application's migrations need {}", needs.join(", and "))?;
    }
    if any_defaulted {
        writeln!(out, "{DEFAULTS_NOTE}")?;
    }
    writeln!(
        out,
        "to migrate, open the file in the application with `Db::builder().migrations(Migrations::new().history_file(..)?)`"
    )
}
