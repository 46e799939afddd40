//! `drift import`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::fail::Fail;

pub const LONG_ABOUT: &str = "Rebuilds a database from an export.";

pub fn run(_path: &Path, _input: &Path, _out: &mut dyn Write) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}
