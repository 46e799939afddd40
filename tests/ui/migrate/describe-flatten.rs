use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Describe)]
struct Point {
    x: i32,
    y: i32,
}

// postcard cannot encode a flattened struct (serde writes it as a map of unknown length).
#[derive(Serialize, Deserialize, Describe)]
struct Place {
    name: String,
    #[serde(flatten)]
    at: Point,
}

fn main() {}
