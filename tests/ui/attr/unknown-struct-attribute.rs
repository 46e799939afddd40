use drift::prelude::*;

#[derive(Entity)]
#[drift(tabel = "users")]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
