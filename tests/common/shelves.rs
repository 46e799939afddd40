//! Entities of two programs sharing one database: the first knows `Shelf` only; the
//! second adds `Book`, whose rows a shelf's delete must respect (`restrict`).

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Shelf {
    #[drift(primary_key)]
    pub id: u64,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Book {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(index)]
    pub shelf_id: u64,
    #[drift(belongs_to(Shelf, key = shelf_id, on_delete = restrict))]
    pub shelf: BelongsTo<Shelf>,
}
