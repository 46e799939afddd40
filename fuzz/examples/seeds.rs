//! Writes seed inputs: valid rows for `row_decode` and small databases for
//! `open_file`, so that the fuzzer starts from inputs that get past the first check.
//!
//! `cargo +nightly run --release --example seeds` (from `fuzz/`).

use drift::Entity;
use drift::prelude::*;
use drift_fuzz::{Note, Sample};

fn sample(i: u8) -> Sample {
    Sample {
        sensor: format!("s{i}\0x"),
        at: f64::from(i) - 1.5,
        level: i32::from(i) * 7 - 20,
        tag: i.is_multiple_of(2).then(|| vec![i, 0, 255]),
        city: ["", "Oslo", "Zürich"][usize::from(i % 3)].into(),
        score: -i16::from(i),
        flags: vec![true, i.is_multiple_of(3)],
        note: Some("é".repeat(usize::from(i))),
        letter: char::from(b'a' + i),
        pairs: vec![(i, "p".into())],
        ratio: 0.25,
        big: u128::MAX / u128::from(i + 1),
    }
}

fn main() -> drift::Result<()> {
    let corpus = std::path::Path::new("corpus");
    let rows = corpus.join("row_decode");
    std::fs::create_dir_all(&rows).expect("corpus dir");
    for i in 0..4u8 {
        let (mut k, mut r) = (Vec::new(), Vec::new());
        let s = sample(i);
        s.__encode_key(&mut k).expect("key");
        s.__encode_row(&mut r).expect("row");
        let mut seed = vec![u8::try_from(k.len()).expect("short key")];
        seed.extend_from_slice(&k);
        seed.extend_from_slice(&r);
        std::fs::write(rows.join(format!("sample-{i}")), seed).expect("seed");
    }
    let files = corpus.join("open_file");
    std::fs::create_dir_all(&files).expect("corpus dir");
    for (name, n) in [("empty", 0u8), ("few", 3)] {
        let path = std::env::temp_dir().join(format!("drift-seed-{}-{name}.drift", std::process::id()));
        {
            let db = Db::builder().entity::<Sample>().entity::<Note>().open(&path)?;
            db.write(|tx| {
                for i in 0..n {
                    tx.insert(&sample(i))?;
                    tx.insert(&Note { title: format!("t{i}"), body: vec![i; 10], ..Default::default() })?;
                }
                Ok(())
            })?;
        }
        std::fs::copy(&path, files.join(name)).expect("seed");
        let _ = std::fs::remove_file(&path);
    }
    Ok(())
}
