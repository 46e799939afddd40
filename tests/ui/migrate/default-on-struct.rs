use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(default = 0)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
