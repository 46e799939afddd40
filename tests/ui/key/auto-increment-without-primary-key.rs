use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(auto_increment)]
    seq: u64,
}

fn main() {}
