use drift::prelude::*;

#[derive(Clone, Default)]
struct Account {
    id: u64,
}

#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    account_id: u64,
    #[drift(belongs_to(Account, key = account_id))]
    account: BelongsTo<Account>,
}

fn main() {}
