use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Describe)]
#[serde(tag = "kind")]
enum Shape {
    Circle { radius: f64 },
    Square { side: f64 },
}

fn main() {}
