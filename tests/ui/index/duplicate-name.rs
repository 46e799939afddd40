use drift::prelude::*;

#[derive(Entity, Clone)]
#[drift(index(name = "by_a", fields(a)))]
#[drift(index(name = "by_a", fields(a, b)))]
struct Pair {
    #[drift(primary_key)]
    id: u64,
    a: u32,
    b: u32,
}

fn main() {}
