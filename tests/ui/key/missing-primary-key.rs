use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    id: u64,
    name: String,
}

fn main() {}
