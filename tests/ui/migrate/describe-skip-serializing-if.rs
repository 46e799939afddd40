use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Describe)]
struct Profile {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bio: Option<String>,
}

fn main() {}
