//! `drift export`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::Format;
use crate::fail::Fail;

pub const LONG_ABOUT: &str = "Writes rows through the stored descriptors.";

pub fn run(
    _path: &Path,
    _entity: Option<&str>,
    _format: Format,
    _output: Option<&Path>,
    _out: &mut dyn Write,
) -> Result<ExitCode, Fail> {
    Err(Fail::new("not implemented yet"))
}
