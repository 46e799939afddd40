use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(length(min = 1)), validate(length(max = 9)))]
    name: String,
}

fn main() {}
