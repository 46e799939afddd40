use drift::prelude::*;

#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    tags: Vec<String>,
}

fn main() {}
