use drift::prelude::*;

#[derive(Entity)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(auto_increment)]
    seq: u64,
}

fn main() {}
