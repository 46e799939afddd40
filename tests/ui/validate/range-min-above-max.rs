use drift::prelude::*;

#[derive(Entity, Clone)]
struct Reading {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(range(min = 1.5, max = -1.5)))]
    level: f32,
}

fn main() {}
