use drift::prelude::*;

#[derive(Entity)]
struct Marker;

fn main() {}
