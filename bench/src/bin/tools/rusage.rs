//! The peak resident set of this process's waited-for children, from `getrusage`.

/// `ru_maxrss` of `RUSAGE_CHILDREN`, in KiB (Linux's unit): the largest peak resident set
/// of any child this process has waited for (and of their waited-for descendants). A
/// process that spawns and waits for exactly one child reads that child's peak.
pub fn children_max_rss_kib() -> std::io::Result<u64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(std::io::Error::from)?;
    u64::try_from(usage.max_rss()).map_err(std::io::Error::other)
}
