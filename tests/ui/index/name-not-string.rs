use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(index(name = by_a, fields(a)))]
struct Pair {
    #[drift(primary_key)]
    id: u64,
    a: u32,
}

fn main() {}
