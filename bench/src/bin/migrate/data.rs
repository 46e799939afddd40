//! The rows every arm writes at version 1, and what each scenario's version 2 must hold.

use std::fmt::Debug;

/// Errors of the benchmark: anything, boxed, with its message.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Rows per write transaction when the v1 file is written (not measured).
pub const WRITE_BATCH: u64 = 100_000;

/// The page cache every arm gets by default (`--page-cache-mib`): Drift's and native_db's
/// redb cache, SQLite's `cache_size`.
pub const PAGE_CACHE_MIB: usize = 64;

/// The `likes` value the index checks look up.
pub const PROBE_LIKES: u32 = 7;

/// What version 2 changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum Scenario {
    /// A new field `pinned: Option<bool>`, `None` in every stored row.
    #[value(name = "add_option")]
    AddOption,
    /// A secondary index on the existing `likes: u32`.
    #[value(name = "add_index")]
    AddIndex,
    /// `title` rewritten to upper case by a transform.
    #[value(name = "transform")]
    Transform,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::AddOption, Scenario::AddIndex, Scenario::Transform];

    pub fn id(self) -> &'static str {
        match self {
            Scenario::AddOption => "add_option",
            Scenario::AddIndex => "add_index",
            Scenario::Transform => "transform",
        }
    }
}

const LOREM: &str = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt \
                     ut labore et dolore magna aliqua; ut enim ad minim veniam, quis nostrud exercitation";

pub fn title(id: u64) -> String {
    format!("post {id}: notes on topic {}", id % 97)
}

/// 70 to 119 bytes of text.
pub fn body(id: u64) -> String {
    let len = 60 + (id % 50) as usize;
    format!("{id:08} {}", &LOREM[..len])
}

/// Spread over 0..1000.
pub fn likes(id: u64) -> u32 {
    (id * 7919 % 1000) as u32
}

/// The title after the `transform` scenario.
pub fn title_v2(id: u64, scenario: Scenario) -> String {
    match scenario {
        Scenario::Transform => title(id).to_uppercase(),
        Scenario::AddOption | Scenario::AddIndex => title(id),
    }
}

/// Ids 1..=n in write batches.
pub fn batches(n: u64) -> impl Iterator<Item = std::ops::RangeInclusive<u64>> {
    (0..n.div_ceil(WRITE_BATCH)).map(move |b| b * WRITE_BATCH + 1..=((b + 1) * WRITE_BATCH).min(n))
}

/// The rows read back after migrating: first, middle, last.
pub fn sample_ids(n: u64) -> [u64; 3] {
    [1, n / 2 + 1, n]
}

/// Rows whose `likes` is [`PROBE_LIKES`].
pub fn probe_count(n: u64) -> u64 {
    (1..=n).filter(|&id| likes(id) == PROBE_LIKES).count() as u64
}

/// A field of /proc/self/status (`VmHWM`, `VmRSS`), in KiB.
pub fn proc_status_kib(field: &str) -> BoxResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib = line.trim().strip_suffix("kB").ok_or_else(|| format!("{field} is not in kB: {line}"))?;
    Ok(kib.trim().parse()?)
}

/// An error naming `what` unless `got == want`.
pub fn check<T: PartialEq + Debug>(what: &str, got: T, want: T) -> BoxResult<()> {
    if got == want { Ok(()) } else { Err(format!("check failed: {what}: got {got:?}, want {want:?}").into()) }
}
