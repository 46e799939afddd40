use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(tabel = "users")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
