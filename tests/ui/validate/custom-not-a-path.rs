use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(custom = "check_name"))]
    name: String,
}

fn main() {}
