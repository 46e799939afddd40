use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key, auto_increment)]
    id: String,
    name: String,
}

fn main() {}
