use drift::prelude::*;

#[derive(Entity)]
struct User(u64, String);

fn main() {}
