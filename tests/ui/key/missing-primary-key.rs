use drift::prelude::*;

#[derive(Entity)]
struct User {
    id: u64,
    name: String,
}

fn main() {}
