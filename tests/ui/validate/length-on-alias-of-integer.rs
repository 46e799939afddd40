use drift::prelude::*;

type Age = u32;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(length(max = 3)))]
    age: Age,
}

fn main() {}
