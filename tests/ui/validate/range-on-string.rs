use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(range(min = 1, max = 64)))]
    name: String,
}

fn main() {}
