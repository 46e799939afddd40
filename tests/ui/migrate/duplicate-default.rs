use drift::prelude::*;

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(default = 18, default = 21)]
    age: u32,
}

fn main() {}
