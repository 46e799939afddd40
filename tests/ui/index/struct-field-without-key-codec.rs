use drift::prelude::*;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Money {
    cents: i64,
    currency: String,
}

#[derive(Entity, Clone)]
struct Order {
    #[drift(primary_key)]
    id: u64,
    #[drift(unique)]
    total: Money,
}

fn main() {}
