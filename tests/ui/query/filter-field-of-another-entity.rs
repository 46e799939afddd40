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

fn posts(tx: &ReadTx) -> Result<Vec<Post>> {
    tx.query::<Post>().filter(User::AGE.eq(3)).all()
}

fn main() {}
