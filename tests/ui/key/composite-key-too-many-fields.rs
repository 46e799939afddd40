use drift::prelude::*;

#[derive(Entity, Clone)]
struct Wide {
    #[drift(primary_key)]
    a: u8,
    #[drift(primary_key)]
    b: u8,
    #[drift(primary_key)]
    c: u8,
    #[drift(primary_key)]
    d: u8,
    #[drift(primary_key)]
    e: u8,
    #[drift(primary_key)]
    f: u8,
    #[drift(primary_key)]
    g: u8,
}

fn main() {}
