use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key, default = 0)]
    id: u64,
    name: String,
}

fn main() {}
