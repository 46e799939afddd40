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

fn grouped(tx: &ReadTx) -> Result<()> {
    tx.query::<User>().group_by(User::AGE).aggregate((drift::avg(User::NAME),)).all()?;
    Ok(())
}

fn main() {}
