use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(length(min = 10, max = 5)))]
    name: String,
}

fn main() {}
