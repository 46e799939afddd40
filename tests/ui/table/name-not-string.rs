use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(table = users)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
