use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(index(fields(a, nope)))]
struct Pair {
    #[drift(primary_key)]
    id: u64,
    a: u32,
    b: u32,
}

fn main() {}
