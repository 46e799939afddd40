use drift::prelude::*;

#[derive(Entity, Clone)]
struct Marker;

fn main() {}
