//! `drift history`: the records of applied migrations the file stores.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use drift_migrate::AppliedMigration;

use crate::fail::{self, Fail};
use crate::open;
use crate::table;

/// `YYYY-MM-DD HH:MM:SS UTC` of a time in milliseconds since the Unix epoch.
fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn write_human(path: &Path, applied: &[AppliedMigration], out: &mut dyn Write) -> std::io::Result<()> {
    if applied.is_empty() {
        return writeln!(out, "{}: no migrations applied", path.display());
    }
    writeln!(out, "{}: {} applied", path.display(), table::count(applied.len() as u64, "migration"))?;
    for (i, m) in applied.iter().enumerate() {
        writeln!(out)?;
        writeln!(out, "{}. {}, took {} ms", i + 1, utc(m.at_unix_ms), m.duration_ms)?;
        for s in &m.steps {
            writeln!(out, "   {} v{} -> v{}: {}", s.entity, s.from_version, s.to_version, table::count(s.rows, "row"))?;
            for c in &s.changes {
                writeln!(out, "     - {c}")?;
            }
        }
        for d in &m.dropped {
            writeln!(out, "   {d}: dropped with its rows")?;
        }
    }
    Ok(())
}

/// `drift history FILE [--json]`.
pub fn run(path: &Path, json: bool, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    let raw = open::read(path)?;
    let records = raw.history().map_err(|e| fail::db(path, e))?;
    let applied = drift_migrate::parse_history(&records).map_err(|e| fail::db(path, e))?;
    if json {
        crate::print_json(out, &applied)?;
    } else {
        write_human(path, &applied, out)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_renders_a_civil_date() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_827_696_000), "2000-02-29 12:34:56 UTC");
        assert_eq!(super::utc(1_767_225_599_000), "2025-12-31 23:59:59 UTC");
    }
}
