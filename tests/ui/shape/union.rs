use drift::prelude::*;

#[derive(Entity)]
union Bits {
    int: u64,
    float: f64,
}

fn main() {}
