use drift::prelude::*;

#[derive(Entity)]
#[drift]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
