use drift::prelude::*;

#[derive(Entity, Clone)]
union Bits {
    int: u64,
    float: f64,
}

fn main() {}
