use drift::prelude::*;

#[derive(Entity)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(unique, unique)]
    email: String,
}

fn main() {}
