//! Row values as JSON.
