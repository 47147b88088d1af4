//! The bounded cache of open segment files: how a broker hosts far more files than it may
//! hold descriptors for.
//!
//! Every file the log opens through [`super::OsStorage`] is a [`CachedFile`]: a path, the
//! file's identity (device and inode), and a slot that holds an open descriptor or nothing.
//! Reads, writes, fsyncs and truncations take the descriptor from the slot, opening the file
//! again if it was closed. At most [`OpenFiles::capacity`] slots hold a descriptor at a time
//! (`log.max.open.files`, by default half the process's `nofile` limit): when one more is
//! needed, the least recently used one is closed, chosen by the CLOCK algorithm (a use sets
//! the slot's reference bit without taking a global lock, so the hot path stays cheap; the
//! sweep gives referenced files a second chance). A partition that is being written keeps its
//! active segment open because it is used all the time; idle partitions and old segments hold
//! nothing.
//!
//! Correctness rules:
//! - A file is reopened by path and must still be the same file: the device and inode are
//!   checked, so a segment that was replaced (the cleaner's swap) or deleted (retention) in
//!   the meantime gives `NotFound` instead of another file's bytes. Segments that leave the
//!   log while a read or sync plan still holds them are [`CachedFile::retain_open`]ed first,
//!   so such plans finish on the old file exactly as with a plain descriptor.
//! - Closing a descriptor loses nothing: written data is in the page cache, and an fsync on
//!   a new descriptor of the same inode flushes it.
//! - Running out of descriptors while opening (EMFILE, ENFILE) closes a share of the cached
//!   ones and tries once more; if that fails too the error is reported
//!   ([`crate::resource::report`]) and returned, and the next use tries again.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, Weak};

use super::storage::{OpenMode, StorageFile};
use crate::resource::{self, Resource};

/// Smallest capacity the cache accepts: a roll opens three files at once, a cleaner pass a
/// few more.
pub const MIN_CAPACITY: usize = 16;

/// The process-wide cache (descriptors are a per-process resource).
pub fn global() -> &'static OpenFiles {
    static CACHE: LazyLock<OpenFiles> = LazyLock::new(|| OpenFiles::new(default_capacity()));
    &CACHE
}

/// Half the soft `nofile` limit: the other half stays for connections, the metadata log,
/// directories being synced and everything else.
pub fn default_capacity() -> usize {
    let soft = resource::nofile_limit().map(|(s, _)| s).unwrap_or(1024);
    usize::try_from(soft / 2)
        .unwrap_or(usize::MAX)
        .max(MIN_CAPACITY)
}

/// Counters of the cache, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesStats {
    pub capacity: usize,
    /// Descriptors held now.
    pub open: usize,
    /// Files opened (first opens and reopens of closed ones).
    pub opens: u64,
    /// Descriptors closed to make room.
    pub evictions: u64,
}

#[derive(Debug)]
pub struct OpenFiles {
    capacity: AtomicUsize,
    open: AtomicUsize,
    opens: AtomicU64,
    evictions: AtomicU64,
    clock: Mutex<Clock>,
}

/// The slots that hold a descriptor, swept by the clock hand. Entries of dropped files are
/// removed when the hand meets them.
#[derive(Debug, Default)]
struct Clock {
    ring: Vec<Weak<Slot>>,
    hand: usize,
}

impl OpenFiles {
    pub fn new(capacity: usize) -> OpenFiles {
        OpenFiles {
            capacity: AtomicUsize::new(capacity.max(MIN_CAPACITY)),
            open: AtomicUsize::new(0),
            opens: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            clock: Mutex::new(Clock::default()),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Change the capacity; descriptors above it are closed now (those in use as they are
    /// released).
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity
            .store(capacity.max(MIN_CAPACITY), Ordering::Relaxed);
        let mut clock = self.lock_clock();
        self.evict_over_capacity(&mut clock, None);
    }

    pub fn stats(&self) -> OpenFilesStats {
        OpenFilesStats {
            capacity: self.capacity(),
            open: self.open.load(Ordering::Relaxed),
            opens: self.opens.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    fn lock_clock(&self) -> MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open `path` with `mode`. `Existing` files are not opened yet (only checked to exist):
    /// the first use opens them. Created files are opened now, and kept, since they are
    /// about to be written.
    pub fn open(&'static self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        let slot = match mode {
            OpenMode::Existing => {
                let meta = std::fs::metadata(path)?;
                if !meta.is_file() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{} is not a regular file", path.display()),
                    ));
                }
                Arc::new(Slot::new(self, path, (meta.dev(), meta.ino()), None))
            }
            OpenMode::Create | OpenMode::CreateTruncate => {
                let file = self.open_os(path, mode)?;
                let meta = file.metadata()?;
                let slot = Arc::new(Slot::new(
                    self,
                    path,
                    (meta.dev(), meta.ino()),
                    Some(Arc::new(file)),
                ));
                self.admit(&slot);
                slot
            }
        };
        Ok(Arc::new(CachedFile { slot }))
    }

    /// `open(2)`, closing a share of the cached descriptors and trying once more if the
    /// process or the system is out of them.
    fn open_os(&self, path: &Path, mode: OpenMode) -> io::Result<File> {
        let attempt = || {
            let mut opts = OpenOptions::new();
            opts.read(true).write(true);
            match mode {
                OpenMode::Existing => {}
                OpenMode::Create => {
                    opts.create(true);
                }
                OpenMode::CreateTruncate => {
                    opts.create(true).truncate(true);
                }
            }
            opts.open(path)
        };
        self.opens.fetch_add(1, Ordering::Relaxed);
        self.with_room(path, attempt)
    }

    /// Run `attempt` (which opens a descriptor for `path` and closes it or hands it to the
    /// cache); if the process or the system is out of descriptors, close a share of the
    /// cached ones and try once more. A failure that remains is reported (counted, logged
    /// rate-limited).
    pub fn with_room<T>(&self, path: &Path, attempt: impl Fn() -> io::Result<T>) -> io::Result<T> {
        match attempt() {
            Err(e) if resource::classify(&e) == Some(Resource::FileDescriptors) => {
                let freed = self.shed();
                match attempt() {
                    Ok(f) => Ok(f),
                    Err(e) => {
                        resource::report(
                            &e,
                            &format_args!(
                                "open {} (closed {freed} cached files first)",
                                path.display()
                            ),
                        );
                        Err(e)
                    }
                }
            }
            Err(e) => {
                resource::report(&e, &format_args!("open {}", path.display()));
                Err(e)
            }
            ok => ok,
        }
    }

    /// Record that `slot` now holds a descriptor, closing others above capacity.
    fn admit(&self, slot: &Arc<Slot>) {
        self.open.fetch_add(1, Ordering::Relaxed);
        let mut clock = self.lock_clock();
        clock.ring.push(Arc::downgrade(slot));
        self.evict_over_capacity(&mut clock, Some(slot));
        if clock.ring.len() > 2 * self.capacity() + 64 {
            clock.ring.retain(|w| w.strong_count() > 0);
            clock.hand = 0;
        }
    }

    /// Sweep the clock until the open count is within capacity, or every candidate was
    /// seen twice (all in use, pinned or just referenced: then the cache runs over until
    /// they are released, which [`Self::admit`] notices next time).
    fn evict_over_capacity(&self, clock: &mut Clock, admitted: Option<&Arc<Slot>>) {
        let mut budget = 2 * clock.ring.len();
        while self.open.load(Ordering::Relaxed) > self.capacity() && budget > 0 {
            budget -= 1;
            self.step(clock, admitted, true);
        }
    }

    /// Close up to an eighth of the cached descriptors (at least 8), ignoring reference bits:
    /// the process ran out. Returns how many were closed.
    fn shed(&self) -> usize {
        let mut clock = self.lock_clock();
        let want = (clock.ring.len() / 8).max(8);
        let mut closed = 0;
        let mut budget = clock.ring.len();
        while closed < want && budget > 0 {
            budget -= 1;
            if self.step(&mut clock, None, false) {
                closed += 1;
            }
        }
        closed
    }

    /// Look at the slot under the hand: drop dead entries, give referenced ones a second
    /// chance (if `second_chance`), close the rest. Returns whether a descriptor was closed.
    fn step(&self, clock: &mut Clock, admitted: Option<&Arc<Slot>>, second_chance: bool) -> bool {
        if clock.ring.is_empty() {
            return false;
        }
        if clock.hand >= clock.ring.len() {
            clock.hand = 0;
        }
        let hand = clock.hand;
        let Some(slot) = clock.ring[hand].upgrade() else {
            clock.ring.swap_remove(hand);
            return false;
        };
        let busy = admitted.is_some_and(|a| Arc::ptr_eq(a, &slot))
            || slot.pinned.load(Ordering::Relaxed)
            || (second_chance && slot.referenced.swap(false, Ordering::Relaxed));
        if busy {
            clock.hand += 1;
            return false;
        }
        // Never wait for a slot's lock under the clock lock: its holder may be waiting for
        // the clock (admitting itself). A locked slot is in use anyway.
        let Ok(mut fd) = slot.fd.try_lock() else {
            clock.hand += 1;
            return false;
        };
        // A descriptor a read, write or fsync is using right now would stay open after
        // being "closed" here: the count would lie. Skip it; it is released soon.
        if fd.as_ref().is_some_and(|f| Arc::strong_count(f) > 1) {
            clock.hand += 1;
            return false;
        }
        let closed = fd.take().is_some();
        drop(fd);
        clock.ring.swap_remove(hand);
        if closed {
            self.open.fetch_sub(1, Ordering::Relaxed);
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        closed
    }
}

#[derive(Debug)]
struct Slot {
    cache: &'static OpenFiles,
    path: PathBuf,
    /// (device, inode) of the file when it was first opened.
    identity: (u64, u64),
    fd: Mutex<Option<Arc<File>>>,
    /// Used since the clock hand last passed.
    referenced: AtomicBool,
    /// Never closed while the file lives (a segment that left the log but is still read).
    pinned: AtomicBool,
}

impl Slot {
    fn new(
        cache: &'static OpenFiles,
        path: &Path,
        identity: (u64, u64),
        fd: Option<Arc<File>>,
    ) -> Slot {
        Slot {
            cache,
            path: path.to_path_buf(),
            identity,
            fd: Mutex::new(fd),
            referenced: AtomicBool::new(true),
            pinned: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<File>>> {
        self.fd.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let held = match self.fd.get_mut() {
            Ok(f) => f.is_some(),
            Err(p) => p.get_ref().is_some(),
        };
        if held {
            self.cache.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A file of the log behind the cache: see the module documentation.
#[derive(Debug)]
pub struct CachedFile {
    slot: Arc<Slot>,
}

impl CachedFile {
    /// The open descriptor, reopening the file if the cache closed it.
    fn fd(&self) -> io::Result<Arc<File>> {
        let mut guard = self.slot.lock();
        if let Some(f) = guard.as_ref() {
            self.slot.referenced.store(true, Ordering::Relaxed);
            return Ok(Arc::clone(f));
        }
        let file = self
            .slot
            .cache
            .open_os(&self.slot.path, OpenMode::Existing)?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != self.slot.identity {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} was replaced since it was opened",
                    self.slot.path.display()
                ),
            ));
        }
        let file = Arc::new(file);
        *guard = Some(Arc::clone(&file));
        self.slot.referenced.store(true, Ordering::Relaxed);
        drop(guard);
        self.slot.cache.admit(&self.slot);
        Ok(file)
    }

    /// Whether a descriptor is held now (tests).
    pub fn is_open(&self) -> bool {
        self.slot.lock().is_some()
    }
}

impl StorageFile for CachedFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.fd()?.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.fd()?.write_all_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fd()?.sync_data()
    }
    fn size(&self) -> io::Result<u64> {
        if let Some(f) = self.slot.lock().as_ref() {
            return Ok(f.metadata()?.len());
        }
        // Closed: stat the path instead of opening it, if it is still the same file.
        match std::fs::metadata(&self.slot.path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.slot.identity => Ok(meta.len()),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} was replaced since it was opened",
                    self.slot.path.display()
                ),
            )),
            Err(e) => Err(e),
        }
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fd()?.set_len(len)
    }
    fn retain_open(&self) -> io::Result<()> {
        self.fd()?;
        self.slot.pinned.store(true, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: usize) -> &'static OpenFiles {
        Box::leak(Box::new(OpenFiles::new(capacity)))
    }

    fn create(cache: &'static OpenFiles, dir: &Path, name: &str) -> Arc<dyn StorageFile> {
        cache
            .open(&dir.join(name), OpenMode::CreateTruncate)
            .unwrap()
    }

    #[test]
    fn holds_at_most_capacity_descriptors_and_reopens_on_use() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        let files: Vec<_> = (0..100)
            .map(|i| {
                let f = create(cache, dir.path(), &format!("f{i}"));
                f.write_all_at(format!("file {i}").as_bytes(), 0).unwrap();
                f
            })
            .collect();
        assert!(cache.stats().open <= MIN_CAPACITY, "{:?}", cache.stats());
        // Every file still reads back, in any order, through reopened descriptors.
        for round in 0..3 {
            for (i, f) in files.iter().enumerate().rev() {
                let want = format!("file {i}");
                let mut buf = vec![0u8; want.len()];
                f.read_exact_at(&mut buf, 0).unwrap();
                assert_eq!(buf, want.as_bytes(), "round {round}");
                assert_eq!(f.size().unwrap(), want.len() as u64);
                assert!(cache.stats().open <= MIN_CAPACITY);
            }
        }
        let stats = cache.stats();
        assert!(stats.evictions >= 100 - MIN_CAPACITY as u64, "{stats:?}");
        assert!(stats.opens > 100, "{stats:?}");
        drop(files);
        assert_eq!(cache.stats().open, 0);
    }

    #[test]
    fn a_file_in_use_keeps_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        let hot = create(cache, dir.path(), "hot");
        hot.write_all_at(b"hot", 0).unwrap();
        for i in 0..200 {
            let f = create(cache, dir.path(), &format!("cold{i}"));
            f.write_all_at(b"x", 0).unwrap();
            // Using the hot file between opens sets its reference bit every time.
            let mut b = [0u8; 3];
            hot.read_exact_at(&mut b, 0).unwrap();
        }
        let before = cache.stats().opens;
        let mut b = [0u8; 3];
        hot.read_exact_at(&mut b, 0).unwrap();
        assert_eq!(cache.stats().opens, before, "the hot file was not reopened");
    }

    #[test]
    fn a_replaced_or_deleted_file_is_not_found_instead_of_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        let path = dir.path().join("seg.log");
        let f = create(cache, dir.path(), "seg.log");
        f.write_all_at(b"old bytes", 0).unwrap();
        // Evict it, then replace the name with another file.
        let others: Vec<_> = (0..MIN_CAPACITY * 2)
            .map(|i| create(cache, dir.path(), &format!("o{i}")))
            .collect();
        std::fs::write(dir.path().join("new"), b"new bytes").unwrap();
        std::fs::rename(dir.path().join("new"), &path).unwrap();
        let mut buf = [0u8; 9];
        let err = f.read_exact_at(&mut buf, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert_eq!(f.size().unwrap_err().kind(), io::ErrorKind::NotFound);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            f.read_exact_at(&mut buf, 0).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        drop(others);
    }

    #[test]
    fn a_retained_file_reads_to_the_end_after_its_name_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        let f = create(cache, dir.path(), "seg.log");
        f.write_all_at(b"retired segment", 0).unwrap();
        f.retain_open().unwrap();
        std::fs::remove_file(dir.path().join("seg.log")).unwrap();
        let others: Vec<_> = (0..MIN_CAPACITY * 3)
            .map(|i| create(cache, dir.path(), &format!("o{i}")))
            .collect();
        let mut buf = [0u8; 15];
        f.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"retired segment");
        drop(others);
        drop(f);
        assert_eq!(cache.stats().open, 0);
    }

    #[test]
    fn existing_files_are_not_opened_until_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        std::fs::write(dir.path().join("a"), b"abc").unwrap();
        let f = cache
            .open(&dir.path().join("a"), OpenMode::Existing)
            .unwrap();
        assert_eq!(cache.stats().open, 0);
        assert_eq!(f.size().unwrap(), 3);
        assert_eq!(cache.stats().open, 0, "size of a closed file is a stat");
        let mut b = [0u8; 3];
        f.read_exact_at(&mut b, 0).unwrap();
        assert_eq!(&b, b"abc");
        assert_eq!(cache.stats().open, 1);
        let missing = cache.open(&dir.path().join("missing"), OpenMode::Existing);
        assert_eq!(missing.unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn shrinking_the_capacity_closes_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(64);
        let files: Vec<_> = (0..64)
            .map(|i| create(cache, dir.path(), &format!("f{i}")))
            .collect();
        assert_eq!(cache.stats().open, 64);
        cache.set_capacity(MIN_CAPACITY);
        assert!(cache.stats().open <= MIN_CAPACITY, "{:?}", cache.stats());
        for f in &files {
            f.write_all_at(b"y", 0).unwrap();
        }
        assert!(cache.stats().open <= MIN_CAPACITY);
    }

    #[test]
    fn concurrent_readers_and_writers_stay_within_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(MIN_CAPACITY);
        let files: Arc<Vec<_>> = Arc::new(
            (0..64)
                .map(|i| {
                    let f = create(cache, dir.path(), &format!("f{i}"));
                    f.write_all_at(&(i as u64).to_be_bytes(), 0).unwrap();
                    f
                })
                .collect(),
        );
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let files = Arc::clone(&files);
                std::thread::spawn(move || {
                    for n in 0..2000usize {
                        let i = (n * 7 + t * 13) % files.len();
                        let mut b = [0u8; 8];
                        files[i].read_exact_at(&mut b, 0).unwrap();
                        assert_eq!(u64::from_be_bytes(b), i as u64);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // In-flight uses may overshoot briefly; at rest the cache is within bounds.
        let f = create(cache, dir.path(), "last");
        drop(f);
        assert!(
            cache.stats().open <= MIN_CAPACITY + 4,
            "{:?}",
            cache.stats()
        );
    }
}
