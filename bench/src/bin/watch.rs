//! What change subscriptions (`db.watch::<T>()`) cost the writer: the latency of
//! `db.write` for insert transactions of 1 row and of 100 rows of a small indexed entity,
//! with 0, 10 and 1,000 subscribers, on a temp-file database with `Durability::None` (so
//! that no fsync hides the cost; one arm with the default `Durability::Immediate` for
//! scale). Arms, each on a fresh file, all in one process, same workload:
//! - the floor: no subscriber, no history kept (`watch_history(0, 0)`);
//! - no subscriber, the default history (1,024 commits / 16 MiB);
//! - 10 subscribers, each drained by its own thread calling `recv()` (which decodes); the
//!   delivery latency (`db.write` returned -> `recv()` returned in the subscriber) too;
//! - 1,000 subscribers drained by `--poll-threads` threads looping `try_recv()`;
//! - 1,000 stalled subscribers (never read, default capacity), reported in two rows: the
//!   commits while their buffers fill, and the commits after (all lagged);
//! - 1,000 subscribers on another entity than the one written.
//!
//! Before each arm's timed commits, `WARMUP` untimed commits fill the history to its
//! steady state; the subscriptions are made after them. Every subscriber checks that the
//! commits it receives are whole and in order, and the binary exits non-zero otherwise.
//! Besides the latencies, the table gives the writing thread's time on a CPU and waiting
//! for one per commit (`/proc/thread-self/schedstat`), to tell the writer's own work from
//! subscriber threads competing for the cores.
//!
//! `cargo run --release -p drift-bench --bin drift-bench-watch -- --n 20000 --repeat 3`

#![forbid(unsafe_code)]

#[path = "common/report.rs"]
mod report;
use report::thousands;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use drift::prelude::*;
use drift::{DEFAULT_WATCH_CAPACITY, ErrorKind, Watch};

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser, Debug)]
#[command(about = "What change subscriptions cost the writer: commit latency with 0, 10 and 1,000 subscribers")]
struct Cli {
    /// Timed commits of 1 row per arm.
    #[arg(long, default_value_t = 20_000)]
    n: usize,
    /// Timed commits per arm of the transactions of more than 1 row (default: n / 10).
    #[arg(long)]
    batch_commits: Option<usize>,
    /// Timed commits of the `Durability::Immediate` arm, at most (each is an fsync).
    #[arg(long, default_value_t = 2_000)]
    durable_n: usize,
    /// Comma-separated arms (default: all).
    #[arg(long, value_delimiter = ',', value_enum, default_values_t = Arm::ALL)]
    arms: Vec<Arm>,
    /// Comma-separated transaction sizes, in rows: 1 (`--n` commits) and/or 100.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, BIG])]
    rows: Vec<usize>,
    /// Runs of every arm; each figure reported is the median of its values.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Subscribers of the many-subscriber arms.
    #[arg(long, default_value_t = 1_000)]
    many: usize,
    /// Threads draining the many-subscriber arm.
    #[arg(long, default_value_t = 8)]
    poll_threads: usize,
    /// A short run: n = 2,000, durable-n = 200, one run.
    #[arg(long)]
    quick: bool,
    /// Where the temporary files go (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Commits made before the timed ones (and before any subscription): the default history
/// holds 1,024 commits, so that it is full, and drops one a commit, when timing starts.
const WARMUP: usize = 1_100;
/// The untimed commits before the `Durability::Immediate` arm's (each is an fsync).
const DURABLE_WARMUP: usize = 100;
/// Subscribers of the recv-thread arm.
const FEW: usize = 10;
/// Rows of the large transactions.
const BIG: usize = 100;
/// How long a polling thread sleeps after a pass that found nothing.
const POLL_IDLE: Duration = Duration::from_micros(200);

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "events")]
pub struct Event {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(index)]
    pub kind: u32,
    pub payload: String,
}

/// An entity nobody writes: the other-entity arm subscribes to it.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "others")]
pub struct Other {
    #[drift(primary_key)]
    pub id: u64,
    pub note: String,
}

fn event(id: u64) -> Event {
    Event { id, kind: (id % 16) as u32, payload: format!("event payload {id:020}") }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Arm {
    /// No subscriber, history off.
    Floor,
    /// No subscriber, the default history.
    History,
    /// As `history`, with `Durability::Immediate`.
    Durable,
    /// `FEW` subscribers, a `recv()` thread each.
    Recv,
    /// `--many` subscribers, `--poll-threads` threads polling.
    Poll,
    /// `--many` subscribers never read.
    Stalled,
    /// `--many` subscribers of another entity.
    Other,
}

impl Arm {
    const ALL: [Arm; 7] = [Arm::Floor, Arm::History, Arm::Durable, Arm::Recv, Arm::Poll, Arm::Stalled, Arm::Other];
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Row {
    Floor,
    History,
    Durable,
    Recv,
    Poll,
    StalledFilling,
    StalledFull,
    OtherEntity,
}

impl Row {
    fn label(self, cli: &Cli) -> String {
        let many = thousands(cli.many as u64);
        match self {
            Row::Floor => "floor: 0 subscribers, history off".into(),
            Row::History => "0 subscribers, default history".into(),
            Row::Durable => "0 subscribers, default history, `Durability::Immediate`".into(),
            Row::Recv => format!("{FEW} subscribers, a `recv()` thread each"),
            Row::Poll => format!("{many} subscribers, {} threads polling `try_recv()`", cli.poll_threads),
            Row::StalledFilling => {
                format!(
                    "{many} stalled subscribers, first {} commits (buffers filling)",
                    thousands(DEFAULT_WATCH_CAPACITY as u64)
                )
            }
            Row::StalledFull => format!("{many} stalled subscribers, the commits after (all lagged)"),
            Row::OtherEntity => format!("{many} subscribers on another entity"),
        }
    }
}

/// What subscribers received, over all of them.
#[derive(Clone, Copy, Debug, Default)]
struct Got {
    /// Commits received.
    commits: u64,
    /// Of `subscribers × commits` published.
    expected: u64,
    lag_notices: u64,
}

#[derive(Clone, Debug)]
struct Measured {
    row: Row,
    batch: usize,
    commits: usize,
    /// Commits a second, over the wall time of the timed commits.
    rate: f64,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    /// The writer thread's time on a CPU and waiting for one, in µs a commit.
    writer: Option<(f64, f64)>,
    /// Delivery latency p50 and p99 in µs, and the share of deliveries that came before
    /// `db.write` returned.
    delivery: Option<(f64, f64, f64)>,
    got: Option<Got>,
}

/// The timed commits' latencies and end times (ns since `base`).
struct Timed {
    lat: Vec<u64>,
    ends: Vec<u64>,
    /// The writer thread's scheduler counters before commit `i`, for a few `i`.
    sched: Vec<(usize, Sched)>,
}

/// A thread's scheduler counters, from `/proc/thread-self/schedstat`.
#[derive(Clone, Copy, Debug)]
struct Sched {
    /// Time spent on a CPU.
    run_ns: u64,
    /// Time spent runnable, waiting for a CPU.
    wait_ns: u64,
}

fn sched_now() -> Option<Sched> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = s.split_whitespace().map(str::parse::<u64>);
    Some(Sched { run_ns: it.next()?.ok()?, wait_ns: it.next()?.ok()? })
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn write_commits(db: &Db, first_id: u64, commits: usize, batch: usize, base: Instant) -> BoxResult<Timed> {
    let mut lat = Vec::with_capacity(commits);
    let mut ends = Vec::with_capacity(commits);
    let mut sched = Vec::new();
    for c in 0..=commits {
        // Where the stalled arm's rows split, and at both ends.
        if c == 0 || c == commits || c == DEFAULT_WATCH_CAPACITY {
            sched.extend(sched_now().map(|s| (c, s)));
        }
        if c == commits {
            break;
        }
        let id0 = first_id + (c * batch) as u64;
        let t = Instant::now();
        db.write(|tx| {
            for id in id0..id0 + batch as u64 {
                tx.insert(&event(id))?;
            }
            Ok(())
        })?;
        let e = Instant::now();
        lat.push(nanos(e - t));
        ends.push(nanos(e - base));
    }
    Ok(Timed { lat, ends, sched })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Statistics of the commits `range` of `t`.
fn stats(row: Row, batch: usize, t: &Timed, range: std::ops::Range<usize>, start_ns: u64) -> Measured {
    let lat = &t.lat[range.clone()];
    let mut us: Vec<f64> = lat.iter().map(|&n| n as f64 / 1e3).collect();
    us.sort_by(f64::total_cmp);
    let from = if range.start == 0 { start_ns } else { t.ends[range.start - 1] };
    let wall_s = t.ends[range.end - 1].saturating_sub(from) as f64 / 1e9;
    let at = |i: usize| t.sched.iter().find(|(c, _)| *c == i).map(|(_, s)| *s);
    let per_commit = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e3 / lat.len() as f64;
    let writer = at(range.start)
        .zip(at(range.end))
        .map(|(a, b)| (per_commit(a.run_ns, b.run_ns), per_commit(a.wait_ns, b.wait_ns)));
    Measured {
        row,
        batch,
        commits: lat.len(),
        rate: lat.len() as f64 / wall_s,
        mean_us: us.iter().sum::<f64>() / us.len() as f64,
        p50_us: percentile(&us, 0.5),
        p99_us: percentile(&us, 0.99),
        writer,
        delivery: None,
        got: None,
    }
}

/// What one subscriber thread saw.
struct Seen {
    /// Per timed commit: when `recv()` returned it (ns since `base`), 0 when it did not.
    recv_at: Vec<u64>,
    got: Got,
}

/// Checks a received commit and returns its index among the timed commits.
fn commit_index(c: &drift::Commit<Event>, first_id: u64, batch: usize, last: &mut Option<u64>) -> BoxResult<usize> {
    let ids: Vec<u64> = c.changes.iter().filter_map(|ch| ch.new_row()).map(|e| e.id).collect();
    let Some(&id0) = ids.first() else { return Err("a commit without an inserted row".into()) };
    if ids.len() != batch || ids.iter().enumerate().any(|(i, &id)| id != id0 + i as u64) {
        return Err(format!("commit {} holds rows {ids:?}, not {batch} consecutive inserts", c.seq).into());
    }
    if id0 < first_id || (id0 - first_id) % batch as u64 != 0 {
        return Err(format!("commit {} starts at row {id0}, not a timed commit's first row", c.seq).into());
    }
    if let Some(prev) = *last {
        if c.seq <= prev {
            return Err(format!("commit {} after commit {prev}: out of order", c.seq).into());
        }
    }
    *last = Some(c.seq);
    Ok(((id0 - first_id) / batch as u64) as usize)
}

/// Drains `w` with `recv()` until the database closes.
fn recv_thread(mut w: Watch<Event>, first_id: u64, commits: usize, batch: usize, base: Instant) -> BoxResult<Seen> {
    let mut seen = Seen { recv_at: vec![0; commits], got: Got { expected: commits as u64, ..Got::default() } };
    let mut last = None;
    while let Some(r) = w.recv() {
        let now = nanos(base.elapsed()).max(1);
        match r {
            Ok(c) => {
                let i = commit_index(&c, first_id, batch, &mut last)?;
                *seen.recv_at.get_mut(i).ok_or("a commit past the timed ones")? = now;
                seen.got.commits += 1;
            }
            Err(e) if e.kind() == ErrorKind::Lagged => seen.got.lag_notices += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(seen)
}

/// Drains `subs` with `try_recv()` until `stop` is set and a pass finds nothing.
fn poll_thread(mut subs: Vec<Watch<Event>>, first_id: u64, batch: usize, stop: &AtomicBool) -> BoxResult<Got> {
    let mut got = Got::default();
    let mut last = vec![None; subs.len()];
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let mut any = false;
        for (w, last) in subs.iter_mut().zip(&mut last) {
            while let Some(r) = w.try_recv() {
                any = true;
                match r {
                    Ok(c) => {
                        commit_index(&c, first_id, batch, last)?;
                        got.commits += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::Lagged => got.lag_notices += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if !any {
            if stopping {
                return Ok(got);
            }
            thread::sleep(POLL_IDLE);
        }
    }
}

fn join<T>(h: thread::JoinHandle<BoxResult<T>>) -> BoxResult<T> {
    h.join().map_err(|_| "a subscriber thread panicked")?
}

/// One arm, on a fresh file: its row(s) of the table.
fn run_arm(cli: &Cli, base_dir: &Path, arm: Arm, batch: usize, commits: usize) -> BoxResult<Vec<Measured>> {
    let dir = tempfile::Builder::new().prefix("drift-bench-watch-").tempdir_in(base_dir)?;
    let mut builder = Db::builder().entity::<Event>().entity::<Other>();
    if arm != Arm::Durable {
        builder = builder.durability(Durability::None);
    }
    if arm == Arm::Floor {
        builder = builder.watch_history(0, 0);
    }
    let db = builder.open(dir.path().join("watch.drift"))?;
    let (commits, warmup) =
        if arm == Arm::Durable { (commits.min(cli.durable_n), DURABLE_WARMUP) } else { (commits, WARMUP) };
    write_commits(&db, 0, warmup, batch, Instant::now())?;
    let first_id = (warmup * batch) as u64;
    let base = Instant::now();
    let start_ns = nanos(base.elapsed());

    let out = match arm {
        Arm::Floor | Arm::History | Arm::Durable => {
            let t = write_commits(&db, first_id, commits, batch, base)?;
            let row = match arm {
                Arm::Floor => Row::Floor,
                Arm::History => Row::History,
                _ => Row::Durable,
            };
            vec![stats(row, batch, &t, 0..commits, start_ns)]
        }
        Arm::Recv => {
            let handles: Vec<_> = (0..FEW)
                .map(|_| {
                    let w = db.watch::<Event>()?;
                    Ok(thread::spawn(move || recv_thread(w, first_id, commits, batch, base)))
                })
                .collect::<BoxResult<_>>()?;
            let t = write_commits(&db, first_id, commits, batch, base)?;
            drop(db); // Closes the subscriptions: each thread ends once it drained its buffer.
            let mut m = stats(Row::Recv, batch, &t, 0..commits, start_ns);
            let (mut delivery, mut early) = (Vec::new(), 0usize);
            let mut got = Got::default();
            for h in handles {
                let seen = join(h)?;
                for (&at, &end) in seen.recv_at.iter().zip(&t.ends) {
                    if at == 0 {
                        continue;
                    }
                    if at < end {
                        early += 1;
                    }
                    delivery.push(at.saturating_sub(end) as f64 / 1e3);
                }
                got.commits += seen.got.commits;
                got.expected += seen.got.expected;
                got.lag_notices += seen.got.lag_notices;
            }
            delivery.sort_by(f64::total_cmp);
            let share = early as f64 / delivery.len().max(1) as f64;
            m.delivery = Some((percentile(&delivery, 0.5), percentile(&delivery, 0.99), share));
            m.got = Some(got);
            vec![m]
        }
        Arm::Poll => {
            let stop = Arc::new(AtomicBool::new(false));
            let threads = cli.poll_threads.max(1);
            let mut groups: Vec<Vec<Watch<Event>>> = (0..threads).map(|_| Vec::new()).collect();
            for i in 0..cli.many {
                groups[i % threads].push(db.watch::<Event>()?);
            }
            let handles: Vec<_> = groups
                .into_iter()
                .map(|subs| {
                    let stop = Arc::clone(&stop);
                    thread::spawn(move || poll_thread(subs, first_id, batch, &stop))
                })
                .collect();
            let t = write_commits(&db, first_id, commits, batch, base);
            stop.store(true, Ordering::Release);
            let t = t?;
            drop(db);
            let mut m = stats(Row::Poll, batch, &t, 0..commits, start_ns);
            let mut got = Got { expected: (cli.many * commits) as u64, ..Got::default() };
            for h in handles {
                let g = join(h)?;
                got.commits += g.commits;
                got.lag_notices += g.lag_notices;
            }
            m.got = Some(got);
            vec![m]
        }
        Arm::Stalled => {
            let subs: Vec<Watch<Event>> = (0..cli.many).map(|_| db.watch::<Event>()).collect::<Result<_>>()?;
            let t = write_commits(&db, first_id, commits, batch, base)?;
            let held = DEFAULT_WATCH_CAPACITY.min(commits);
            if let Some(w) = subs.iter().find(|w| w.pending() != held) {
                return Err(format!("a stalled subscriber holds {} commits, not {held}", w.pending()).into());
            }
            drop(subs);
            let mut rows = vec![stats(Row::StalledFilling, batch, &t, 0..held, start_ns)];
            if held < commits {
                rows.push(stats(Row::StalledFull, batch, &t, held..commits, start_ns));
            }
            rows
        }
        Arm::Other => {
            let subs: Vec<Watch<Other>> = (0..cli.many).map(|_| db.watch::<Other>()).collect::<Result<_>>()?;
            let t = write_commits(&db, first_id, commits, batch, base)?;
            if subs.iter().any(|w| w.pending() != 0) {
                return Err("a subscriber of another entity was given a commit".into());
            }
            vec![stats(Row::OtherEntity, batch, &t, 0..commits, start_ns)]
        }
    };
    dir.close()?;
    Ok(out)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per (batch, row): each statistic is the median of its runs' values; what subscribers
/// received is the worst run's (fewest received, most lag notices).
fn median_runs(runs: &[Measured]) -> Vec<Measured> {
    let mut keys: Vec<(usize, Row)> = runs.iter().map(|m| (m.batch, m.row)).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(batch, row)| {
            let of: Vec<&Measured> = runs.iter().filter(|m| m.batch == batch && m.row == row).collect();
            let med = |f: fn(&Measured) -> f64| median(of.iter().map(|m| f(m)).collect());
            let deliveries: Vec<(f64, f64, f64)> = of.iter().filter_map(|m| m.delivery).collect();
            let delivery = (!deliveries.is_empty()).then(|| {
                (
                    median(deliveries.iter().map(|d| d.0).collect()),
                    median(deliveries.iter().map(|d| d.1).collect()),
                    median(deliveries.iter().map(|d| d.2).collect()),
                )
            });
            let got = of.iter().filter_map(|m| m.got).reduce(|a, b| Got {
                commits: a.commits.min(b.commits),
                expected: a.expected.max(b.expected),
                lag_notices: a.lag_notices.max(b.lag_notices),
            });
            Measured {
                row,
                batch,
                commits: of[0].commits,
                rate: med(|m| m.rate),
                mean_us: med(|m| m.mean_us),
                p50_us: med(|m| m.p50_us),
                p99_us: med(|m| m.p99_us),
                writer: of.iter().all(|m| m.writer.is_some()).then(|| {
                    (
                        median(of.iter().filter_map(|m| m.writer).map(|w| w.0).collect()),
                        median(of.iter().filter_map(|m| m.writer).map(|w| w.1).collect()),
                    )
                }),
                delivery,
                got,
            }
        })
        .collect()
}

fn us(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn print_table(cli: &Cli, rows: &[Measured], repeat: usize) {
    println!("## Change subscriptions: commit latency by subscribers\n");
    println!(
        "Entity `Event {{ id: u64 (key), kind: u32 (index), payload: String (34 bytes) }}`; insert transactions \
         of {} rows; temp file, `Durability::None` unless stated; {} untimed commits first \
         ({DURABLE_WARMUP} on the fsync arm). Latency: `db.write` of one transaction; \
         \"writer on CPU / waiting\": the writing thread's time on a CPU and runnable but waiting for one, per \
         commit (`/proc/thread-self/schedstat`). Subscriber arms keep the default \
         history. {}\n",
        cli.rows.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and "),
        thousands(WARMUP as u64),
        if repeat > 1 {
            format!(
                "Median of {repeat} runs: each figure is the median of its {repeat} values; \"received\" is the worst run's."
            )
        } else {
            "One run.".to_string()
        }
    );
    println!(
        "| rows/tx | arm | commits | commits/s | mean µs | p50 µs | p99 µs | mean / floor | p50 / floor | writer on CPU / waiting µs | delivery p50 / p99 µs | subscribers received |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in rows {
        let floor = rows.iter().find(|f| f.batch == m.batch && f.row == Row::Floor);
        let ratio =
            |v: f64, f: fn(&Measured) -> f64| floor.map_or_else(|| "–".into(), |fl| format!("{:.2}×", v / f(fl)));
        let delivery = m.delivery.map_or_else(
            || "–".into(),
            |(p50, p99, early)| format!("{} / {} ({:.0}% before `write` returned)", us(p50), us(p99), early * 100.0),
        );
        let got = match (m.row, m.got) {
            (Row::StalledFilling, _) => {
                format!("none read; each holds {}, then is lagged", thousands(DEFAULT_WATCH_CAPACITY as u64))
            }
            (_, Some(g)) => format!(
                "{:.1}% of {} commits, {} lag notices",
                g.commits as f64 * 100.0 / g.expected.max(1) as f64,
                thousands(g.expected),
                thousands(g.lag_notices)
            ),
            (_, None) => "–".into(),
        };
        let writer = m.writer.map_or_else(|| "–".into(), |(run, wait)| format!("{} / {}", us(run), us(wait)));
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {writer} | {delivery} | {got} |",
            m.batch,
            m.row.label(cli),
            thousands(m.commits as u64),
            m.rate,
            us(m.mean_us),
            us(m.p50_us),
            us(m.p99_us),
            ratio(m.mean_us, |f| f.mean_us),
            ratio(m.p50_us, |f| f.p50_us),
        );
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if cli.quick {
        cli.n = 2_000;
        cli.durable_n = 200;
        cli.repeat = 1;
    }
    if cli.n < 10 {
        eprintln!("error: --n must be at least 10");
        return ExitCode::FAILURE;
    }
    let batch_commits = cli.batch_commits.unwrap_or(cli.n / 10).max(10);
    let base_dir = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let repeat = cli.repeat.max(1);
    let mut runs = Vec::new();
    let mut failures = Vec::new();
    for rep in 0..repeat {
        // Each run starts with the next arm, so that no arm always runs first.
        let k = cli.arms.len();
        for arm in (0..k).map(|j| cli.arms[(j + rep) % k]) {
            for &batch in &cli.rows {
                let commits = if batch == 1 { cli.n } else { batch_commits };
                let t = Instant::now();
                match run_arm(&cli, &base_dir, arm, batch, commits) {
                    Ok(rows) => {
                        for m in &rows {
                            eprintln!(
                                "  run {} {:>3} rows/tx {:<70} mean {:>8} µs p99 {:>8} µs",
                                rep + 1,
                                batch,
                                m.row.label(&cli),
                                us(m.mean_us),
                                us(m.p99_us)
                            );
                        }
                        runs.extend(rows);
                    }
                    Err(e) => failures.push(format!("{arm:?} at {batch} rows/tx: {e}")),
                }
                eprintln!("    ({:.1} s)", t.elapsed().as_secs_f64());
            }
        }
    }
    print_table(&cli, &median_runs(&runs), repeat);
    report::finish(&failures)
}
