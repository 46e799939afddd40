use drift::prelude::*;

#[derive(Entity, Clone)]
struct Membership {
    #[drift(primary_key, auto_increment)]
    group: u64,
    #[drift(primary_key)]
    user: u64,
}

fn main() {}
