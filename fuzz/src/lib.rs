//! Entities shared by the fuzz targets.
#![forbid(unsafe_code)]

use drift::prelude::*;

/// Every kind of field: a composite key with a float, a multi-field index, options,
/// collections and nested values in the row.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(city, score)))]
pub struct Sample {
    #[drift(primary_key)]
    pub sensor: String,
    #[drift(primary_key)]
    pub at: f64,
    #[drift(index)]
    pub level: i32,
    #[drift(unique)]
    pub tag: Option<Vec<u8>>,
    pub city: String,
    pub score: i16,
    pub flags: Vec<bool>,
    pub note: Option<String>,
    pub letter: char,
    pub pairs: Vec<(u8, String)>,
    pub ratio: f32,
    pub big: u128,
}

/// A plain auto-increment entity.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Note {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub title: String,
    pub body: Vec<u8>,
}
