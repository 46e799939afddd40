use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(version = "2")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
