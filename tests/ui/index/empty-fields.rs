use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(index(fields()))]
struct Pair {
    #[drift(primary_key)]
    id: u64,
    a: u32,
}

fn main() {}
