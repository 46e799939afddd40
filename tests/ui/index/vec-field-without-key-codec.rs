use drift::prelude::*;

#[derive(Entity)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    tags: Vec<String>,
}

fn main() {}
