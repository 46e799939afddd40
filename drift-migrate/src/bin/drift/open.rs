//! Opening a file read-only, with the CLI's messages.

use std::path::Path;

use drift_core::raw::RawRead;

use crate::fail::{self, Fail};

/// The meta table's name (docs/format.md, "Meta table").
pub const META_TABLE: &str = "drift#meta";

/// A read-only snapshot of the Drift file at `path`; never writes to it.
///
/// # Errors
/// When the file is missing, empty, not a Drift database, damaged past reading, or
/// open in another process.
pub fn read(path: &Path) -> Result<RawRead, Fail> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Fail::new(format!("{} does not exist", path.display())));
        }
        Err(e) => return Err(Fail::new(format!("cannot read {}: {e}", path.display()))),
        Ok(m) if m.is_dir() => return Err(Fail::new(format!("{} is a directory, not a Drift file", path.display()))),
        Ok(_) => {}
    }
    match drift_core::raw::open_read(path) {
        Ok(Some(raw)) => Ok(raw),
        Ok(None) => Err(Fail::new(format!("{} is empty: not a Drift database", path.display()))),
        Err(e) => Err(fail::db(path, e)),
    }
}

/// The format marker the file holds, if any.
pub fn format_marker(raw: &RawRead, path: &Path) -> Result<Option<String>, Fail> {
    let bytes = raw.get(META_TABLE, b"format").map_err(|e| fail::db(path, e))?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}
