use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(length(minimum = 1)))]
    name: String,
}

fn main() {}
