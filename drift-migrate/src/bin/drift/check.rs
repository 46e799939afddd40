//! `drift check`: drift-core's [`check`](drift_core::check::check) on a read-only
//! snapshot.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_core::ProblemKind;
use drift_core::check::{CheckReport, Problem};
use drift_core::raw::RawRead;
use serde::Serialize;

use crate::fail::{self, Fail};
use crate::open;

/// A report, as `--json` prints it.
#[derive(Debug, Serialize)]
struct ReportJson<'a> {
    file: String,
    ok: bool,
    entities: u64,
    rows: u64,
    index_entries: u64,
    problem_count: u64,
    problems: Vec<ProblemJson<'a>>,
    /// Entities whose rows could not be read (a field type without a stored shape).
    unchecked: &'a [String],
}

#[derive(Debug, Serialize)]
struct ProblemJson<'a> {
    kind: &'static str,
    entity: &'a str,
    index: Option<&'a str>,
    relation: Option<&'a str>,
    key: Option<&'a str>,
    detail: &'a str,
}

/// A problem kind's stable name for scripts.
fn kind_name(kind: ProblemKind) -> &'static str {
    match kind {
        ProblemKind::Unreadable => "unreadable_descriptor",
        ProblemKind::Undecodable => "undecodable_row",
        ProblemKind::MissingIndexEntry => "missing_index_entry",
        ProblemKind::StaleIndexEntry => "stale_index_entry",
        ProblemKind::DuplicateUnique => "duplicate_unique",
        ProblemKind::DanglingForeignKey => "dangling_foreign_key",
        ProblemKind::SequenceBehind => "sequence_behind",
        _ => "other",
    }
}

fn problem_json(p: &Problem) -> ProblemJson<'_> {
    ProblemJson {
        kind: kind_name(p.kind),
        entity: &p.entity,
        index: p.index.as_deref(),
        relation: p.relation.as_deref(),
        key: p.key.as_deref(),
        detail: &p.detail,
    }
}

/// Checks the snapshot `raw` of `path`, with a spinner on a terminal.
///
/// # Errors
/// When the store fails or a descriptor cannot be read.
pub fn check_raw(raw: &RawRead, path: &Path) -> Result<CheckReport, Fail> {
    let spinner = crate::progress::spinner(&format!("checking {}", path.display()));
    let report = drift_core::check::check(raw).map_err(|e| fail::db(path, e));
    spinner.finish_and_clear();
    report
}

/// Writes `report` for people or as JSON; the exit code it calls for.
pub fn print(report: &CheckReport, path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    if json {
        crate::print_json(
            out,
            &ReportJson {
                file: path.display().to_string(),
                ok: report.is_ok(),
                entities: report.entities,
                rows: report.rows,
                index_entries: report.index_entries,
                problem_count: report.problem_count,
                problems: report.problems.iter().map(problem_json).collect(),
                unchecked: &report.unchecked,
            },
        )?;
    } else {
        write!(out, "{}: {report}", path.display())?;
    }
    Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(fail::PROBLEMS) })
}

/// `drift check FILE [--json]`: exit code 1 when there are problems.
pub fn run(path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    let raw = open::read(path)?;
    let report = check_raw(&raw, path)?;
    print(&report, path, json, out)
}
