use drift::prelude::*;

fn positive(n: &i64) -> Result<(), String> {
    if *n > 0 { Ok(()) } else { Err("must be positive".into()) }
}

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate(custom = positive))]
    name: String,
}

fn main() {}
