use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(range(min = 0.5)))]
    age: u32,
}

fn main() {}
