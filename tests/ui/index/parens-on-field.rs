use drift::prelude::*;

#[derive(Entity, Clone)]
struct Pair {
    #[drift(primary_key)]
    id: u64,
    #[drift(index(fields(a)))]
    a: u32,
}

fn main() {}
