//! Why a command stopped, as a sentence for stderr, and the exit codes.

use std::fmt::Display;
use std::path::Path;
use std::sync::Mutex;

/// Exit code: `check` (or the check after `import` / `backup`) found problems.
pub const PROBLEMS: u8 = 1;
/// Exit code: a usage error, or a file that cannot be read, written or used.
pub const USAGE_OR_FILE: u8 = 2;

/// A command's failure: a message (exit code 2), or a closed stdout.
#[derive(Debug)]
pub enum Fail {
    /// A sentence for stderr.
    Message(String),
    /// Stdout was closed by its reader; not an error.
    BrokenPipe,
}

impl Fail {
    /// A failure with `message`, ending with a full stop.
    pub fn new(message: impl Display) -> Fail {
        let mut m = message.to_string();
        if !m.ends_with(['.', '?', '!']) {
            m.push('.');
        }
        Fail::Message(m)
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Fail::BrokenPipe
        } else {
            Fail::new(format!("cannot write the output: {e}"))
        }
    }
}

/// The message of the last panic, caught or not.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Replaces the panic hook's printout with a record of the message: the storage
/// engine panics on some damaged files, drift-core catches those panics and
/// returns an error, and the CLI words it (with the engine's message) instead of
/// printing a panic report.
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((message, at));
    }));
}

/// The message of the last panic and where it was raised, taken.
pub fn last_panic() -> Option<(String, String)> {
    LAST_PANIC.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

/// What the engine says about a file, as the CLI says it. A file another process
/// has open is the common case here: redb locks the whole file for its writer and
/// refuses any other open, read-only ones included; drift-core words that error for
/// an open inside one process.
pub fn db(path: &Path, e: drift_core::Error) -> Fail {
    let display = path.display();
    match e {
        drift_core::Error::Storage(s) if s.to_string().contains("is already open") => Fail::new(format!(
            "{display} is open in another process (or locked by another `drift`): redb locks the whole file \
             while a program has it open and refuses any other open, read-only ones included; run this when \
             the program has closed the file, or check from inside it with `db.check()`"
        )),
        drift_core::Error::NotADatabase { reason, .. } => match last_panic() {
            Some((engine, _)) => Fail::new(format!(
                "{display} is not a Drift database, or is damaged: {reason} (the engine said: {engine})"
            )),
            None => Fail::new(format!("{display} is not a Drift database, or is damaged: {reason}")),
        },
        other => Fail::new(format!("{display}: {other}")),
    }
}
