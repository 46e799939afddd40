use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(default = "eighteen")]
    age: u32,
}

fn main() {}
