use drift::prelude::*;

fn check(user: &User) -> bool {
    user.id > 0
}

#[derive(Entity, Clone)]
#[drift(validate_with = check)]
struct User {
    #[drift(primary_key)]
    id: u64,
}

fn main() {}
