use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(length(max = 3)))]
    age: u32,
}

fn main() {}
