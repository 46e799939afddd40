//! native_db 0.8 with native_model 0.4: each scenario's version 2 is a new model version
//! (`from = PostV1`, with `From` both ways, as native_model requires), and the migration is
//! `rw.migrate::<PostV2>()` in one write transaction after opening with both versions defined.

use std::path::Path;
use std::sync::LazyLock;

use native_db::{Builder, Database, Models, ToInput, ToKey, native_db};
use native_model::{Model, native_model};
use serde::{Deserialize, Serialize};

use crate::data::{self, BoxResult, PROBE_LIKES, Scenario, check};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 1, version = 1)]
#[native_db]
pub struct PostV1 {
    #[primary_key]
    pub id: u64,
    pub title: String,
    pub body: String,
    pub likes: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 1, version = 2, from = PostV1)]
#[native_db]
pub struct PostAddOption {
    #[primary_key]
    pub id: u64,
    pub title: String,
    pub body: String,
    pub likes: u32,
    pub pinned: Option<bool>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 1, version = 2, from = PostV1)]
#[native_db]
pub struct PostAddIndex {
    #[primary_key]
    pub id: u64,
    pub title: String,
    pub body: String,
    #[secondary_key]
    pub likes: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 1, version = 2, from = PostV1)]
#[native_db]
pub struct PostTransform {
    #[primary_key]
    pub id: u64,
    pub title: String,
    pub body: String,
    pub likes: u32,
}

impl From<PostV1> for PostAddOption {
    fn from(p: PostV1) -> Self {
        PostAddOption { id: p.id, title: p.title, body: p.body, likes: p.likes, pinned: None }
    }
}

impl From<PostAddOption> for PostV1 {
    fn from(p: PostAddOption) -> Self {
        PostV1 { id: p.id, title: p.title, body: p.body, likes: p.likes }
    }
}

impl From<PostV1> for PostAddIndex {
    fn from(p: PostV1) -> Self {
        PostAddIndex { id: p.id, title: p.title, body: p.body, likes: p.likes }
    }
}

impl From<PostAddIndex> for PostV1 {
    fn from(p: PostAddIndex) -> Self {
        PostV1 { id: p.id, title: p.title, body: p.body, likes: p.likes }
    }
}

impl From<PostV1> for PostTransform {
    fn from(p: PostV1) -> Self {
        PostTransform { id: p.id, title: p.title.to_uppercase(), body: p.body, likes: p.likes }
    }
}

/// Not an inverse (the old title's case is gone); native_model requires a downgrade.
impl From<PostTransform> for PostV1 {
    fn from(p: PostTransform) -> Self {
        PostV1 { id: p.id, title: p.title, body: p.body, likes: p.likes }
    }
}

/// Version 1 and the scenario's version 2: native_db migrates between models defined together.
fn models_with<T: ToInput>() -> Models {
    let mut models = Models::new();
    models.define::<PostV1>().expect("PostV1 model");
    models.define::<T>().expect("version 2 model");
    models
}

static V1: LazyLock<Models> = LazyLock::new(|| {
    let mut models = Models::new();
    models.define::<PostV1>().expect("PostV1 model");
    models
});
static ADD_OPTION: LazyLock<Models> = LazyLock::new(models_with::<PostAddOption>);
static ADD_INDEX: LazyLock<Models> = LazyLock::new(models_with::<PostAddIndex>);
static TRANSFORM: LazyLock<Models> = LazyLock::new(models_with::<PostTransform>);

fn builder(page_cache: usize) -> Builder {
    let mut b = Builder::new();
    b.set_cache_size(page_cache);
    b
}

pub fn write_v1(path: &Path, n: u64, page_cache: usize) -> BoxResult<()> {
    let db = builder(page_cache).create(&V1, path)?;
    for ids in data::batches(n) {
        let rw = db.rw_transaction()?;
        for id in ids {
            rw.insert(PostV1 { id, title: data::title(id), body: data::body(id), likes: data::likes(id) })?;
        }
        rw.commit()?;
    }
    check("v1 rows", db.r_transaction()?.len().primary::<PostV1>()?, n)
}

/// Opens the v1 file at `path` with both versions defined and migrates its rows.
pub fn migrate(path: &Path, scenario: Scenario, page_cache: usize) -> BoxResult<Database<'static>> {
    let models: &'static Models = match scenario {
        Scenario::AddOption => &ADD_OPTION,
        Scenario::AddIndex => &ADD_INDEX,
        Scenario::Transform => &TRANSFORM,
    };
    let db = builder(page_cache).open(models, path)?;
    let rw = db.rw_transaction()?;
    match scenario {
        Scenario::AddOption => rw.migrate::<PostAddOption>()?,
        Scenario::AddIndex => rw.migrate::<PostAddIndex>()?,
        Scenario::Transform => rw.migrate::<PostTransform>()?,
    }
    rw.commit()?;
    Ok(db)
}

/// Rows at version 2, none left at version 1, sample values, and (for `add_index`) the
/// new secondary key.
pub fn verify(db: Database<'static>, scenario: Scenario, n: u64) -> BoxResult<()> {
    let r = db.r_transaction()?;
    check("rows left at version 1", r.len().primary::<PostV1>()?, 0)?;
    let samples = data::sample_ids(n);
    match scenario {
        Scenario::AddOption => {
            check("rows", r.len().primary::<PostAddOption>()?, n)?;
            for id in samples {
                let want = PostAddOption {
                    id,
                    title: data::title(id),
                    body: data::body(id),
                    likes: data::likes(id),
                    pinned: None,
                };
                check("sample row", r.get().primary::<PostAddOption>(id)?, Some(want))?;
            }
        }
        Scenario::AddIndex => {
            check("rows", r.len().primary::<PostAddIndex>()?, n)?;
            for id in samples {
                let want = PostAddIndex { id, title: data::title(id), body: data::body(id), likes: data::likes(id) };
                check("sample row", r.get().primary::<PostAddIndex>(id)?, Some(want))?;
            }
            let mut found = 0;
            for p in r.scan().secondary::<PostAddIndex>(PostAddIndexKey::likes)?.range(PROBE_LIKES..=PROBE_LIKES)? {
                check("likes of a row found through the index", p?.likes, PROBE_LIKES)?;
                found += 1;
            }
            check("rows found through the likes index", found, data::probe_count(n))?;
            check("likes index entries", r.len().secondary::<PostAddIndex>(PostAddIndexKey::likes)?, n)?;
        }
        Scenario::Transform => {
            check("rows", r.len().primary::<PostTransform>()?, n)?;
            for id in samples {
                let want = PostTransform {
                    id,
                    title: data::title_v2(id, scenario),
                    body: data::body(id),
                    likes: data::likes(id),
                };
                check("sample row", r.get().primary::<PostTransform>(id)?, Some(want))?;
            }
        }
    }
    Ok(())
}
