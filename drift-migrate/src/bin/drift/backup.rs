//! `drift backup` (a copy of every table from one read snapshot, then checked) and
//! `drift compact`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_core::raw::Entries;

use crate::fail::{self, Fail};
use crate::import::ensure_table;
use crate::open;
use crate::table::count;

/// Entries copied per chunk.
const CHUNK: usize = 1024;

/// `drift backup FILE DEST`: exit code 1 when the copy's check finds problems.
pub fn backup(path: &Path, dest: &Path, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    if dest.exists() {
        return Err(Fail::new(format!("{} already exists; backup writes a new file", dest.display())));
    }
    let raw = open::read(path)?;
    let err = |e| fail::db(path, e);
    let tables: Vec<String> = raw.table_names().to_vec();
    let mut total = 0;
    for t in &tables {
        total += raw.count(t).map_err(err)?;
    }
    // Written beside DEST and renamed once complete: a DEST that exists is whole.
    let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = dest.file_name().map_or_else(|| "drift".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.backup-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let copied = copy(&raw, path, &tables, total, &tmp);
    drop(raw);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, dest).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Fail::new(format!("cannot move the copy to {}: {e}", dest.display()))
    })?;
    writeln!(
        out,
        "copied {} ({}) of {} to {}",
        count(tables.len() as u64, "table"),
        count(total, "entry"),
        path.display(),
        dest.display()
    )?;
    let copy = open::read(dest)?;
    let report = crate::check::check_raw(&copy, dest)?;
    let code = crate::check::print(&report, dest, false, out)?;
    if !report.is_ok() {
        eprintln!("drift: the copy has the problems listed; they are in {} too.", path.display());
    }
    Ok(code)
}

/// Copies every entry of `tables` from `raw` into a new file at `tmp`, in one write
/// transaction.
fn copy(raw: &drift_core::raw::RawRead, path: &Path, tables: &[String], total: u64, tmp: &Path) -> Result<(), Fail> {
    let mut w = drift_core::raw::open_write(tmp, tables).map_err(|e| fail::db(tmp, e))?;
    let werr = |e| fail::db(tmp, e);
    let bar = crate::progress::bar(total, "copying", "entries");
    let mut chunk: Entries = Vec::with_capacity(CHUNK);
    for t in tables {
        ensure_table(&mut w, t).map_err(werr)?;
        let mut last: Option<Vec<u8>> = None;
        loop {
            raw.chunk(t, last.as_deref(), CHUNK, &mut chunk).map_err(|e| fail::db(path, e))?;
            let Some((k, _)) = chunk.last() else { break };
            last = Some(k.clone());
            for (k, v) in &chunk {
                w.put(t, k, v).map_err(werr)?;
            }
            bar.inc(chunk.len() as u64);
        }
    }
    bar.finish_and_clear();
    w.commit().map_err(werr)
}

/// `drift compact FILE`.
pub fn compact(path: &Path, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    // Refuse what is not a Drift file before opening it for writing.
    drop(open::read(path)?);
    let size = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let before = size();
    let spinner = crate::progress::spinner(&format!("compacting {}", path.display()));
    // A `Db` with no entity opens any Drift file: the stored descriptors are kept as
    // they are.
    let compacted = drift_core::Db::builder().open(path).and_then(|db| db.compact());
    spinner.finish_and_clear();
    let compacted = compacted.map_err(|e| fail::db(path, e))?;
    let after = size();
    if compacted {
        writeln!(out, "compacted {}: {before} -> {after} bytes", path.display())?;
    } else {
        writeln!(out, "{}: nothing to compact ({after} bytes)", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
