use drift::prelude::*;

#[derive(Entity)]
struct User {
    #[drift(primary_key, table = "users")]
    id: u64,
}

fn main() {}
