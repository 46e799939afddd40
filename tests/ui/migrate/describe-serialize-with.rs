use drift::prelude::*;
use serde::{Deserialize, Serialize, Serializer};

fn as_text<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

#[derive(Serialize, Deserialize, Describe)]
struct Version {
    #[serde(serialize_with = "as_text")]
    major: u32,
}

fn main() {}
