//! Model-based test of automatic schema migrations: one entity `Item` in six
//! versions, each an automatic change (v2: an indexed `Option` and a defaulted
//! field; v3: an indexed field renamed, two integers widened; v4: a defaulted field
//! in a new two-field index, fields reordered; v5: an index dropped and a unique one
//! added, rows untouched; v6: the unique field made optional, a field dropped with
//! an acknowledgement). A case writes random rows at one version, then opens the
//! file at random later versions, skipping some (so the schema history chains the
//! steps), with random writes between. After each open the rows, every index table
//! entry by entry, queries through each index, the stored descriptor, the dry-run
//! plan and the applied records are compared with a `BTreeMap` oracle holding the
//! latest values of each row. Rarely, rows share a code before it becomes unique:
//! that migration must fail with every conflict counted and leave the file as it was.

#[path = "common/file.rs"]
mod file;

use std::collections::BTreeMap;
use std::path::Path;

use drift::migrate::{Migrations, SchemaHistory, applied};
use drift::prelude::*;
use drift::{Access, KeyCodec};
use file::{Entries, contents};
use proptest::prelude::*;

mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq)]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub name: String,
        pub count: u32,
        pub code: String,
        pub tag: String,
    }
}

mod v2 {
    use drift::prelude::*;

    /// An added `Option` field with an index, and a field with a default.
    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 2)]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub name: String,
        pub count: u32,
        pub code: String,
        pub tag: String,
        #[drift(index)]
        pub note: Option<String>,
        #[drift(default = 1)]
        pub rank: u16,
    }
}

mod v3 {
    use drift::prelude::*;

    /// `name` renamed to `title` (its index with it), `count` and `rank` widened.
    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 3)]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(renamed_from = "name", index)]
        pub title: String,
        pub count: u64,
        pub code: String,
        pub tag: String,
        #[drift(index)]
        pub note: Option<String>,
        #[drift(default = 1)]
        pub rank: u32,
    }
}

mod v4 {
    use drift::prelude::*;

    /// A field with a default, a two-field index over it and `count`, and `code`
    /// moved before `count`.
    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 4, index(fields(lang, count)))]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub title: String,
        pub code: String,
        pub count: u64,
        pub tag: String,
        #[drift(index)]
        pub note: Option<String>,
        #[drift(default = 1)]
        pub rank: u32,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

mod v5 {
    use drift::prelude::*;

    /// Indexes only: `note` no longer indexed, `code` unique.
    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 5, index(fields(lang, count)))]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub title: String,
        #[drift(unique)]
        pub code: String,
        pub count: u64,
        pub tag: String,
        pub note: Option<String>,
        #[drift(default = 1)]
        pub rank: u32,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

mod v6 {
    use drift::prelude::*;

    /// `code` made optional (still unique), `tag` dropped (acknowledged).
    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 6, index(fields(lang, count)))]
    pub struct Item {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(index)]
        pub title: String,
        #[drift(unique)]
        pub code: Option<String>,
        pub count: u64,
        pub note: Option<String>,
        #[drift(default = 1)]
        pub rank: u32,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

const LATEST: u32 = 6;

/// Every version, as the project's lock file would hold them.
fn history() -> SchemaHistory {
    let mut h = SchemaHistory::default();
    h.record([<v1::Item as Entity>::SCHEMA]);
    h.record([<v2::Item as Entity>::SCHEMA]);
    h.record([<v3::Item as Entity>::SCHEMA]);
    h.record([<v4::Item as Entity>::SCHEMA]);
    h.record([<v5::Item as Entity>::SCHEMA]);
    h.record([<v6::Item as Entity>::SCHEMA]);
    h
}

/// What an open from version `from` to `to` is given: the history, and the drop of
/// `tag` (v6). No code: `rank`, added with a default in v2 and widened in v3, takes
/// the compiled default fitted to its v2 type when v2 lies between.
fn migrations(_from: u32, _to: u32) -> Migrations {
    Migrations::new().history(history()).drop_field("Item", "tag")
}

// ---------------------------------------------------------------------------------
// The model.

/// A row's values, in the latest version's terms (`title` is v1's `name`; `tag` is
/// kept after v6 dropped it, unread).
#[derive(Debug, Clone, PartialEq)]
struct ModelItem {
    title: String,
    count: u64,
    code: Option<String>,
    tag: String,
    note: Option<String>,
    rank: u32,
    lang: String,
}

type Model = BTreeMap<u64, ModelItem>;

/// Values a write gives a row, through the API of the version it is written at.
#[derive(Debug, Clone)]
struct Gen {
    title: String,
    count: u64,
    /// With `#<id>` appended, so codes are unique, unless `shared`.
    code: String,
    /// Before v5 (no unique index yet): the code as is, which other rows may share.
    shared: bool,
    no_code: bool,
    tag: String,
    note: Option<String>,
    rank: u32,
    lang: String,
}

impl Gen {
    /// Row `id` after this write at version `v` (`old` when it exists): fields that
    /// `v` does not have keep their values (`None`, 1 and `"en"`, the migration's
    /// defaults, for a new row).
    fn apply(&self, v: u32, id: u64, old: Option<&ModelItem>) -> ModelItem {
        let mut m = old.cloned().unwrap_or_else(|| ModelItem {
            title: String::new(),
            count: 0,
            code: None,
            tag: String::new(),
            note: None,
            rank: 1,
            lang: "en".into(),
        });
        m.title.clone_from(&self.title);
        m.count = if v < 3 { self.count & u64::from(u32::MAX) } else { self.count };
        m.code = if v >= 6 && self.no_code {
            None
        } else if v < 5 && self.shared {
            Some(self.code.clone())
        } else {
            Some(format!("{}#{id}", self.code))
        };
        if v < 6 {
            m.tag.clone_from(&self.tag);
        }
        if v >= 2 {
            m.note.clone_from(&self.note);
            m.rank = if v < 3 { self.rank & u32::from(u16::MAX) } else { self.rank };
        }
        if v >= 4 {
            m.lang.clone_from(&self.lang);
        }
        m
    }
}

/// An equality through one index, with the model's answer.
#[derive(Debug, Clone)]
enum Probe {
    Title(String),
    Note(Option<String>),
    Code(Option<String>),
    Lang(String),
    LangCount(String, u64),
}

impl Probe {
    fn matches(&self, m: &ModelItem) -> bool {
        match self {
            Probe::Title(t) => m.title == *t,
            Probe::Note(n) => m.note == *n,
            Probe::Code(c) => m.code == *c,
            Probe::Lang(l) => m.lang == *l,
            Probe::LangCount(l, c) => m.lang == *l && m.count == *c,
        }
    }

    /// Probes for the values of `m`.
    fn of(m: &ModelItem) -> Vec<Probe> {
        vec![
            Probe::Title(m.title.clone()),
            Probe::Note(m.note.clone()),
            Probe::Code(m.code.clone()),
            Probe::Lang(m.lang.clone()),
            Probe::LangCount(m.lang.clone(), m.count),
        ]
    }

    /// Probes for values no row has, and for `None`.
    fn absent() -> Vec<Probe> {
        vec![
            Probe::Title("\u{10FFFF}absent".into()),
            Probe::Note(None),
            Probe::Note(Some("\u{10FFFF}absent".into())),
            Probe::Code(None),
            Probe::Code(Some("absent".into())),
            Probe::LangCount("en".into(), u64::MAX - 1),
        ]
    }
}

/// An index entry of a non-unique index: the values then the key, no value.
fn entry(index: &'static str, values: &impl KeyCodec, id: u64) -> (&'static str, Vec<u8>, Vec<u8>) {
    let mut k = values.to_key_bytes().unwrap();
    id.encode_key(&mut k).unwrap();
    (index, k, Vec::new())
}

/// An index entry of a unique index: the values, mapped to the key.
fn unique_entry(index: &'static str, values: &impl KeyCodec, id: u64) -> (&'static str, Vec<u8>, Vec<u8>) {
    (index, values.to_key_bytes().unwrap(), id.to_key_bytes().unwrap())
}

/// One version of `Item`, seen through the model.
trait Version: Entity<Key = u64> + PartialEq + std::fmt::Debug {
    /// The row the model expects.
    fn from_model(id: u64, m: &ModelItem) -> Self;
    /// The entries the model expects in the index tables.
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)>;
    /// `p` as a filter, when this version indexes its fields.
    fn filter(p: &Probe) -> Option<Filter<Self>>;
    /// A lookup through the unique index on `code`, when there is one.
    fn get_by_code(_tx: &ReadTx, _code: &Option<String>) -> Option<drift::Result<Option<Self>>> {
        None
    }
    fn version() -> u32 {
        Self::SCHEMA.version
    }
}

fn code(m: &ModelItem) -> String {
    m.code.clone().expect("a code before version 6")
}

impl Version for v1::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v1::Item {
            id,
            name: m.title.clone(),
            count: u32::try_from(m.count).unwrap(),
            code: code(m),
            tag: m.tag.clone(),
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        vec![entry("name", &m.title, id)]
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v1::Item::NAME.eq(t)),
            _ => None,
        }
    }
}

impl Version for v2::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v2::Item {
            id,
            name: m.title.clone(),
            count: u32::try_from(m.count).unwrap(),
            code: code(m),
            tag: m.tag.clone(),
            note: m.note.clone(),
            rank: u16::try_from(m.rank).unwrap(),
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        vec![entry("name", &m.title, id), entry("note", &m.note, id)]
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v2::Item::NAME.eq(t)),
            Probe::Note(n) => Some(v2::Item::NOTE.eq(n.clone())),
            _ => None,
        }
    }
}

impl Version for v3::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v3::Item {
            id,
            title: m.title.clone(),
            count: m.count,
            code: code(m),
            tag: m.tag.clone(),
            note: m.note.clone(),
            rank: m.rank,
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        vec![entry("title", &m.title, id), entry("note", &m.note, id)]
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v3::Item::TITLE.eq(t)),
            Probe::Note(n) => Some(v3::Item::NOTE.eq(n.clone())),
            _ => None,
        }
    }
}

impl Version for v4::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v4::Item {
            id,
            title: m.title.clone(),
            code: code(m),
            count: m.count,
            tag: m.tag.clone(),
            note: m.note.clone(),
            rank: m.rank,
            lang: m.lang.clone(),
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        vec![
            entry("title", &m.title, id),
            entry("note", &m.note, id),
            entry("lang_count", &(m.lang.clone(), m.count), id),
        ]
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v4::Item::TITLE.eq(t)),
            Probe::Note(n) => Some(v4::Item::NOTE.eq(n.clone())),
            Probe::Lang(l) => Some(v4::Item::LANG.eq(l)),
            Probe::LangCount(l, c) => Some(v4::Item::LANG.eq(l) & v4::Item::COUNT.eq(*c)),
            Probe::Code(_) => None,
        }
    }
}

impl Version for v5::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v5::Item {
            id,
            title: m.title.clone(),
            code: code(m),
            count: m.count,
            tag: m.tag.clone(),
            note: m.note.clone(),
            rank: m.rank,
            lang: m.lang.clone(),
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        vec![
            entry("title", &m.title, id),
            entry("lang_count", &(m.lang.clone(), m.count), id),
            unique_entry("code", &code(m), id),
        ]
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v5::Item::TITLE.eq(t)),
            Probe::Code(Some(c)) => Some(v5::Item::CODE.eq(c)),
            Probe::Lang(l) => Some(v5::Item::LANG.eq(l)),
            Probe::LangCount(l, c) => Some(v5::Item::LANG.eq(l) & v5::Item::COUNT.eq(*c)),
            Probe::Code(None) | Probe::Note(_) => None,
        }
    }
    fn get_by_code(tx: &ReadTx, code: &Option<String>) -> Option<drift::Result<Option<Self>>> {
        code.as_ref().map(|c| tx.get_by(v5::Item::CODE, c))
    }
}

impl Version for v6::Item {
    fn from_model(id: u64, m: &ModelItem) -> Self {
        v6::Item {
            id,
            title: m.title.clone(),
            code: m.code.clone(),
            count: m.count,
            note: m.note.clone(),
            rank: m.rank,
            lang: m.lang.clone(),
        }
    }
    fn index_entries(id: u64, m: &ModelItem) -> Vec<(&'static str, Vec<u8>, Vec<u8>)> {
        let mut out = vec![entry("title", &m.title, id), entry("lang_count", &(m.lang.clone(), m.count), id)];
        // A `None` has no entry in a unique index.
        if m.code.is_some() {
            out.push(unique_entry("code", &m.code, id));
        }
        out
    }
    fn filter(p: &Probe) -> Option<Filter<Self>> {
        match p {
            Probe::Title(t) => Some(v6::Item::TITLE.eq(t)),
            Probe::Code(c) => Some(v6::Item::CODE.eq(c.clone())),
            Probe::Lang(l) => Some(v6::Item::LANG.eq(l)),
            Probe::LangCount(l, c) => Some(v6::Item::LANG.eq(l) & v6::Item::COUNT.eq(*c)),
            Probe::Note(_) => None,
        }
    }
    fn get_by_code(tx: &ReadTx, code: &Option<String>) -> Option<drift::Result<Option<Self>>> {
        code.as_ref().map(|c| tx.get_by(v6::Item::CODE, Some(c.clone())))
    }
}

/// Runs `$body` with `$T` the `Item` of version `$v`.
macro_rules! at_version {
    ($v:expr, $T:ident => $body:expr) => {
        match $v {
            1 => {
                type $T = v1::Item;
                $body
            }
            2 => {
                type $T = v2::Item;
                $body
            }
            3 => {
                type $T = v3::Item;
                $body
            }
            4 => {
                type $T = v4::Item;
                $body
            }
            5 => {
                type $T = v5::Item;
                $body
            }
            6 => {
                type $T = v6::Item;
                $body
            }
            v => unreachable!("no version {v}"),
        }
    };
}

// ---------------------------------------------------------------------------------
// Checks.

/// Rows, `get`, and a query through each index for the probes, against the model.
fn check_db<T: Version>(db: &Db, model: &Model, probes: &[Probe]) {
    let expected: Vec<T> = model.iter().map(|(id, m)| T::from_model(*id, m)).collect();
    db.read(|tx| {
        let rows = tx.query::<T>().all()?;
        assert_eq!(rows, expected, "rows at version {}", T::version());
        assert_eq!(tx.query::<T>().count()?, model.len() as u64);
        for (id, m) in model.iter().take(3) {
            assert_eq!(tx.get::<T>(id)?, Some(T::from_model(*id, m)));
        }
        for p in probes {
            let Some(filter) = T::filter(p) else { continue };
            let query = tx.query::<T>().filter(filter);
            let plan = query.explain()?;
            let mut got = query.all()?;
            got.sort_by_key(Entity::key);
            let want: Vec<T> =
                model.iter().filter(|(_, m)| p.matches(m)).map(|(id, m)| T::from_model(*id, m)).collect();
            assert_eq!(got, want, "{p:?} at version {} with plan {plan}", T::version());
            let by_code = match p {
                Probe::Code(code) => T::get_by_code(tx, code),
                _ => None,
            };
            if let Some(found) = by_code {
                assert_eq!(found?, want.first().cloned(), "get_by {p:?} at version {}", T::version());
                assert_eq!(plan.access, Access::UniqueLookup { index: "code".into() }, "{p:?}");
            }
        }
        Ok(())
    })
    .unwrap();
}

/// The file itself: the row table, each index table entry by entry, no entries in
/// index tables the version does not have, and the stored descriptor.
fn check_file<T: Version>(path: &Path, model: &Model) {
    let file = contents(path);
    let v = T::version();
    let table = &*T::SCHEMA.table;
    assert_eq!(file.get(table).map_or(0, BTreeMap::len), model.len(), "rows in the file at version {v}");
    let mut want: BTreeMap<String, Entries> =
        T::SCHEMA.indexes.iter().map(|i| (format!("{table}#{}", i.name), Entries::new())).collect();
    for (id, m) in model {
        for (index, k, val) in T::index_entries(*id, m) {
            let t = want.get_mut(&format!("{table}#{index}")).unwrap_or_else(|| panic!("no index `{index}` in v{v}"));
            assert!(t.insert(k, val).is_none(), "duplicate entry in the model of `{index}`");
        }
    }
    for (name, entries) in &want {
        let got = file.get(name).cloned().unwrap_or_default();
        assert_eq!(got.len(), entries.len(), "entries of `{name}` at version {v}");
        assert_eq!(&got, entries, "entries of `{name}` at version {v}");
    }
    for (name, entries) in &file {
        if name.starts_with(&format!("{table}#")) && !want.contains_key(name) {
            assert!(entries.is_empty(), "`{name}` is no index of version {v} but holds {} entries", entries.len());
        }
    }
    let meta = &file["drift#meta"];
    let stored: serde_json::Value = serde_json::from_slice(&meta[format!("schema/{table}").as_bytes()]).unwrap();
    assert_eq!(stored, serde_json::to_value(T::SCHEMA).unwrap(), "stored descriptor at version {v}");
}

// ---------------------------------------------------------------------------------
// Writes.

#[derive(Debug, Clone)]
enum Op {
    /// Insert when absent, else update.
    Put(u64, Gen),
    Upsert(u64, Gen),
    /// Update an existing row.
    Update(usize, Gen),
    /// Delete an existing row.
    Delete(usize),
    /// Delete a key that may not exist.
    DeleteAny(u64),
}

/// Applies `ops` in one write transaction through `T`'s API, and to the model.
fn apply_ops<T: Version>(db: &Db, model: &mut Model, ops: &[Op]) {
    let v = T::version();
    let pick = |model: &Model, i: &usize| (!model.is_empty()).then(|| *model.keys().nth(*i % model.len()).unwrap());
    db.write(|tx| {
        for op in ops {
            match op {
                Op::Put(id, g) => {
                    let m = g.apply(v, *id, model.get(id));
                    if model.contains_key(id) {
                        tx.update(&T::from_model(*id, &m))?;
                    } else {
                        assert_eq!(tx.insert(&T::from_model(*id, &m))?, *id);
                    }
                    model.insert(*id, m);
                }
                Op::Upsert(id, g) => {
                    let m = g.apply(v, *id, model.get(id));
                    assert_eq!(tx.upsert(&T::from_model(*id, &m))?, *id);
                    model.insert(*id, m);
                }
                Op::Update(i, g) => {
                    let Some(id) = pick(model, i) else { continue };
                    let m = g.apply(v, id, model.get(&id));
                    tx.update(&T::from_model(id, &m))?;
                    model.insert(id, m);
                }
                Op::Delete(i) => {
                    let Some(id) = pick(model, i) else { continue };
                    let old = model.remove(&id).map(|m| T::from_model(id, &m));
                    assert_eq!(tx.delete::<T>(&id)?, old);
                }
                Op::DeleteAny(id) => {
                    let old = model.remove(id).map(|m| T::from_model(*id, &m));
                    assert_eq!(tx.delete::<T>(id)?, old);
                }
            }
        }
        Ok(())
    })
    .unwrap();
}

// ---------------------------------------------------------------------------------
// One case.

#[derive(Debug, Clone)]
struct Case {
    initial: BTreeMap<u64, Gen>,
    /// Strictly increasing: the version that writes the file, then each one that
    /// opens it.
    versions: Vec<u32>,
    /// The writes after each open.
    rounds: Vec<Vec<Op>>,
    /// Rows whose values are probed through the indexes.
    samples: Vec<usize>,
}

fn probes_for(model: &Model, samples: &[usize]) -> Vec<Probe> {
    let mut out = Probe::absent();
    if !model.is_empty() {
        let rows: Vec<&ModelItem> = model.values().collect();
        for s in samples {
            out.extend(Probe::of(rows[*s % rows.len()]));
        }
    }
    out
}

/// Rows whose code an earlier row has: the conflicts of a unique index on `code`.
fn shared_codes(model: &Model) -> usize {
    let distinct: std::collections::BTreeSet<&Option<String>> = model.values().map(|m| &m.code).collect();
    model.len() - distinct.len()
}

/// Opens the file at version `T` (migrating it from `from`, when given), checks it,
/// writes `ops`, and checks again. False when the migration failed as the model
/// expects (rows sharing a code that becomes unique), leaving the file as it was.
fn run_version<T: Version>(
    path: &Path,
    from: Option<u32>,
    records: &mut usize,
    model: &mut Model,
    case: &Case,
    ops: &[Op],
) -> bool {
    let to = T::version();
    let db = match from {
        None => {
            let db = Db::builder().entity::<T>().open(path).unwrap();
            db.write(|tx| {
                for (id, g) in &case.initial {
                    let m = g.apply(to, *id, None);
                    tx.insert(&T::from_model(*id, &m))?;
                    model.insert(*id, m);
                }
                Ok(())
            })
            .unwrap();
            db
        }
        Some(from) => {
            // Without migrations the open is refused and the file left as it was.
            let before = contents(path);
            let err = Db::builder().entity::<T>().open(path).unwrap_err();
            assert_eq!(err.kind(), drift::ErrorKind::SchemaMismatch, "{err}");
            assert_eq!(contents(path), before);
            // A dry run plans one step per version and writes nothing.
            let plan = migrations(from, to).dry_run(&Db::builder().entity::<T>(), path).unwrap();
            let planned: Vec<(&str, u32, u32, u64)> =
                plan.steps.iter().map(|s| (s.entity.as_str(), s.from_version, s.to_version, s.rows)).collect();
            let want: Vec<(&str, u32, u32, u64)> = (from..to).map(|v| ("Item", v, v + 1, model.len() as u64)).collect();
            assert_eq!(planned, want, "plan of v{from} -> v{to}");
            assert!(plan.dropped.is_empty() && plan.left.is_empty(), "{plan}");
            assert_eq!(contents(path), before);
            let conflicts = if from < 5 && 5 <= to { shared_codes(model) } else { 0 };
            if conflicts > 0 {
                let err = Db::builder().entity::<T>().migrations(migrations(from, to)).open(path).unwrap_err();
                match &err {
                    drift::Error::Migration { step, field, reason, .. } => {
                        assert!(step.contains("build unique index `code`"), "{step}");
                        assert_eq!(field.as_deref(), Some("code"));
                        assert!(reason.starts_with(&format!("{conflicts} conflict(s), nothing changed")), "{reason}");
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(contents(path), before, "a failed migration leaves the file as it was");
                return false;
            }
            let db = Db::builder().entity::<T>().migrations(migrations(from, to)).open(path).unwrap();
            let history = applied(&db).unwrap();
            assert_eq!(history.len(), *records + 1, "one record per migration");
            *records += 1;
            let last = history.last().unwrap();
            assert!(last.dropped.is_empty());
            let steps: Vec<(&str, u32, u32, u64)> =
                last.steps.iter().map(|s| (s.entity.as_str(), s.from_version, s.to_version, s.rows)).collect();
            assert_eq!(steps, want, "applied steps of v{from} -> v{to}");
            db
        }
    };
    let probes = probes_for(model, &case.samples);
    check_db::<T>(&db, model, &probes);
    drop(db);
    check_file::<T>(path, model);
    // The file is at version `to` now: it opens without migrations.
    let db = Db::builder().entity::<T>().open(path).unwrap();
    apply_ops::<T>(&db, model, ops);
    let probes = probes_for(model, &case.samples);
    check_db::<T>(&db, model, &probes);
    drop(db);
    check_file::<T>(path, model);
    true
}

/// Runs `case`; the version the file ends at.
fn run_case(case: &Case) -> u32 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.drift");
    let mut model = Model::new();
    let mut records = 0;
    let mut from = None;
    for (&v, ops) in case.versions.iter().zip(&case.rounds) {
        if !at_version!(v, T => run_version::<T>(&path, from, &mut records, &mut model, case, ops)) {
            break;
        }
        from = Some(v);
    }
    // The file is at the last version it migrated to, as the model says; opening it
    // again with the migrations changes nothing and records nothing.
    let last = from.unwrap();
    at_version!(last, T => {
        let db = Db::builder().entity::<T>().open(&path).unwrap();
        check_db::<T>(&db, &model, &probes_for(&model, &case.samples));
        drop(db);
        check_file::<T>(&path, &model);
    });
    let before = contents(&path);
    at_version!(last, T => {
        let db = Db::builder().entity::<T>().migrations(migrations(last, last)).open(&path).unwrap();
        assert_eq!(applied(&db).unwrap().len(), records);
        drop(db);
    });
    let after = contents(&path);
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (name, entries) in &before {
        if name != "drift#meta" {
            assert_eq!(&after[name], entries, "`{name}` after an open with nothing to migrate");
        }
    }
    last
}

// ---------------------------------------------------------------------------------
// Strategies.

/// Empty, short strings over few characters (so values repeat), ASCII, any
/// printable Unicode, and NUL.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        3 => "[ab]{1,2}",
        2 => "[a-zA-Z0-9 ]{0,10}",
        2 => "\\PC{0,6}",
        1 => "[a\\x00é😀]{0,3}",
    ]
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..3u64,
        2 => any::<u32>().prop_map(u64::from),
        2 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

fn gen_values() -> impl Strategy<Value = Gen> {
    (
        text(),
        count(),
        text(),
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.3),
        text(),
        prop::option::of(text()),
        prop_oneof![3 => 0..3u32, 1 => any::<u32>()],
        prop_oneof![Just("en".to_string()), Just("fr".to_string()), text()],
    )
        .prop_map(|(title, count, code, shared, no_code, tag, note, rank, lang)| Gen {
            title,
            count,
            code,
            shared,
            no_code,
            tag,
            note,
            rank,
            lang,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..=500u64, gen_values()).prop_map(|(id, g)| Op::Put(id, g)),
        1 => (1..=500u64, gen_values()).prop_map(|(id, g)| Op::Upsert(id, g)),
        3 => (any::<usize>(), gen_values()).prop_map(|(i, g)| Op::Update(i, g)),
        2 => any::<usize>().prop_map(Op::Delete),
        1 => (1..=500u64).prop_map(Op::DeleteAny),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::btree_map(1..=500u64, gen_values(), 0..60),
        prop::sample::subsequence((1..=LATEST).collect::<Vec<u32>>(), 2..=LATEST as usize),
        prop::collection::vec(prop::collection::vec(op(), 0..16), LATEST as usize),
        prop::collection::vec(any::<usize>(), 3),
    )
        .prop_map(|(initial, versions, rounds, samples)| Case { initial, versions, rounds, samples })
}

/// 24 cases, or `PROPTEST_CASES`; a failure is not written to a regressions file
/// beside the test (one found here is pinned as a deterministic test below).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn automatic_migrations_through_any_chain_of_versions_keep_rows_and_indexes_equal_to_the_model(case in case()) {
        run_case(&case);
    }
}

// ---------------------------------------------------------------------------------
// Deterministic cases.

fn values(title: &str, count: u64, code: &str, note: Option<&str>, lang: &str) -> Gen {
    Gen {
        title: title.into(),
        count,
        code: code.into(),
        shared: false,
        no_code: false,
        tag: format!("tag {title}"),
        note: note.map(Into::into),
        rank: 70_000,
        lang: lang.into(),
    }
}

#[test]
fn a_version_1_file_opened_by_version_6_migrates_through_every_step() {
    let initial: BTreeMap<u64, Gen> = [
        (1, values("a", 1, "x", None, "")),
        (7, values("", u64::from(u32::MAX), "", None, "")),
        (300, values("a", 1, "é😀", None, "")),
    ]
    .into_iter()
    .collect();
    let case = Case {
        initial,
        versions: vec![1, 6],
        rounds: vec![vec![], vec![Op::Put(8, Gen { no_code: true, ..values("b", u64::MAX, "", Some("n"), "fr") })]],
        samples: vec![0, 1, 2],
    };
    assert_eq!(run_case(&case), 6);
}

#[test]
fn every_single_step_with_writes_between_keeps_rows_and_indexes_equal_to_the_model() {
    let mut rounds = Vec::new();
    for v in 1..=LATEST {
        let n = u64::from(v) * 10;
        rounds.push(vec![
            Op::Put(n, values("a", n, "c", Some("a"), "en")),
            Op::Put(n + 1, values("a", 2, "c", None, "fr")),
            Op::Update(1, values("b", 1, "d", Some(""), "en")),
            Op::Delete(0),
        ]);
    }
    let case = Case {
        initial: (1..=5).map(|id| (id, values(["a", "b"][id as usize % 2], id % 2, "i", None, ""))).collect(),
        versions: (1..=LATEST).collect(),
        rounds,
        samples: vec![0, 1, 2],
    };
    assert_eq!(run_case(&case), 6);
}

#[test]
fn a_migration_over_several_chunks_of_rows_keeps_rows_and_indexes_equal_to_the_model() {
    // More rows than a migration reads per chunk (512), across each kind of step.
    let initial = (1..=1300).map(|id| (id, values(["a", "b", ""][id as usize % 3], id % 4, "k", None, ""))).collect();
    let case = Case {
        initial,
        versions: vec![1, 2, 4, 5, 6],
        rounds: vec![
            vec![Op::DeleteAny(512), Op::DeleteAny(513)],
            vec![Op::Put(1024, values("c", 5, "n", Some("x"), "en"))],
            vec![Op::Put(1500, values("a", 1, "k", None, "fr"))],
            vec![],
            vec![Op::Upsert(2, Gen { no_code: true, ..values("a", 0, "", None, "en") })],
        ],
        samples: vec![0, 700, 1299],
    };
    assert_eq!(run_case(&case), 6);
}

#[test]
fn rows_sharing_a_code_fail_the_step_that_makes_it_unique_and_leave_the_file_as_it_was() {
    let shared = |title: &str| Gen { shared: true, ..values(title, 1, "same", None, "") };
    let initial = [(3, shared("a")), (4, values("b", 2, "same", None, "")), (9, shared("c")), (12, shared("d"))];
    let case = Case {
        initial: initial.into_iter().collect(),
        // v2 migrates; v5 fails on keys 9 and 12 (key 4's code is `same#4`); v6 is not reached.
        versions: vec![1, 2, 5, 6],
        rounds: vec![vec![], vec![Op::Put(20, values("e", 3, "other", Some("n"), ""))], vec![], vec![]],
        samples: vec![0, 1, 2],
    };
    assert_eq!(run_case(&case), 2, "the migration to v5 fails");
}

#[test]
fn a_defaulted_field_widened_in_a_later_version_needs_no_transform() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.drift");
    let db = Db::builder().entity::<v1::Item>().open(&path).unwrap();
    let row = v1::Item { id: 1, name: "a".into(), count: 1, code: "c".into(), tag: "t".into() };
    db.write(|tx| tx.insert(&row)).unwrap();
    drop(db);
    // v2 adds `rank: u16` with `default = 1`; v3 widens it to `u32` (and renames
    // `name`, widens `count`).
    let db = Db::builder().entity::<v3::Item>().migrations(Migrations::new().history(history())).open(&path).unwrap();
    let got = db.read(|tx| tx.get::<v3::Item>(&1)).unwrap();
    let want = v3::Item { id: 1, title: "a".into(), count: 1, code: "c".into(), tag: "t".into(), note: None, rank: 1 };
    assert_eq!(got, Some(want));
}

mod level_v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq)]
    pub struct Thing {
        #[drift(primary_key)]
        pub id: u64,
    }
}

mod level_v2 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 2)]
    pub struct Thing {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(default = 7)]
        pub level: u8,
    }
}

mod level_v3 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq)]
    #[drift(version = 3)]
    pub struct Thing {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(renamed_from = "level", default = 7)]
        pub tier: u8,
    }
}

#[test]
fn a_defaulted_field_renamed_in_a_later_version_needs_no_transform() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("things.drift");
    let db = Db::builder().entity::<level_v1::Thing>().open(&path).unwrap();
    db.write(|tx| tx.insert(&level_v1::Thing { id: 1 })).unwrap();
    drop(db);
    let mut history = SchemaHistory::default();
    history.record([<level_v1::Thing as Entity>::SCHEMA]);
    history.record([<level_v2::Thing as Entity>::SCHEMA]);
    history.record([<level_v3::Thing as Entity>::SCHEMA]);
    // v2 adds `level` with `default = 7`; v3 renames it to `tier`.
    let db =
        Db::builder().entity::<level_v3::Thing>().migrations(Migrations::new().history(history)).open(&path).unwrap();
    let got = db.read(|tx| tx.get::<level_v3::Thing>(&1)).unwrap();
    assert_eq!(got, Some(level_v3::Thing { id: 1, tier: 7 }));
}
