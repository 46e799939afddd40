//! Migrations on Drift, native_db and SQLite: N rows written at version 1, then opened by
//! version 2 and migrated, for three changes (an added `Option` field, an added index, a
//! transform of a string field). Each measurement runs in child processes of this binary:
//! one writes the v1 file, a second only opens and migrates it, so that the second's
//! `VmHWM` (peak resident set) is the migration's peak. Every child checks its result
//! (rows, sample values, the index) and fails on any mismatch, and so does this binary.
//!
//! `--scale`: Drift's `transform` at 100,000 and 1,000,000 rows (`--sizes`) with a 64 MiB
//! page cache (`--page-cache-mib`), and the ratio of the peaks of the largest and smallest.

#![forbid(unsafe_code)]

// The helper modules sit in `migrate/`, beside this file.
#[path = "migrate/data.rs"]
mod data;
#[path = "migrate/drift_arm.rs"]
mod drift_arm;
#[path = "migrate/native_arm.rs"]
mod native_arm;
#[path = "migrate/sqlite_arm.rs"]
mod sqlite_arm;

#[path = "common/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};

use data::{BoxResult, PAGE_CACHE_MIB, Scenario, proc_status_kib};

#[derive(Parser, Debug)]
#[command(about = "Migrations on Drift, native_db and SQLite: time and peak RSS of the migrating process")]
struct Cli {
    /// Rows written at version 1.
    #[arg(long, default_value_t = 100_000)]
    n: u64,
    /// Comma-separated arms, in table order.
    #[arg(long, value_delimiter = ',', default_values_t = Arm::ALL)]
    arms: Vec<Arm>,
    /// Comma-separated scenarios.
    #[arg(long, value_delimiter = ',', default_values_t = Scenario::ALL)]
    scenarios: Vec<Scenario>,
    /// Runs each (scenario, arm) K times on fresh files; reports the median time and peak.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Drift only, `transform` at each of `--sizes`: does the peak grow with N?
    #[arg(long)]
    scale: bool,
    /// Row counts of `--scale`.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000u64, 1_000_000])]
    sizes: Vec<u64>,
    /// Page cache of every arm, in MiB.
    #[arg(long, default_value_t = PAGE_CACHE_MIB)]
    page_cache_mib: usize,
    /// Drift only: prints the migrating child's resident set every this many rows (0: never).
    #[arg(long, default_value_t = 0)]
    trace_rss: u64,
    /// Where the temporary files go (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Internal: run one phase (`write` or `migrate`) of a job in this process.
    #[arg(long, hide = true, num_args = 2, value_names = ["PHASE", "JOB"])]
    child: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum Arm {
    #[value(name = "drift")]
    Drift,
    #[value(name = "native_db")]
    NativeDb,
    #[value(name = "sqlite")]
    Sqlite,
}

impl Arm {
    const ALL: [Arm; 3] = [Arm::Drift, Arm::NativeDb, Arm::Sqlite];

    fn id(self) -> &'static str {
        match self {
            Arm::Drift => "drift",
            Arm::NativeDb => "native_db",
            Arm::Sqlite => "sqlite",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Arm::Drift => "v1.drift",
            Arm::NativeDb => "v1.native_db",
            Arm::Sqlite => "v1.sqlite",
        }
    }
}

impl std::fmt::Display for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.id())
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.id())
    }
}

/// One measurement, as its child processes are given it (JSON).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Job {
    arm: Arm,
    scenario: Scenario,
    n: u64,
    file: PathBuf,
    page_cache_mib: usize,
    trace_rss: u64,
}

impl Job {
    fn page_cache(&self) -> usize {
        self.page_cache_mib << 20
    }
}

/// What a `migrate` child prints on its stdout, one JSON line.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
struct Measured {
    /// Open, migrate and commit, until the handle is ready for use.
    time_ms: f64,
    /// `VmHWM` before opening: the process's own baseline.
    baseline_kib: u64,
    /// `VmHWM` right after the commit: the migration's peak.
    peak_kib: u64,
}

fn run_child(args: &[String]) -> BoxResult<()> {
    let [phase, job] = args else { return Err("--child takes 2 values".into()) };
    let job: Job = serde_json::from_str(job)?;
    let (path, n, scenario, cache) = (job.file.as_path(), job.n, job.scenario, job.page_cache());
    match phase.as_str() {
        "write" => match job.arm {
            Arm::Drift => drift_arm::write_v1(path, n, cache),
            Arm::NativeDb => native_arm::write_v1(path, n, cache),
            Arm::Sqlite => sqlite_arm::write_v1(path, n, cache),
        },
        "migrate" => {
            let baseline_kib = proc_status_kib("VmHWM")?;
            let start = Instant::now();
            // Each arm's handle stays open until verified; the peak is read before that.
            let measure = |start: Instant| -> BoxResult<Measured> {
                let time_ms = start.elapsed().as_secs_f64() * 1e3;
                Ok(Measured { time_ms, baseline_kib, peak_kib: proc_status_kib("VmHWM")? })
            };
            let measured = match job.arm {
                Arm::Drift => {
                    let db = drift_arm::migrate(path, scenario, cache, job.trace_rss)?;
                    let m = measure(start)?;
                    drift_arm::verify(db, path, scenario, n)?;
                    m
                }
                Arm::NativeDb => {
                    let db = native_arm::migrate(path, scenario, cache)?;
                    let m = measure(start)?;
                    native_arm::verify(db, scenario, n)?;
                    m
                }
                Arm::Sqlite => {
                    let conn = sqlite_arm::migrate(path, scenario, cache)?;
                    let m = measure(start)?;
                    sqlite_arm::verify(conn, scenario, n)?;
                    m
                }
            };
            println!("{}", serde_json::to_string(&measured)?);
            Ok(())
        }
        other => Err(format!("unknown phase `{other}`").into()),
    }
}

/// Runs one phase in a child process of this binary; returns its stdout.
fn spawn(phase: &str, job: &Job) -> BoxResult<String> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--child", phase, &serde_json::to_string(job)?])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        let Job { arm, scenario, n, .. } = job;
        return Err(format!("{phase} child of {arm}/{scenario} at n = {n} failed ({})", out.status).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A fresh v1 file written by one child, migrated by another.
fn measure(cli: &Cli, base: &Path, arm: Arm, scenario: Scenario, n: u64) -> BoxResult<Measured> {
    let dir = tempfile::Builder::new().prefix("drift-bench-migrate-").tempdir_in(base)?;
    let job = Job {
        arm,
        scenario,
        n,
        file: dir.path().join(arm.file_name()),
        page_cache_mib: cli.page_cache_mib,
        trace_rss: if arm == Arm::Drift { cli.trace_rss } else { 0 },
    };
    let t = Instant::now();
    spawn("write", &job)?;
    let write_s = t.elapsed().as_secs_f64();
    let out = spawn("migrate", &job)?;
    let m: Measured = serde_json::from_str(out.trim())?;
    eprintln!(
        "  {scenario:<10} {arm:<9} n={n:<9} v1 written in {write_s:>6.1} s; migrated in {:>9.1} ms, peak {:>7.1} MiB (baseline {:.1} MiB)",
        m.time_ms,
        mib(m.peak_kib),
        mib(m.baseline_kib)
    );
    dir.close()?;
    Ok(m)
}

/// Median time and median peak over the runs (runs is not empty).
fn median(runs: &[Measured]) -> Measured {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut peaks: Vec<u64> = runs.iter().map(|m| m.peak_kib).collect();
    peaks.sort_unstable();
    let mut baselines: Vec<u64> = runs.iter().map(|m| m.baseline_kib).collect();
    baselines.sort_unstable();
    Measured {
        time_ms: mid(runs.iter().map(|m| m.time_ms).collect()),
        baseline_kib: baselines[baselines.len() / 2],
        peak_kib: peaks[peaks.len() / 2],
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn compare(cli: &Cli, base: &Path, failures: &mut Vec<String>) {
    let repeat = cli.repeat.max(1);
    let mut rows: Vec<(Scenario, Arm, Measured)> = Vec::new();
    for &scenario in &cli.scenarios {
        let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); cli.arms.len()];
        for rep in 0..repeat {
            // Each run starts with the next arm, so that no arm always runs first.
            let k = cli.arms.len();
            for i in (0..k).map(|j| (j + rep) % k) {
                match measure(cli, base, cli.arms[i], scenario, cli.n) {
                    Ok(m) => runs[i].push(m),
                    Err(e) => failures.push(format!("{}/{scenario}: {e}", cli.arms[i])),
                }
            }
        }
        for (&arm, r) in cli.arms.iter().zip(&runs) {
            if !r.is_empty() {
                rows.push((scenario, arm, median(r)));
            }
        }
    }
    println!(
        "## Migrations: {} rows, median of {repeat} run(s), page cache {} MiB on every arm, SQLite {}\n",
        cli.n,
        cli.page_cache_mib,
        rusqlite::version()
    );
    println!(
        "Time: open, migrate and commit (durable). Peak RSS: `VmHWM` of the process that only opens and migrates.\n"
    );
    println!("| scenario | arm | time ms | peak RSS MiB | time relative to drift |");
    println!("|---|---|---:|---:|---:|");
    for &(scenario, arm, m) in &rows {
        let drift = rows.iter().find(|(s, a, _)| *s == scenario && *a == Arm::Drift).map(|(_, _, d)| d.time_ms);
        let rel = drift.map_or_else(|| "–".to_string(), |d| format!("{:.2}x", m.time_ms / d));
        println!("| {scenario} | {arm} | {:.0} | {:.1} | {rel} |", m.time_ms, mib(m.peak_kib));
    }
    if let Some((_, _, m)) = rows.first() {
        println!("\nBaseline of a child before opening anything: {:.1} MiB.", mib(m.baseline_kib));
    }
}

/// The peak at the largest of `--sizes` over the peak at the smallest, at or under which
/// Drift's migration counts as not growing with N.
const SCALE_TARGET: f64 = 1.5;

fn scale(cli: &Cli, base: &Path, failures: &mut Vec<String>) {
    let repeat = cli.repeat.max(1);
    let mut results = Vec::new();
    for &n in &cli.sizes {
        let mut runs = Vec::new();
        for _ in 0..repeat {
            match measure(cli, base, Arm::Drift, Scenario::Transform, n) {
                Ok(m) => runs.push(m),
                Err(e) => failures.push(format!("drift/transform at {n}: {e}")),
            }
        }
        if !runs.is_empty() {
            results.push((n, median(&runs)));
        }
    }
    println!(
        "## Migration memory by N: drift, transform, page cache {} MiB, median of {repeat} run(s)\n",
        cli.page_cache_mib
    );
    println!("| rows | time ms | peak RSS MiB | peak above baseline MiB |");
    println!("|---:|---:|---:|---:|");
    for (n, m) in &results {
        println!(
            "| {n} | {:.0} | {:.1} | {:.1} |",
            m.time_ms,
            mib(m.peak_kib),
            mib(m.peak_kib.saturating_sub(m.baseline_kib))
        );
    }
    if let [(small_n, small), .., (large_n, large)] = results[..] {
        let ratio = large.peak_kib as f64 / small.peak_kib as f64;
        let above = mib(large.peak_kib.saturating_sub(large.baseline_kib))
            / mib(small.peak_kib.saturating_sub(small.baseline_kib)).max(0.1);
        let verdict = if ratio <= SCALE_TARGET { "met" } else { "missed" };
        println!(
            "\nPeak RSS {large_n} / {small_n} rows: {ratio:.2}x ({above:.2}x above the baseline); target <= {SCALE_TARGET}x: {verdict}."
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(args) = &cli.child {
        return match run_child(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cli.n < 10 {
        eprintln!("error: --n must be at least 10");
        return ExitCode::FAILURE;
    }
    let base = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut failures = Vec::new();
    if cli.scale {
        scale(&cli, &base, &mut failures);
    } else {
        compare(&cli, &base, &mut failures);
    }
    report::finish(&failures)
}
