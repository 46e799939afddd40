//! The peak resident set of this process's waited-for children, from `getrusage`.

/// `ru_maxrss` of `RUSAGE_CHILDREN`, in KiB (Linux's unit): the largest peak resident set
/// of any child this process has waited for (and of their waited-for descendants). A
/// process that spawns and waits for exactly one child reads that child's peak.
#[allow(unsafe_code)]
pub fn children_max_rss_kib() -> std::io::Result<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is valid for writes of one `rusage`, which `getrusage` fills in
    // when it returns 0; all-zero bytes are a valid `rusage` in any case.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: zero-initialised above and filled in by `getrusage`.
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_maxrss).map_err(std::io::Error::other)
}
