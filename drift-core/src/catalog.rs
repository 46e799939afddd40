//! Which tables the registered entities use, by table id.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use crate::schema::EntityDescriptor;
use crate::storage::TableId;

/// The meta table: format marker, stored schemas, sequences.
pub(crate) const META: TableId = 0;
pub(crate) const META_TABLE: &str = "drift#meta";
pub(crate) const FORMAT_KEY: &[u8] = b"format";
pub(crate) const FORMAT_VALUE: &[u8] = b"drift-kv/1";
pub(crate) const SCHEMA_PREFIX: &str = "schema/";
pub(crate) const SEQ_PREFIX: &str = "seq/";

/// One registered entity and its tables.
#[derive(Debug)]
pub(crate) struct EntityInfo {
    pub(crate) schema: &'static EntityDescriptor,
    /// The table of rows: encoded key -> postcard row.
    pub(crate) table: TableId,
    /// One table per `schema.indexes[i]`.
    pub(crate) indexes: Vec<TableId>,
    /// Position in `Catalog::entities`.
    pub(crate) ordinal: usize,
}

/// The registered entities.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub(crate) names: Arc<[String]>,
    pub(crate) entities: Vec<EntityInfo>,
    by_type: HashMap<TypeId, usize>,
}

impl Catalog {
    pub(crate) fn new(registered: &[(TypeId, &'static EntityDescriptor)]) -> Catalog {
        let mut names = vec![META_TABLE.to_string()];
        let mut entities = Vec::new();
        let mut by_type = HashMap::new();
        for (ordinal, (tid, schema)) in registered.iter().enumerate() {
            let table = names.len();
            names.push(schema.table.to_string());
            let mut indexes = Vec::new();
            for idx in schema.indexes.iter() {
                indexes.push(names.len());
                names.push(format!("{}#{}", schema.table, idx.name));
            }
            by_type.insert(*tid, ordinal);
            entities.push(EntityInfo { schema, table, indexes, ordinal });
        }
        Catalog { names: names.into(), entities, by_type }
    }

    pub(crate) fn get(&self, tid: TypeId) -> Option<&EntityInfo> {
        self.by_type.get(&tid).map(|&i| &self.entities[i])
    }
}
