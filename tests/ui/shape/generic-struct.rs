use drift::prelude::*;

#[derive(Entity, Clone)]
struct Wrapper<T> {
    #[drift(primary_key)]
    id: u64,
    value: T,
}

fn main() {}
