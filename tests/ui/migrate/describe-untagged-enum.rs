use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Describe)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Name(String),
}

fn main() {}
