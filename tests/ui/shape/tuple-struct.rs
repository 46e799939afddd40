use drift::prelude::*;

#[derive(Entity, Clone)]
struct User(u64, String);

fn main() {}
