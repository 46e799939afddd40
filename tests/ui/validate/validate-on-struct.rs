use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(validate(email))]
struct User {
    #[drift(primary_key)]
    id: u64,
    email: String,
}

fn main() {}
