use drift::prelude::*;

// Entities are `Clone`: the decoded-entity cache hands out copies.
#[derive(Entity)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
