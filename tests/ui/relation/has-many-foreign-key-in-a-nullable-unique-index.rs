use drift::prelude::*;

#[derive(Entity, Clone)]
struct Squad {
    #[drift(primary_key)]
    id: u64,
    #[drift(has_many(Recruit, foreign_key = squad_id))]
    recruits: HasMany<Recruit>,
}

// A recruit with no nick has no entry in this index: it cannot find every recruit.
#[derive(Entity, Clone)]
#[drift(index(fields(squad_id, nick), unique))]
struct Recruit {
    #[drift(primary_key)]
    id: u64,
    squad_id: u64,
    nick: Option<String>,
}

fn main() {}
