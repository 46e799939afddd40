use drift::prelude::*;

#[derive(Entity, Clone, Debug)]
struct User {
    #[drift(primary_key)]
    id: u64,
    #[drift(index)]
    age: u32,
    name: String,
}

#[derive(Entity, Clone, Debug)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    title: String,
}

fn total(tx: &ReadTx) -> Result<()> {
    tx.query::<User>().sum(User::NAME)?;
    Ok(())
}

fn main() {}
