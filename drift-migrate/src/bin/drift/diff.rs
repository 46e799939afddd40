//! `drift diff` and `drift migrate --dry-run`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::fail::Fail;

pub fn diff(_path: &Path, _history: &Path, _json: bool, _out: &mut dyn Write) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}

pub fn plan(_path: &Path, _history: &Path, _json: bool, _out: &mut dyn Write) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}
