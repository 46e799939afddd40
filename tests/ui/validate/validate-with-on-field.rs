use drift::prelude::*;

fn check(_: &String) -> Result<(), String> {
    Ok(())
}

#[derive(Entity, Clone)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(validate_with = check)]
    email: String,
}

fn main() {}
