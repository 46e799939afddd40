use drift::prelude::*;

#[derive(Entity)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(indexed)]
    name: String,
}

fn main() {}
