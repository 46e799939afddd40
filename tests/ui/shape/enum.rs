use drift::prelude::*;

#[derive(Entity, Clone)]
enum Shape {
    Circle { r: u64 },
    Square { side: u64 },
}

fn main() {}
