use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(range(min = -1, max = 300)))]
    level: u8,
}

fn main() {}
