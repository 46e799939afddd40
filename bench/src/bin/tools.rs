//! The `drift` tools over N rows: `check` (drift-core's library call on a read-only
//! snapshot), `export` to JSON lines and `backup` (both through the real `drift` binary),
//! at 100,000 and 1,000,000 rows by default (`--sizes`). The file: N rows in all, N / 3
//! `User`s (a unique `email`, an indexed `age`) and the rest `Post`s (a `belongs_to` its
//! author, which indexes `author_id`, and an indexed `likes`).
//!
//! Each measurement runs in a child process of this binary (`--child measure`) that spawns
//! exactly one process, the operation (the `drift` binary, or this binary again with
//! `--child run` for the library calls), waits for it, and reads `getrusage(RUSAGE_CHILDREN)`:
//! its `ru_maxrss` is then that one process's peak resident set. Time is the operation's
//! process from spawn to exit. Every result is verified, and any mismatch fails the run.
//!
//! The `drift` binary must be built first: `cargo build --release -p drift-migrate --bin drift`
//! (found at `target/release/drift` of this workspace, or `--drift-bin`).
#![forbid(unsafe_code)]

#[path = "tools/data.rs"]
mod data;
#[path = "tools/rusage.rs"]
mod rusage;

#[path = "common/report.rs"]
mod report;
use report::thousands;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use clap::{Parser, ValueEnum};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use data::{BoxResult, check, proc_status_kib};

#[derive(Parser, Debug)]
#[command(about = "drift check, export and backup over N rows: time and peak RSS of the process doing it")]
struct Cli {
    /// Rows in the file (a third users, the rest posts), comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [100_000u64, 1_000_000])]
    sizes: Vec<u64>,
    /// Comma-separated operations, in table order. `scan`, `scan-64mib`, `copy` and
    /// `copy-64mib` are diagnostics: every table read (or copied into a new file) through
    /// redb alone, with redb's default cache and with a 64 MiB one.
    #[arg(long, value_delimiter = ',', default_values_t = Op::DEFAULT)]
    ops: Vec<Op>,
    /// Runs each operation K times on the same file; reports the median time and peak.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// The `drift` binary (default: target/release/drift of this workspace).
    #[arg(long)]
    drift_bin: Option<PathBuf>,
    /// Where the temporary files go (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Internal: run one phase (`write`, `measure` or `run`) of a job in this process.
    #[arg(long, hide = true, num_args = 2, value_names = ["PHASE", "JOB"])]
    child: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum Op {
    /// `drift_core::check::check(&raw::open_read(path)?)`, in a child of this binary.
    #[value(name = "check")]
    Check,
    /// `drift export FILE -o OUT` (JSON lines).
    #[value(name = "export")]
    Export,
    /// `drift backup FILE DEST` (a copy, then a check of the copy).
    #[value(name = "backup")]
    Backup,
    /// Diagnostic: every entry of every table read through redb, default cache (1 GiB).
    #[value(name = "scan")]
    Scan,
    /// Diagnostic: the same with `set_cache_size(64 MiB)`.
    #[value(name = "scan-64mib")]
    Scan64,
    /// Diagnostic: every table copied through redb into a new file in one write
    /// transaction, as `drift backup` does, default caches (1 GiB each).
    #[value(name = "copy")]
    Copy,
    /// Diagnostic: the same with a 64 MiB cache on both files.
    #[value(name = "copy-64mib")]
    Copy64,
}

impl Op {
    const DEFAULT: [Op; 3] = [Op::Check, Op::Export, Op::Backup];

    fn id(self) -> &'static str {
        match self {
            Op::Check => "check",
            Op::Export => "export",
            Op::Backup => "backup",
            Op::Scan => "scan",
            Op::Scan64 => "scan-64mib",
            Op::Copy => "copy",
            Op::Copy64 => "copy-64mib",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Op::Check => "check (library)",
            Op::Export => "export (drift binary)",
            Op::Backup => "backup (drift binary)",
            Op::Scan => "redb scan, default cache",
            Op::Scan64 => "redb scan, 64 MiB cache",
            Op::Copy => "redb copy, default caches",
            Op::Copy64 => "redb copy, 64 MiB caches",
        }
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.id())
    }
}

/// One measurement, as its child processes are given it (JSON).
#[derive(Serialize, Deserialize, Debug, Clone)]
struct Job {
    op: Op,
    n: u64,
    file: PathBuf,
    /// Where outputs go (the export, the backup); emptied after each measurement.
    work: PathBuf,
    drift_bin: PathBuf,
}

/// What a `measure` child prints, one JSON line.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
struct Measured {
    /// The operation's process, spawn to exit.
    time_ms: f64,
    /// Its peak resident set (`ru_maxrss`).
    peak_kib: u64,
    /// Library operations: `VmHWM` the process read itself just before exiting.
    self_hwm_kib: Option<u64>,
}

/// What a `run` child (a library operation) prints, one JSON line.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
struct RunReport {
    entities: u64,
    rows: u64,
    index_entries: u64,
    problems: u64,
    hwm_kib: u64,
}

const MIB: f64 = 1024.0;

fn mib(kib: u64) -> f64 {
    kib as f64 / MIB
}

/// `run`: the library operation itself.
fn run_op(job: &Job) -> BoxResult<RunReport> {
    match job.op {
        Op::Check => {
            let raw = drift::raw::open_read(&job.file)?.ok_or("the file is empty")?;
            let report = drift::check::check(&raw)?;
            drop(raw);
            for p in report.problems.iter().take(5) {
                eprintln!("  problem: {p}");
            }
            Ok(RunReport {
                entities: report.entities,
                rows: report.rows,
                index_entries: report.index_entries,
                problems: report.problem_count,
                hwm_kib: proc_status_kib("VmHWM")?,
            })
        }
        Op::Scan | Op::Scan64 | Op::Copy | Op::Copy64 => {
            let cache = matches!(job.op, Op::Scan64 | Op::Copy64).then_some(64 << 20);
            let entries = redb_pass(job, cache)?;
            Ok(RunReport {
                entities: 0,
                rows: entries,
                index_entries: 0,
                problems: 0,
                hwm_kib: proc_status_kib("VmHWM")?,
            })
        }
        Op::Export | Op::Backup => Err(format!("{} runs in the drift binary", job.op).into()),
    }
}

/// Reads every entry of every table of the file through redb (`cache`: redb's cache
/// size, its default when `None`), and for the copies writes each into a new file in one
/// write transaction; the number of entries.
fn redb_pass(job: &Job, cache: Option<usize>) -> BoxResult<u64> {
    let builder = || {
        let mut b = redb::Database::builder();
        if let Some(bytes) = cache {
            b.set_cache_size(bytes);
        }
        b
    };
    let db = builder().open_read_only(&job.file)?;
    let tx = db.begin_read()?;
    let copy = matches!(job.op, Op::Copy | Op::Copy64);
    let dest_path = job.work.join("copy.redb");
    let dest = if copy { Some(builder().create(&dest_path)?) } else { None };
    let wtx = dest.as_ref().map(redb::Database::begin_write).transpose()?;
    let (mut entries, mut bytes) = (0u64, 0usize);
    for handle in tx.list_tables()? {
        let name = redb::TableHandle::name(&handle).to_string();
        let def = TableDefinition::<&[u8], &[u8]>::new(&name);
        let table = tx.open_table(def)?;
        let mut out = wtx.as_ref().map(|w| w.open_table(def)).transpose()?;
        for entry in table.iter()? {
            let (k, v) = entry?;
            entries += 1;
            bytes += k.value().len() + v.value().len();
            if let Some(out) = out.as_mut() {
                out.insert(k.value(), v.value())?;
            }
        }
    }
    if let Some(w) = wtx {
        w.commit()?;
    }
    drop(dest);
    if copy {
        std::fs::remove_file(dest_path)?;
    }
    eprintln!("  {} {entries} entries, {:.1} MiB of keys and values", job.op, bytes as f64 / (1 << 20) as f64);
    Ok(entries)
}

/// The command that performs `job.op`.
fn command(job: &Job) -> BoxResult<Command> {
    let mut cmd;
    match job.op {
        Op::Check | Op::Scan | Op::Scan64 | Op::Copy | Op::Copy64 => {
            cmd = Command::new(std::env::current_exe()?);
            cmd.args(["--child", "run", &serde_json::to_string(job)?]);
        }
        Op::Export => {
            cmd = Command::new(&job.drift_bin);
            cmd.arg("export").arg(&job.file).arg("-o").arg(job.work.join("export.jsonl"));
        }
        Op::Backup => {
            cmd = Command::new(&job.drift_bin);
            cmd.arg("backup").arg(&job.file).arg(job.work.join("backup.drift"));
        }
    }
    cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
    Ok(cmd)
}

/// Checks the library run's report: no problems, every row read.
fn verify_report(job: &Job, report: &RunReport) -> BoxResult<()> {
    match job.op {
        Op::Check => {
            check("check: problems", report.problems, 0)?;
            check("check: entities", report.entities, 2)?;
            check("check: rows", report.rows, job.n)?;
            // Users: `email` and `age`; posts: `author_id` and `likes`.
            check("check: index entries", report.index_entries, 2 * job.n)
        }
        // Rows, index entries, the meta table's few entries.
        _ => {
            if report.rows < 3 * job.n {
                return Err(format!("{} read {} entries, want at least {}", job.op, report.rows, 3 * job.n).into());
            }
            Ok(())
        }
    }
}

/// The export's lines: a header, one per row (users first, then posts), and a last line
/// with the rows per entity.
fn verify_export(job: &Job) -> BoxResult<()> {
    let out = job.work.join("export.jsonl");
    let mut lines = std::io::BufReader::new(std::fs::File::open(&out)?).lines();
    let header = lines.next().ok_or("export: empty output")??;
    let header: serde_json::Value = serde_json::from_str(&header)?;
    check("export: header version", header.get("drift_export").and_then(|v| v.as_u64()), Some(1))?;
    check("export: schemas in the header", header["schemas"].as_array().map(Vec::len), Some(2))?;
    let (mut users, mut posts, mut total, mut ends) = (0u64, 0u64, 0u64, 0u64);
    for line in lines {
        let line = line?;
        total += 1;
        if line.starts_with(r#"{"entity":"User","row":{"#) {
            users += 1;
        } else if line.starts_with(r#"{"entity":"Post","row":{"#) {
            posts += 1;
        } else if line.starts_with(r#"{"drift_export_end":"#) {
            ends += 1;
        }
    }
    check("export: lines (header + rows + end)", total + 1, job.n + 2)?;
    check("export: last lines", ends, 1)?;
    check("export: (users, posts)", (users, posts), data::split(job.n))?;
    std::fs::remove_file(out)?;
    Ok(())
}

/// The copy exists, and the library's check of it finds every row and no problem.
fn verify_backup(job: &Job, stdout: &str) -> BoxResult<()> {
    let dest = job.work.join("backup.drift");
    if !stdout.contains("no problems") && !stdout.contains("ok") {
        eprintln!("  note: backup printed: {}", stdout.trim());
    }
    let raw = drift::raw::open_read(&dest)?.ok_or("backup: the copy is empty")?;
    let report = drift::check::check(&raw)?;
    drop(raw);
    check("backup: check problems", report.problem_count, 0)?;
    check("backup: check rows", report.rows, job.n)?;
    check("backup: check index entries", report.index_entries, 2 * job.n)?;
    std::fs::remove_file(dest)?;
    Ok(())
}

/// `measure`: spawns and waits for the operation's one process, then verifies.
fn measure_op(job: &Job) -> BoxResult<Measured> {
    let mut cmd = command(job)?;
    let start = Instant::now();
    let out = cmd.output()?;
    let time_ms = start.elapsed().as_secs_f64() * 1e3;
    // Read before anything else is waited for: this process's only child so far.
    let peak_kib = rusage::children_max_rss_kib()?;
    let stdout = String::from_utf8(out.stdout)?;
    if !out.status.success() {
        return Err(format!("{} exited with {}; stdout: {}", job.op, out.status, stdout.trim()).into());
    }
    let mut self_hwm_kib = None;
    match job.op {
        Op::Check | Op::Scan | Op::Scan64 | Op::Copy | Op::Copy64 => {
            let report: RunReport = serde_json::from_str(stdout.trim())?;
            verify_report(job, &report)?;
            self_hwm_kib = Some(report.hwm_kib);
        }
        Op::Export => verify_export(job)?,
        Op::Backup => verify_backup(job, &stdout)?,
    }
    Ok(Measured { time_ms, peak_kib, self_hwm_kib })
}

fn run_child(args: &[String]) -> BoxResult<()> {
    let [phase, job] = args else { return Err("--child takes 2 values".into()) };
    let job: Job = serde_json::from_str(job)?;
    match phase.as_str() {
        "write" => data::write(&job.file, job.n),
        "measure" => {
            println!("{}", serde_json::to_string(&measure_op(&job)?)?);
            Ok(())
        }
        "run" => {
            println!("{}", serde_json::to_string(&run_op(&job)?)?);
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
        return Err(format!("{phase} child of {} at n = {} failed ({})", job.op, job.n, out.status).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The peak of a process that does nothing of its own: `drift --version`.
fn baseline_kib(drift_bin: &Path) -> BoxResult<u64> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--child", "measure-version", &drift_bin.display().to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!("`{} --version` failed", drift_bin.display()).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// `measure-version BIN`: the peak of `BIN --version`.
fn measure_version(bin: &str) -> BoxResult<u64> {
    let status = Command::new(bin).arg("--version").stdout(Stdio::null()).status()?;
    if !status.success() {
        return Err(format!("{bin} --version exited with {status}").into());
    }
    Ok(rusage::children_max_rss_kib()?)
}

fn median(runs: &[Measured]) -> Measured {
    let mut times: Vec<f64> = runs.iter().map(|m| m.time_ms).collect();
    times.sort_by(f64::total_cmp);
    let mut peaks: Vec<u64> = runs.iter().map(|m| m.peak_kib).collect();
    peaks.sort_unstable();
    let mut hwms: Vec<u64> = runs.iter().filter_map(|m| m.self_hwm_kib).collect();
    hwms.sort_unstable();
    Measured {
        time_ms: times[times.len() / 2],
        peak_kib: peaks[peaks.len() / 2],
        self_hwm_kib: hwms.get(hwms.len() / 2).copied(),
    }
}

fn default_drift_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    target.join("release/drift")
}

struct Row {
    op: Op,
    n: u64,
    file_mib: f64,
    m: Measured,
}

fn bench(cli: &Cli, drift_bin: &Path, failures: &mut Vec<String>) -> BoxResult<Vec<Row>> {
    let base = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut rows = Vec::new();
    for &n in &cli.sizes {
        let dir = tempfile::Builder::new().prefix("drift-bench-tools-").tempdir_in(&base)?;
        let work = dir.path().join("work");
        std::fs::create_dir(&work)?;
        let file = dir.path().join("tools.drift");
        let job = |op| Job { op, n, file: file.clone(), work: work.clone(), drift_bin: drift_bin.to_path_buf() };
        let t = Instant::now();
        spawn("write", &job(Op::Check))?;
        let file_mib = std::fs::metadata(&file)?.len() as f64 / (1 << 20) as f64;
        let (users, posts) = data::split(n);
        eprintln!(
            "n={n}: {users} users + {posts} posts written in {:.1} s, file {file_mib:.1} MiB",
            t.elapsed().as_secs_f64()
        );
        for &op in &cli.ops {
            let mut runs = Vec::new();
            for _ in 0..cli.repeat.max(1) {
                match spawn("measure", &job(op)).and_then(|out| Ok(serde_json::from_str::<Measured>(out.trim())?)) {
                    Ok(m) => {
                        eprintln!(
                            "  {op:<10} n={n:<9} {:>9.0} ms, peak {:>7.1} MiB{}",
                            m.time_ms,
                            mib(m.peak_kib),
                            m.self_hwm_kib.map_or_else(String::new, |h| format!(" (own VmHWM {:.1} MiB)", mib(h)))
                        );
                        runs.push(m);
                    }
                    Err(e) => failures.push(format!("{op} at {n}: {e}")),
                }
            }
            if !runs.is_empty() {
                rows.push(Row { op, n, file_mib, m: median(&runs) });
            }
        }
        dir.close()?;
    }
    Ok(rows)
}

fn report(cli: &Cli, rows: &[Row], baseline: u64) {
    let (users, posts) = cli.sizes.first().map_or((0, 0), |&n| data::split(n));
    println!(
        "## drift check, export and backup by N, median of {} run(s)\n\nRows: N in all, N / 3 users and the rest posts \
         ({users} + {posts} at N = {}). Peak RSS: `ru_maxrss` of the operation's process.\n",
        cli.repeat.max(1),
        cli.sizes.first().copied().unwrap_or(0),
    );
    println!("| operation | rows | file MiB | time ms | peak RSS MiB | rows/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.1} | {:.0} | {:.1} | {} |",
            r.op.label(),
            thousands(r.n),
            r.file_mib,
            r.m.time_ms,
            mib(r.m.peak_kib),
            thousands((r.n as f64 / (r.m.time_ms / 1e3)) as u64)
        );
    }
    println!("\nBaseline: `drift --version` peaks at {:.1} MiB.\n", mib(baseline));
    if let (Some(&small), Some(&large)) = (cli.sizes.iter().min(), cli.sizes.iter().max())
        && small != large
    {
        println!("| operation | peak at {} / peak at {} rows |", thousands(large), thousands(small));
        println!("|---|---:|");
        for &op in &cli.ops {
            let peak = |n| rows.iter().find(|r| r.op == op && r.n == n).map(|r| r.m.peak_kib);
            if let (Some(s), Some(l)) = (peak(small), peak(large)) {
                println!("| {} | {:.2}x |", op.label(), l as f64 / s as f64);
            }
        }
    }
    let own: Vec<String> = rows
        .iter()
        .filter_map(|r| r.m.self_hwm_kib.map(|h| format!("{} at {}: {:.1} MiB", r.op, thousands(r.n), mib(h))))
        .collect();
    if !own.is_empty() {
        println!("\nCross-check, `VmHWM` read by the library children themselves: {}.", own.join(", "));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(args) = &cli.child {
        let result = if let [phase, bin] = &args[..]
            && phase == "measure-version"
        {
            measure_version(bin).map(|kib| println!("{kib}"))
        } else {
            run_child(args)
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let drift_bin = cli.drift_bin.clone().unwrap_or_else(default_drift_bin);
    if !drift_bin.is_file() {
        eprintln!(
            "error: no drift binary at {}; build it first: cargo build --release -p drift-migrate --bin drift \
             (or pass --drift-bin)",
            drift_bin.display()
        );
        return ExitCode::FAILURE;
    }
    if cli.sizes.iter().any(|&n| n < 10) {
        eprintln!("error: every size must be at least 10");
        return ExitCode::FAILURE;
    }
    let mut failures = Vec::new();
    let result = baseline_kib(&drift_bin).and_then(|b| Ok((b, bench(&cli, &drift_bin, &mut failures)?)));
    match result {
        Ok((baseline, rows)) => report(&cli, &rows, baseline),
        Err(e) => failures.push(e.to_string()),
    }
    report::finish(&failures)
}
