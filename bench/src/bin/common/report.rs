//! What the extra bench binaries print the same way: numbers with thousands separators,
//! and the end of a run (every arm's own checks).
//!
//! Each binary includes it with `#[path]` and uses part of it.
#![allow(dead_code)]

use std::process::ExitCode;

/// `n` with a comma every three digits: `20000` -> `20,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints the failed checks, or that all passed; the exit code says which.
pub fn finish(failures: &[String]) -> ExitCode {
    if failures.is_empty() {
        eprintln!("all checks passed");
        ExitCode::SUCCESS
    } else {
        for f in failures {
            eprintln!("CHECK FAILED: {f}");
        }
        ExitCode::FAILURE
    }
}
