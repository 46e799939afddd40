use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Describe)]
struct Session {
    user: u64,
    #[serde(skip_serializing)]
    token: String,
}

fn main() {}
