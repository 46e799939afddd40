use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(regex = "^[a-z+$"))]
    handle: String,
}

fn main() {}
