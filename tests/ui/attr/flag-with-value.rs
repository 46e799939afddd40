use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key = true)]
    id: u64,
}

fn main() {}
