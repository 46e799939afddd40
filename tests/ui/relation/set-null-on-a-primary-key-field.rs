use drift::prelude::*;

#[derive(Entity, Clone)]
struct Folder {
    #[drift(primary_key)]
    id: u64,
}

// A set_null would change the row's key: the derive refuses it.
#[derive(Entity, Clone)]
struct Entry {
    #[drift(primary_key)]
    folder_id: Option<u64>,
    #[drift(primary_key)]
    n: u32,
    #[drift(belongs_to(Folder, key = folder_id, on_delete = set_null))]
    folder: BelongsTo<Folder>,
}

fn main() {}
