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

fn adults(tx: &ReadTx) -> Result<Vec<User>> {
    tx.query::<User>().having(drift::count().gt(2)).all()
}

fn main() {}
