//! Drift vs raw redb, LMDB (heed), native_db and SQLite: the same data and the same operations on each
//! arm, in one process, each arm on a fresh file. Prints a markdown table; `--json PATH`
//! also writes the measurements. Every workload's result is checked against a plain
//! in-memory model, and the binary exits non-zero on any mismatch.

// `deny`, not `forbid`: heed has no safe way to open an LMDB environment, so the `lmdb`
// arm allows `unsafe` in its two smallest functions (see `arms/lmdb.rs`). Nothing else may.
#![deny(unsafe_code)]

mod arms;
mod workloads;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;

use arms::Arm;
use workloads::{
    AGE_WIDTH, BoxResult, Dataset, Expect, Expected, NAME_PREFIX, RANGE_LIMIT, Sizes, Tally, VERIFY_AGES, Verify,
    Workload,
};

#[derive(Parser, Debug)]
#[command(about = "Drift vs raw redb, LMDB, native_db and SQLite on the same workloads")]
struct Cli {
    /// Comma-separated arms to run, in this order.
    #[arg(long, value_delimiter = ',', default_values_t = arms::ALL.iter().map(|s| s.to_string()))]
    arms: Vec<String>,
    /// Number of users in the bulk insert (the other workloads scale from it).
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Comma-separated workloads to run (default: all). They always run in the table's
    /// order, with what they need added: `insert_bulk` always, `insert_orders_bulk` for
    /// the two order workloads.
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<String>,
    /// n = 2000 and fewer operations: a smoke run that checks every arm.
    #[arg(long)]
    quick: bool,
    /// Runs everything K times (fresh files each time) and reports the median per cell.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Writes a JSON array of {"workload","arm","n","ops_per_sec","total_ms",...}.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Prints the query plans of the read workloads (arms that have them) at the end of each run.
    #[arg(long)]
    explain: bool,
    /// Where the temporary databases go (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// What a workload returned on one arm.
struct Outcome {
    result: Expect,
    ops: u64,
}

#[derive(Default)]
struct ArmResults {
    times: BTreeMap<Workload, Vec<Duration>>,
    ops: BTreeMap<Workload, u64>,
    /// Workloads the arm does not run (shown as "n/a").
    not_run: BTreeSet<Workload>,
    bytes_after_insert: u64,
    bytes_after_compact: Option<u64>,
}

#[derive(Serialize)]
struct JsonRow<'a> {
    workload: &'static str,
    arm: &'a str,
    /// Operations timed (rows, commits, gets, queries, rows scanned: see `unit`).
    n: u64,
    unit: &'static str,
    ops_per_sec: f64,
    /// Median over the runs.
    total_ms: f64,
    min_ms: f64,
    max_ms: f64,
    /// Users in the bulk insert (`--n`).
    users: usize,
    repeat: usize,
}

/// Runs one workload; `None` when the arm does not run it.
fn run_workload(arm: &mut dyn Arm, w: Workload, data: &Dataset, expected: &Expected) -> BoxResult<Option<Outcome>> {
    let passes = data.sizes.scan_passes;
    let users_now = expected.users_read;
    let out = match w {
        Workload::InsertBulk => {
            arm.insert_bulk(&data.users)?;
            Outcome { result: Expect::Changed(data.users.len() as u64), ops: data.users.len() as u64 }
        }
        Workload::CommitDurable | Workload::CommitNonDurable => {
            let rows = if w == Workload::CommitDurable { &data.single_durable } else { &data.single_nondurable };
            arm.insert_single_commits(rows, w == Workload::CommitDurable)?;
            Outcome { result: Expect::Changed(rows.len() as u64), ops: rows.len() as u64 }
        }
        Workload::GetUniform => {
            Outcome { result: Expect::Tally(arm.get_by_id(&data.get_uniform)?), ops: data.get_uniform.len() as u64 }
        }
        Workload::GetUniform2Threads => match arm.get_by_id_2threads(data.halves())? {
            Some(t) => Outcome { result: Expect::Tally(t), ops: data.get_uniform.len() as u64 },
            None => return Ok(None),
        },
        Workload::GetZipf => {
            Outcome { result: Expect::Tally(arm.get_by_id(&data.get_zipf)?), ops: data.get_zipf.len() as u64 }
        }
        Workload::GetEmail => {
            Outcome { result: Expect::Tally(arm.get_by_email(&data.get_email)?), ops: data.get_email.len() as u64 }
        }
        Workload::AgeRange => Outcome {
            result: Expect::Tally(arm.age_range(&data.age_starts, AGE_WIDTH, RANGE_LIMIT)?),
            ops: data.age_starts.len() as u64,
        },
        Workload::ScanSumAge => {
            let mut total = Tally::default();
            for _ in 0..passes {
                let t = arm.scan_all()?;
                total.rows += t.rows;
                total.sum_age += t.sum_age;
                total.text_len += t.text_len;
            }
            Outcome { result: Expect::Tally(total), ops: users_now * passes as u64 }
        }
        Workload::GroupByCity => {
            let mut results = Vec::with_capacity(passes);
            for _ in 0..passes {
                results.push(arm.count_by_city()?);
            }
            Outcome { result: same_groups(results)?, ops: users_now * passes as u64 }
        }
        Workload::NamePrefixScan => {
            let mut n = 0;
            for _ in 0..passes {
                n += arm.count_name_prefix(NAME_PREFIX)?;
            }
            Outcome { result: Expect::Count(n), ops: users_now * passes as u64 }
        }
        Workload::UpdateAge => {
            Outcome { result: Expect::Changed(arm.update_ages(&data.updates)?), ops: data.updates.len() as u64 }
        }
        Workload::Delete => {
            Outcome { result: Expect::Changed(arm.delete_users(&data.deletes)?), ops: data.deletes.len() as u64 }
        }
        Workload::InsertOrders => {
            arm.insert_orders(&data.orders)?;
            Outcome { result: Expect::Changed(data.orders.len() as u64), ops: data.orders.len() as u64 }
        }
        Workload::GroupOrdersByUser => {
            let mut results = Vec::with_capacity(passes);
            for _ in 0..passes {
                results.push(arm.sum_orders_by_user()?);
            }
            let results =
                results.into_iter().map(|r| r.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).collect();
            // Sorted numerically, as the model does.
            let result = match same_groups(results)? {
                Expect::Groups(g) => Expect::Groups(workloads::order_groups(
                    g.into_iter().map(|(k, v)| Ok((k.parse::<u64>()?, v))).collect::<BoxResult<Vec<_>>>()?,
                )),
                other => other,
            };
            Outcome { result, ops: data.orders.len() as u64 * passes as u64 }
        }
        Workload::EagerUsersWithOrders => {
            let l = arm.users_with_orders(&data.eager_users)?;
            Outcome { result: Expect::Loaded(l), ops: l.rows() }
        }
    };
    Ok(Some(out))
}

/// The workloads to run, in table order: those named (all when none is), and what they need.
fn select_workloads(names: &[String]) -> BoxResult<Vec<Workload>> {
    if names.is_empty() {
        return Ok(Workload::ALL.to_vec());
    }
    let mut wanted = BTreeSet::new();
    for name in names {
        let w = Workload::from_id(name).ok_or_else(|| {
            let known: Vec<&str> = Workload::ALL.iter().map(|w| w.id()).collect();
            format!("unknown workload `{name}` (known: {})", known.join(","))
        })?;
        wanted.insert(w);
        wanted.extend(w.needs());
    }
    let selected: Vec<Workload> = Workload::ALL.into_iter().filter(|w| wanted.contains(w)).collect();
    let added: Vec<&str> = selected.iter().filter(|w| !names.iter().any(|n| n == w.id())).map(|w| w.id()).collect();
    if !added.is_empty() {
        eprintln!("also running, because the workloads asked for need them: {}", added.join(","));
    }
    Ok(selected)
}

/// Sorts each pass's groups; all passes must agree.
fn same_groups(results: Vec<Vec<(String, u64)>>) -> BoxResult<Expect> {
    let mut sorted: Vec<Vec<(String, u64)>> = results
        .into_iter()
        .map(|mut r| {
            r.sort_unstable();
            r
        })
        .collect();
    let first = sorted.pop().ok_or("no pass ran")?;
    if sorted.iter().any(|r| *r != first) {
        return Err("passes of a group workload disagree".into());
    }
    Ok(Expect::Groups(first))
}

fn describe(e: &Expect) -> String {
    match e {
        Expect::Groups(g) => {
            let total: u64 = g.iter().map(|(_, v)| v).sum();
            format!("{} groups, total {total}", g.len())
        }
        other => format!("{other:?}"),
    }
}

fn verify(arm: &mut dyn Arm) -> BoxResult<Verify> {
    Ok(Verify {
        rows: arm.count_users()?,
        ages_in_range: arm.count_age_between(VERIFY_AGES.0, VERIFY_AGES.1)?,
        deleted_emails_found: 0,
    })
}

/// Runs all workloads on a fresh database of arm `name`, adding what does not match the model
/// to `failures`.
#[allow(clippy::too_many_arguments)]
fn run_arm(
    name: &str,
    selected: &[Workload],
    data: &Dataset,
    expected: &Expected,
    base: &std::path::Path,
    results: &mut ArmResults,
    failures: &mut Vec<String>,
    explain: bool,
) -> BoxResult<()> {
    let dir = tempfile::Builder::new().prefix("drift-bench-").tempdir_in(base)?;
    let mut arm = arms::open(name, dir.path())?;
    for &w in selected {
        arm.prepare(w, data)?;
        let start = Instant::now();
        let Some(out) = run_workload(arm.as_mut(), w, data, expected)? else {
            eprintln!("  {name:<14} {:<28} {:>10}", w.id(), "n/a");
            results.not_run.insert(w);
            continue;
        };
        let elapsed = start.elapsed();
        eprintln!("  {name:<14} {:<28} {:>10.1} ms", w.id(), elapsed.as_secs_f64() * 1e3);
        let want = &expected.per_workload[&w];
        if out.result != *want {
            failures.push(format!(
                "{name}: {} returned {} but the model says {}",
                w.id(),
                describe(&out.result),
                describe(want)
            ));
        }
        results.times.entry(w).or_default().push(elapsed);
        results.ops.insert(w, out.ops);
        match w {
            Workload::InsertBulk => {
                results.bytes_after_insert = arm.file_bytes()?;
                results.bytes_after_compact = if arm.compact()? { Some(arm.file_bytes()?) } else { None };
            }
            Workload::Delete => {
                let mut got = verify(arm.as_mut())?;
                let deleted: Vec<String> = data.deletes.iter().take(100).map(|&id| workloads::email_of(id)).collect();
                got.deleted_emails_found = arm.get_by_email(&deleted)?.rows;
                if got != expected.verify {
                    failures.push(format!(
                        "{name}: after updates and deletes found {got:?} but the model says {:?}",
                        expected.verify
                    ));
                }
            }
            _ => {}
        }
    }
    if explain && let Some(plans) = arm.explain()? {
        eprintln!("query plans of {name}:\n{plans}");
    }
    drop(arm);
    dir.close()?;
    Ok(())
}

fn median(times: &[Duration]) -> Duration {
    let mut t = times.to_vec();
    t.sort_unstable();
    t[t.len() / 2]
}

/// Time per op with a readable unit.
fn per_op(d: Duration, ops: u64) -> String {
    let ns = d.as_secs_f64() * 1e9 / ops.max(1) as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> BoxResult<bool> {
    let cli = Cli::parse();
    for a in &cli.arms {
        if !arms::ALL.contains(&a.as_str()) {
            return Err(format!("unknown arm `{a}` (known: {})", arms::ALL.join(",")).into());
        }
    }
    let selected = select_workloads(&cli.workloads)?;
    let sizes = if cli.quick { Sizes::quick() } else { Sizes::full(cli.n) };
    if sizes.n < 100 {
        return Err("--n must be at least 100".into());
    }
    let repeat = cli.repeat.max(1);
    let base = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    eprintln!("generating data: {sizes:?}");
    let data = Dataset::generate(sizes);
    let expected = workloads::expected(&data, &selected);

    let mut results: Vec<ArmResults> = cli.arms.iter().map(|_| ArmResults::default()).collect();
    let mut failures = Vec::new();
    for rep in 0..repeat {
        // Each run starts with the next arm, so that no arm always runs first or last.
        let k = cli.arms.len();
        for i in (0..k).map(|j| (j + rep) % k) {
            let name = &cli.arms[i];
            eprintln!("[run {}/{repeat}] {name}", rep + 1);
            if let Err(e) =
                run_arm(name, &selected, &data, &expected, &base, &mut results[i], &mut failures, cli.explain)
            {
                failures.push(format!("{name}: stopped by an error: {e}"));
            }
        }
    }

    print_report(&cli, &selected, sizes, repeat, &data, &results);

    if let Some(path) = &cli.json {
        let mut rows = Vec::new();
        for (name, r) in cli.arms.iter().zip(&results) {
            for (&w, times) in &r.times {
                let t = median(times).as_secs_f64();
                let ops = r.ops[&w];
                rows.push(JsonRow {
                    workload: w.id(),
                    arm: name,
                    n: ops,
                    unit: w.unit(),
                    ops_per_sec: ops as f64 / t,
                    total_ms: t * 1e3,
                    min_ms: times.iter().min().map_or(0.0, |d| d.as_secs_f64() * 1e3),
                    max_ms: times.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3),
                    users: sizes.n,
                    repeat,
                });
            }
        }
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
        eprintln!("wrote {}", path.display());
    }

    if failures.is_empty() {
        eprintln!("all checks passed");
        Ok(true)
    } else {
        for f in &failures {
            eprintln!("CHECK FAILED: {f}");
        }
        Ok(false)
    }
}

fn print_report(cli: &Cli, selected: &[Workload], sizes: Sizes, repeat: usize, data: &Dataset, results: &[ArmResults]) {
    let idx = |name: &str| cli.arms.iter().position(|a| a == name);
    // (label, numerator arm, denominator arm)
    let ratios: Vec<(String, usize, usize)> =
        [("drift", "redb"), ("drift", "lmdb"), ("drift", "native_db"), ("drift", "sqlite"), ("drift-nocache", "redb")]
            .iter()
            .filter_map(|&(a, b)| Some((format!("{a}/{b}"), idx(a)?, idx(b)?)))
            .collect();
    let lmdb = heed::lmdb_version();
    println!(
        "## Drift bench: {} users, {} orders, median of {repeat} run(s), SQLite {}, LMDB {}.{}.{}\n",
        sizes.n,
        data.orders.len(),
        rusqlite::version(),
        lmdb.major,
        lmdb.minor,
        lmdb.patch
    );
    println!(
        "Cells: time per op (lower is better). Ratios: time of the first arm / time of the second (< 1 means the first is faster).\n"
    );
    let mut header = String::from("| workload | op |");
    let mut rule = String::from("|---|---|");
    for a in &cli.arms {
        header.push_str(&format!(" {a} |"));
        rule.push_str("---:|");
    }
    for (label, _, _) in &ratios {
        header.push_str(&format!(" {label} |"));
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    for &w in selected {
        let mut line = format!("| {} | {} |", w.id(), w.unit());
        let med: Vec<Option<(Duration, u64)>> =
            results.iter().map(|r| r.times.get(&w).map(|t| (median(t), r.ops[&w]))).collect();
        for ((a, m), r) in cli.arms.iter().zip(&med).zip(results) {
            let mark = if a == "native_db" && w == Workload::CommitNonDurable { " †" } else { "" };
            match m {
                Some((d, ops)) => line.push_str(&format!(" {}{mark} |", per_op(*d, *ops))),
                None if r.not_run.contains(&w) => line.push_str(" n/a |"),
                None => line.push_str(" – |"),
            }
        }
        for &(_, a, b) in &ratios {
            match (med[a], med[b]) {
                (Some((at, _)), Some((bt, _))) => {
                    line.push_str(&format!(" {:.2}x |", at.as_secs_f64() / bt.as_secs_f64()))
                }
                _ => line.push_str(" – |"),
            }
        }
        println!("{line}");
    }
    if idx("native_db").is_some() && selected.contains(&Workload::CommitNonDurable) {
        println!("\n† native_db has no durability setting: its non-durable commits still fsync (Immediate).");
    }
    print_scaling(cli, results);
    if repeat > 1 {
        println!("\n### Spread: fastest and slowest run, total ms per workload\n");
        let mut header = String::from("| workload |");
        let mut rule = String::from("|---|");
        for a in &cli.arms {
            header.push_str(&format!(" {a} |"));
            rule.push_str("---:|");
        }
        println!("{header}\n{rule}");
        for &w in selected {
            let mut line = format!("| {} |", w.id());
            for r in results {
                match r.times.get(&w) {
                    Some(t) => {
                        let lo = t.iter().min().map_or(0.0, |d| d.as_secs_f64() * 1e3);
                        let hi = t.iter().max().map_or(0.0, |d| d.as_secs_f64() * 1e3);
                        line.push_str(&format!(" {lo:.1}–{hi:.1} |"));
                    }
                    None => line.push_str(" – |"),
                }
            }
            println!("{line}");
        }
    }
    println!("\n### File size (last run)\n");
    println!("| arm | after bulk insert | after compaction |\n|---|---:|---:|");
    for (a, r) in cli.arms.iter().zip(results) {
        let compacted = r.bytes_after_compact.map_or_else(|| "–".to_string(), mib);
        println!("| {a} | {} | {compacted} |", mib(r.bytes_after_insert));
    }
}

/// Gets per second of one workload on one arm (median run).
fn gets_per_sec(r: &ArmResults, w: Workload) -> Option<f64> {
    let t = median(r.times.get(&w)?).as_secs_f64();
    Some(r.ops[&w] as f64 / t)
}

/// Two readers against one: scaling = (gets/s with 2 threads) / (gets/s with 1 thread).
fn print_scaling(cli: &Cli, results: &[ArmResults]) {
    let (one, two) = (Workload::GetUniform, Workload::GetUniform2Threads);
    if !results.iter().any(|r| r.times.contains_key(&two) || r.not_run.contains(&two)) {
        return;
    }
    println!(
        "\n### Two readers: `{}` against `{}`\n\nScaling = (gets/s with 2 threads) / (gets/s with 1 thread); 2.00x is perfect on two cores.\n",
        two.id(),
        one.id()
    );
    println!("| arm | 1 thread, gets/s | 2 threads, gets/s | scaling |\n|---|---:|---:|---:|");
    for (a, r) in cli.arms.iter().zip(results) {
        let g1 = gets_per_sec(r, one);
        let g2 = gets_per_sec(r, two);
        let cell = |g: Option<f64>, w: Workload| match g {
            Some(g) => format!("{g:.0}"),
            None if r.not_run.contains(&w) => "n/a".to_string(),
            None => "–".to_string(),
        };
        let scaling = match (g1, g2) {
            (Some(g1), Some(g2)) => format!("{:.2}x", g2 / g1),
            _ if r.not_run.contains(&two) => "n/a".to_string(),
            _ => "–".to_string(),
        };
        println!("| {a} | {} | {} | {scaling} |", cell(g1, one), cell(g2, two));
    }
}
