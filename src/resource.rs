//! Running out of a resource: file descriptors, disk space, memory.
//!
//! Every place that can hit one of these limits (opening a segment file, appending to a log,
//! accepting a connection) hands the error to [`report`], which recognises the condition,
//! counts it per resource (`skua_resource_exhausted_total` in /metrics) and logs it at most
//! once per [`LOG_EVERY`] per resource, with the limit that was hit and how many times it was
//! hit since the last line, so a broker under pressure says so without flooding its log. The
//! caller answers with Kafka's error code (KAFKA_STORAGE_ERROR for log operations, which
//! clients retry) and keeps serving: nothing here takes anything offline.
//!
//! At start-up [`raise_nofile_limit`] lifts the soft `RLIMIT_NOFILE` to the hard limit, as
//! most servers do, so the descriptor budget is what the operator allowed, not the shell's
//! default soft limit.

use std::io;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often (at most) one resource's exhaustion is logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// A resource that can run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// EMFILE / ENFILE: the process or system open-file limit.
    FileDescriptors,
    /// ENOSPC / EDQUOT: the file system is full or the quota is used up.
    Disk,
    /// ENOMEM: the kernel could not allocate memory for the call.
    Memory,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::FileDescriptors, Resource::Disk, Resource::Memory];

    /// The label value in metrics.
    pub fn label(self) -> &'static str {
        match self {
            Resource::FileDescriptors => "file_descriptors",
            Resource::Disk => "disk",
            Resource::Memory => "memory",
        }
    }

    fn index(self) -> usize {
        match self {
            Resource::FileDescriptors => 0,
            Resource::Disk => 1,
            Resource::Memory => 2,
        }
    }
}

/// Which resource an I/O error says ran out, if any.
pub fn classify(e: &io::Error) -> Option<Resource> {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) => Some(Resource::FileDescriptors),
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Some(Resource::Disk),
        Some(libc::ENOMEM) => Some(Resource::Memory),
        _ => match e.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => Some(Resource::Disk),
            io::ErrorKind::OutOfMemory => Some(Resource::Memory),
            _ => None,
        },
    }
}

static COUNTS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
/// Per resource: when it was last logged (ms since the epoch) and the count at that time.
static LOGGED_AT: [AtomicI64; 3] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];
static LOGGED_COUNT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// Times `resource` ran out since the process started.
pub fn exhausted_total(resource: Resource) -> u64 {
    COUNTS[resource.index()].load(Ordering::Relaxed)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Count and (rate-limited) log `e` if it says a resource ran out; `what` names the
/// operation ("open orders-3/00000000000000000000.log", "accept"). Returns the resource.
pub fn report(e: &io::Error, what: &dyn std::fmt::Display) -> Option<Resource> {
    let resource = classify(e)?;
    let i = resource.index();
    let count = COUNTS[i].fetch_add(1, Ordering::Relaxed) + 1;
    let now = now_ms();
    let last = LOGGED_AT[i].load(Ordering::Relaxed);
    let due = now.saturating_sub(last) >= LOG_EVERY.as_millis() as i64;
    if due
        && LOGGED_AT[i]
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        let since = count - LOGGED_COUNT[i].swap(count, Ordering::Relaxed);
        match resource {
            Resource::FileDescriptors => {
                let (soft, hard) = nofile_limit().unwrap_or((0, 0));
                tracing::error!(
                    resource = resource.label(),
                    // Counting needs a descriptor too: none left means all of them.
                    open_fds = %open_fds().map_or_else(|| format!("{soft}"), |n| n.to_string()),
                    nofile_soft = soft,
                    nofile_hard = hard,
                    times = since,
                    "out of file descriptors during {what}: {e}; serving what can be served \
                     (raise `ulimit -n`, lower log.max.open.files or max.connections)"
                );
            }
            Resource::Disk => tracing::error!(
                resource = resource.label(),
                times = since,
                "out of disk space during {what}: {e}; writes fail with KAFKA_STORAGE_ERROR \
                 until space is freed (retention, deleting topics), reads continue"
            ),
            Resource::Memory => tracing::error!(
                resource = resource.label(),
                times = since,
                "out of memory during {what}: {e}"
            ),
        }
    }
    Some(resource)
}

/// The process's `RLIMIT_NOFILE` (soft, hard).
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on some targets only
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur as u64, lim.rlim_max as u64))
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the limits in force afterwards.
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on some targets only
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    let (soft, hard) = nofile_limit()?;
    if soft < hard {
        let lim = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    nofile_limit()
}

/// Descriptors this process has open now (Linux: entries of /proc/self/fd), if known.
pub fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_exhaustion_errnos() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(classify(&os(libc::EMFILE)), Some(Resource::FileDescriptors));
        assert_eq!(classify(&os(libc::ENFILE)), Some(Resource::FileDescriptors));
        assert_eq!(classify(&os(libc::ENOSPC)), Some(Resource::Disk));
        assert_eq!(classify(&os(libc::EDQUOT)), Some(Resource::Disk));
        assert_eq!(classify(&os(libc::ENOMEM)), Some(Resource::Memory));
        assert_eq!(classify(&os(libc::EIO)), None);
        assert_eq!(classify(&io::Error::other("x")), None);
    }

    #[test]
    fn report_counts_every_occurrence() {
        let before = exhausted_total(Resource::Disk);
        for _ in 0..3 {
            assert_eq!(
                report(&io::Error::from_raw_os_error(libc::ENOSPC), &"test"),
                Some(Resource::Disk)
            );
        }
        assert!(exhausted_total(Resource::Disk) >= before + 3);
        assert_eq!(report(&io::Error::other("x"), &"test"), None);
    }

    #[test]
    fn nofile_limit_reads_and_raising_keeps_it_consistent() {
        let (soft, hard) = nofile_limit().unwrap();
        assert!(soft <= hard);
        let (soft2, hard2) = raise_nofile_limit().unwrap();
        assert_eq!(hard2, hard);
        assert_eq!(soft2, hard);
        assert!(open_fds().unwrap() > 0);
    }
}
