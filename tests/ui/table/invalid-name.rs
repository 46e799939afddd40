use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(table = "my table")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
