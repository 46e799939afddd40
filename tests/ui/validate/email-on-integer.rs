use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(email))]
    contact: Option<u64>,
}

fn main() {}
