use drift::prelude::*;

#[derive(Clone, Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Entity, Clone)]
struct Place {
    #[drift(primary_key)]
    at: Point,
    name: String,
}

fn main() {}
