//! `drift backup` and `drift compact`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::fail::Fail;

pub fn backup(_path: &Path, _dest: &Path, _out: &mut dyn Write) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}

pub fn compact(_path: &Path, _out: &mut dyn Write) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}
