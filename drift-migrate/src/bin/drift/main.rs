//! `drift`: the command-line tool of Drift KV. It reads a file through its stored
//! descriptors alone (no struct needed): inspect, check, history, diff, a migration
//! plan, export and import as JSON lines, backup and compact.
//!
//! Every command that only reads (inspect, check, history, diff, migrate
//! --dry-run, export) opens the file read-only and never writes to it.
#![forbid(unsafe_code)]

mod backup;
mod check;
mod cli;
mod diff;
mod export;
mod fail;
mod history;
mod import;
mod inspect;
mod json;
mod open;
mod progress;
mod table;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::fail::Fail;

/// Writes `value` as pretty JSON and a newline.
fn print_json(out: &mut dyn Write, value: &impl serde::Serialize) -> Result<(), Fail> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| {
        if e.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
            Fail::BrokenPipe
        } else {
            Fail::new(format!("cannot write JSON: {e}"))
        }
    })?;
    writeln!(out)?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    fail::quiet_panics();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cli::run(cli, &mut out)));
    let result = match run {
        Ok(r) => r.and_then(|code| out.flush().map(|()| code).map_err(Fail::from)),
        Err(_) => {
            let (message, at) =
                fail::last_panic().unwrap_or_else(|| ("a panic without a message".into(), String::new()));
            Err(Fail::new(format!("internal error (a bug in drift, please report it): {message} at {at}")))
        }
    };
    match result {
        Ok(code) => code,
        // `drift export | head`: the reader has all it wanted.
        Err(Fail::BrokenPipe) => ExitCode::SUCCESS,
        Err(Fail::Message(message)) => {
            drop(out);
            eprintln!("drift: {message}");
            ExitCode::from(fail::USAGE_OR_FILE)
        }
    }
}
