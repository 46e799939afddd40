use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key, unique)]
    id: u64,
}

fn main() {}
