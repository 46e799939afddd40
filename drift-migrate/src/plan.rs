//! From a file's stored descriptors, the compiled ones, the history and the steps
//! the project wrote, the plan: per entity, the chain of versions to go through and
//! what each step does, or every reason it cannot run.

use std::fmt;

use drift_core::raw::CompiledEntity;
use drift_core::{EntityDescriptor, FieldKind, RelationKind};

use crate::apply::{Migrations, RowFn, TypedFn};
use crate::diff::{Change, ChangeKind, Class, diff_entity, former_names, match_entities};

/// What a migration will do, readable before anything is written
/// ([`Migrations::dry_run`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, entity by entity, oldest version first.
    pub steps: Vec<PlannedStep>,
    /// Stored entities whose rows are dropped (acknowledged with `drop_entity`).
    pub dropped: Vec<String>,
    /// Stored entities not compiled into this program and not dropped: left as stored.
    pub left: Vec<String>,
}

/// One step of a plan: one entity from one version to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// The entity (its compiled name).
    pub entity: String,
    /// The version the rows are at.
    pub from_version: u32,
    /// The version they go to.
    pub to_version: u32,
    /// The changes of this step.
    pub changes: Vec<Change>,
    /// Whether a transform the project wrote runs on each row.
    pub transform: bool,
    /// The entity's stored rows.
    pub rows: u64,
}

impl Plan {
    /// Whether there is nothing to do.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.dropped.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("nothing to migrate\n");
        }
        for s in &self.steps {
            writeln!(
                f,
                "{} v{} -> v{}: {} rows{}",
                s.entity,
                s.from_version,
                s.to_version,
                s.rows,
                if s.transform { ", with a transform" } else { "" }
            )?;
            for c in &s.changes {
                writeln!(f, "  - {} ({})", c.kind, c.class)?;
            }
        }
        for d in &self.dropped {
            writeln!(f, "{d}: dropped with its rows")?;
        }
        for l in &self.left {
            writeln!(f, "{l}: not compiled into this program, left as stored")?;
        }
        Ok(())
    }
}

/// One step as it runs.
pub(crate) struct Step {
    pub(crate) from: EntityDescriptor,
    pub(crate) to: EntityDescriptor,
    /// Whether `to` is the compiled descriptor (the last step).
    pub(crate) last: bool,
    pub(crate) changes: Vec<Change>,
    pub(crate) transform: Option<RowFn>,
    /// Fields removed in this step whose drop was acknowledged.
    pub(crate) dropped: Vec<String>,
    /// Fields renamed in this step: (old, new).
    pub(crate) renames: Vec<(String, String)>,
    /// The step in words (`Post v1 -> v2`), for errors.
    pub(crate) name: String,
    /// Values for fields of an intermediate `to` that rows lack (its defaults).
    pub(crate) defaults: Vec<(String, drift_core::dynamic::Value)>,
}

/// One compiled entity's migration.
pub(crate) struct EntityWork {
    pub(crate) compiled: CompiledEntity,
    /// The stored descriptor the rows are at.
    pub(crate) stored: EntityDescriptor,
    pub(crate) steps: Vec<Step>,
    pub(crate) typed: Option<TypedFn>,
    /// Whether each row is decoded and written again.
    pub(crate) rewrite: bool,
    /// Indexes (positions in the compiled descriptor) built from the rows.
    pub(crate) build: Vec<usize>,
    /// Index tables of the stored descriptor to delete first.
    pub(crate) drop_indexes: Vec<String>,
    /// `belongs_to` relations (positions in the compiled descriptor) to check for
    /// dangling keys.
    pub(crate) check_relations: Vec<usize>,
    pub(crate) rows: u64,
}

/// The whole migration, or every reason it cannot run.
pub(crate) struct Work {
    pub(crate) entities: Vec<EntityWork>,
    pub(crate) dropped: Vec<EntityDescriptor>,
    pub(crate) left: Vec<String>,
    /// Descriptors of entities left as stored whose relations now name a renamed
    /// entity by its new name.
    pub(crate) retarget: Vec<EntityDescriptor>,
}

impl Work {
    pub(crate) fn plan(&self) -> Plan {
        let mut plan = Plan::default();
        for e in &self.entities {
            for s in &e.steps {
                plan.steps.push(PlannedStep {
                    entity: e.compiled.schema.name.to_string(),
                    from_version: s.from.version,
                    to_version: s.to.version,
                    changes: s.changes.clone(),
                    transform: s.transform.is_some() || e.typed.is_some(),
                    rows: e.rows,
                });
            }
        }
        plan.dropped = self.dropped.iter().map(|d| d.name.to_string()).collect();
        plan.left.clone_from(&self.left);
        plan
    }
}

/// The default of field `f` of `chain[i]`: its own, or the compiled default of the
/// field it becomes in the last descriptor (following renames), fitted to its type.
fn inherited_default(
    chain: &[EntityDescriptor],
    i: usize,
    f: &drift_core::FieldDescriptor,
) -> Option<drift_core::dynamic::Value> {
    let own = f.shape.get()?;
    let mut name = f.name.to_string();
    for later in &chain[i + 1..] {
        if later.field(&name).is_none() {
            name = later.fields.iter().find(|l| l.renamed_from.as_deref() == Some(name.as_str()))?.name.to_string();
        }
    }
    let last = chain.last()?.field(&name)?;
    let bytes = last.default.as_ref()?.encoded().ok()?;
    let value = drift_core::dynamic::decode_value(&last.shape.get()?, &mut bytes.as_slice()).ok()?;
    value.fit(&own).ok()
}

fn stored_fields(d: &EntityDescriptor) -> impl Iterator<Item = &drift_core::FieldDescriptor> {
    d.fields.iter().filter(|f| f.kind != FieldKind::Relation)
}

/// Builds the work, or the list of problems (one sentence each).
pub(crate) fn build(
    m: &Migrations,
    stored: &[EntityDescriptor],
    compiled: &[CompiledEntity],
    count: &mut dyn FnMut(&str) -> drift_core::Result<u64>,
) -> drift_core::Result<Result<Work, Vec<String>>> {
    let mut problems = Vec::new();
    let mut entities = Vec::new();
    let schemas: Vec<&EntityDescriptor> = compiled.iter().map(|c| c.schema).collect();
    let sources = match_entities(stored, &schemas, |c| former_names(c, Some(&m.history)));
    // Stored entities no compiled one continues: dropped when acknowledged, else left.
    let mut dropped = Vec::new();
    let mut left = Vec::new();
    for (i, s) in stored.iter().enumerate() {
        if sources.contains(&Some(i)) {
            continue;
        }
        if m.entity_dropped(&s.name) {
            dropped.push(s.clone());
        } else {
            left.push(s.clone());
        }
    }
    for name in m.dropped_entity_names() {
        if schemas.iter().any(|c| c.name == *name) {
            problems.push(format!("`.drop_entity(\"{name}\")`: `{name}` is still compiled into this program"));
        }
        // A drop of an entity the file does not hold was applied before (or the file
        // never had it): nothing to do.
    }
    for d in &dropped {
        let children: Vec<String> = left
            .iter()
            .chain(schemas.iter().copied())
            .filter(|c| c.relations.iter().any(|r| r.kind == RelationKind::BelongsTo && r.target == d.name))
            .map(|c| c.name.to_string())
            .collect();
        if !children.is_empty() {
            problems.push(format!(
                "`.drop_entity(\"{}\")`: rows of {} belong to it; drop or change them first",
                d.name,
                children.join(", ")
            ));
        }
    }
    let dropped_tables: Vec<&str> = dropped.iter().map(|d| &*d.table).collect();
    let mut used_transforms: Vec<(String, String, u32)> = Vec::new();
    let mut ranges: Vec<(String, String, u32, u32)> = Vec::new();
    for (c, source) in compiled.iter().zip(&sources) {
        let to = c.schema;
        let Some(si) = *source else { continue };
        // Shapes a descriptor stored before shapes existed lacks, where the type is
        // unchanged.
        let mut from = stored[si].clone();
        from.upgrade_shapes(to);
        let from = &from;
        if from.differences(to).is_empty() && from.name == to.name {
            continue;
        }
        if from.version > to.version {
            problems.push(format!(
                "{}: the file holds version {}, newer than this program's version {}",
                to.name, from.version, to.version
            ));
            continue;
        }
        ranges.push((to.name.to_string(), from.name.to_string(), from.version, to.version));
        let typed = m.typed_for(&to.name);
        // The chain of descriptors: stored, recorded versions between, compiled.
        let mut chain: Vec<EntityDescriptor> = vec![from.clone()];
        if typed.is_none() {
            for d in m.history.between(to, from.version, to.version).into_iter().cloned() {
                chain.push(d);
            }
        }
        chain.push(to.clone());
        // Defaults of fields of intermediate versions, which the history does not
        // store: the compiled default of the field each becomes (through renames),
        // fitted to the field's type there.
        let mut defaults: Vec<Vec<(String, drift_core::dynamic::Value)>> = vec![Vec::new(); chain.len()];
        for i in 1..chain.len().saturating_sub(1) {
            for f in chain[i].fields.iter().filter(|f| f.kind == FieldKind::Data && !f.optional) {
                if let Some(v) = inherited_default(&chain, i, f) {
                    defaults[i].push((f.name.to_string(), v));
                }
            }
        }
        let mut steps = Vec::new();
        for (pi, pair) in chain.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            let last = steps.len() + 2 == chain.len();
            let defaults = std::mem::take(&mut defaults[pi + 1]);
            let mut changes = diff_entity(a, b);
            for ch in &mut changes {
                if let ChangeKind::FieldAdded { field, default, .. } = &mut ch.kind {
                    if ch.class == Class::Transform && defaults.iter().any(|(n, _)| n == field) {
                        *default = true;
                        ch.class = Class::Automatic;
                    }
                }
            }
            let transform = if typed.is_some() { None } else { m.transform_for(&b.name, a, b.version) };
            if transform.is_some() {
                used_transforms.push((b.name.to_string(), a.name.to_string(), b.version));
            }
            let step_name = format!("{} v{} -> v{}", b.name, a.version, b.version);
            let mut dropped = Vec::new();
            let mut renames = Vec::new();
            for ch in &changes {
                match (&ch.class, &ch.kind) {
                    (Class::Refused(reason), kind) => problems.push(format!("{step_name}: {kind}: {reason}")),
                    (Class::Acknowledge, ChangeKind::FieldRemoved { field }) => {
                        if m.field_dropped(&b.name, a, field) {
                            dropped.push(field.clone());
                        } else if transform.is_none() && typed.is_none() {
                            problems.push(format!(
                                "{step_name}: field `{field}` was removed and its values would be lost: \
                                 acknowledge with `.drop_field(\"{}\", \"{field}\")` or remove it in a transform",
                                b.name
                            ));
                        }
                    }
                    (Class::Transform, kind) if transform.is_none() && typed.is_none() => {
                        problems.push(format!(
                            "{step_name}: {kind}: needs a transform: `.transform(\"{}\", {}, |row| ..)`",
                            b.name, b.version
                        ));
                    }
                    (_, ChangeKind::FieldRenamed { from, to }) => renames.push((from.clone(), to.clone())),
                    _ => {}
                }
            }
            steps.push(Step {
                name: step_name,
                from: a.clone(),
                to: b.clone(),
                last,
                changes,
                transform,
                dropped,
                renames,
                defaults,
            });
        }
        if let Some(t) = &typed {
            let old = t.from;
            if !old.differences(from).is_empty() || old.name != from.name {
                problems.push(format!(
                    "{}: the typed transform reads rows as `{}` version {}, but the file holds version {}: {}",
                    to.name,
                    old.name,
                    old.version,
                    from.version,
                    old.differences(from).join("; ")
                ));
            }
        }
        let all: Vec<&Change> = steps.iter().flat_map(|s| &s.changes).collect();
        let moved = from.table != to.table;
        let rewrite = moved
            || typed.is_some()
            || steps.iter().any(|s| s.transform.is_some())
            || all.iter().any(|c| c.kind.rewrites_rows());
        if rewrite && typed.is_none() {
            for f in stored_fields(from) {
                if f.shape.get().is_none_or(|s| s.is_opaque()) {
                    problems.push(format!(
                        "{}: field `{}` of type `{}` has no stored shape, so its rows cannot be read without \
                         the old struct: derive `Describe` for its type, or migrate with a typed transform \
                         (`.typed::<Old, New>(..)`)",
                        to.name, f.name, f.ty
                    ));
                }
            }
        }
        if let Some(other) = left.iter().find(|l| moved && l.table == to.table) {
            problems.push(format!(
                "{}: its rows move to table `{}`, which holds entity `{}`: drop it with `.drop_entity(\"{}\")` \
                 or choose another table",
                to.name, to.table, other.name, other.name
            ));
        } else if moved && !dropped_tables.contains(&&*to.table) && count(&to.table)? > 0 {
            problems.push(format!(
                "{}: its rows move from table `{}` to `{}`, which already holds rows",
                to.name, from.table, to.table
            ));
        }
        let (build, drop_indexes) = indexes_to_build(from, to, rewrite);
        // Code that rewrites rows may rewrite foreign keys: every relation is checked.
        let coded = typed.is_some() || steps.iter().any(|s| s.transform.is_some());
        let check_relations = to
            .relations
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == RelationKind::BelongsTo)
            .filter(|(_, r)| {
                coded
                    || all.iter().any(|c| match &c.kind {
                        ChangeKind::RelationAdded { relation, .. } | ChangeKind::RelationChanged { relation } => {
                            *relation == r.name
                        }
                        _ => false,
                    })
            })
            .map(|(i, _)| i)
            .collect();
        let rows = count(&from.table)?;
        entities.push(EntityWork {
            compiled: *c,
            stored: from.clone(),
            steps,
            typed,
            rewrite,
            build,
            drop_indexes,
            check_relations,
            rows,
        });
    }
    // A transform to a version this migration passes over without a step to it
    // would be skipped silently.
    for (entity, version) in m.transform_targets() {
        let passed =
            ranges.iter().any(|(new, old, lo, hi)| (new == entity || old == entity) && *lo < version && version <= *hi);
        let used = used_transforms.iter().any(|(new, old, v)| (new == entity || old == entity) && *v == version);
        if passed && !used {
            problems.push(format!(
                "the transform of {entity} to version {version} never runs: no step goes to that version \
                 (record version {version} in the schema history)"
            ));
        }
    }
    // Relations of entities left as stored that name a renamed entity follow it.
    let mut retarget = Vec::new();
    for l in &left {
        let mut d = l.clone();
        let mut changed = false;
        for r in d.relations.to_mut() {
            // Against the stored name only, once: in a chain of renames (A -> B,
            // B -> C) a relation to A goes to B, not on to C.
            let renamed = schemas.iter().zip(&sources).find_map(|(c, source)| {
                source.filter(|si| stored[*si].name == r.target && c.name != r.target).map(|_| c.name.clone())
            });
            if let Some(new) = renamed {
                r.target = new;
                changed = true;
            }
        }
        if changed {
            retarget.push(d);
        }
    }
    let left = left.iter().map(|l| l.name.to_string()).collect();
    Ok(if problems.is_empty() { Ok(Work { entities, dropped, left, retarget }) } else { Err(problems) })
}

/// Which compiled indexes to build from the rows, and which stored index tables to
/// delete first.
fn indexes_to_build(from: &EntityDescriptor, to: &EntityDescriptor, rewrite: bool) -> (Vec<usize>, Vec<String>) {
    let table = |d: &EntityDescriptor, name: &str| drift_core::raw::index_table(&d.table, name);
    let mut build = Vec::new();
    let mut drop = Vec::new();
    for (i, c) in to.indexes.iter().enumerate() {
        let same = from.indexes.iter().find(|s| s.name == c.name).is_some_and(|s| s == c);
        if rewrite || !same || from.table != to.table {
            build.push(i);
        }
    }
    for s in from.indexes.iter() {
        let kept = to.indexes.iter().any(|c| c == s) && from.table == to.table && !rewrite;
        if !kept {
            drop.push(table(from, &s.name));
        }
    }
    for &i in &build {
        let t = table(to, &to.indexes[i].name);
        if !drop.contains(&t) {
            drop.push(t);
        }
    }
    (build, drop)
}
