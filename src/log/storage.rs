//! The file-access seam of the log: every byte the log reads or writes goes through
//! [`Storage`] and [`StorageFile`], so tests can inject failed writes and fsyncs.
//!
//! [`OsStorage`] is the real thing (positional I/O on `std::fs::File`, so one handle can be
//! shared by an appender and concurrent readers without a seek position), with descriptors
//! held in the bounded cache of [`super::open_files`]. [`FaultyStorage`]
//! wraps it and fails writes, fsyncs, or tears writes on demand via a shared
//! [`FaultInjector`].

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read-write; the file must exist.
    Existing,
    /// Read-write; created if missing, kept as is otherwise.
    Create,
    /// Read-write; created if missing, emptied otherwise.
    CreateTruncate,
}

/// One open file, used with positional reads and writes only.
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Read up to `buf.len()` bytes at `pos`; 0 means end of file.
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize>;
    /// Write all of `buf` at `pos`.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// fsync the data (and the size) of the file.
    fn sync_data(&self) -> io::Result<()>;
    /// Current size of the file in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Truncate or extend the file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Keep this file readable for as long as the handle lives even if it is deleted or
    /// replaced by name: called on the files of a segment that leaves the log while a plan
    /// still holds them (a cached file would otherwise be closed and not found again).
    fn retain_open(&self) -> io::Result<()> {
        Ok(())
    }

    /// Fill `buf` from `pos`, failing with `UnexpectedEof` if the file is shorter.
    fn read_exact_at(&self, mut buf: &mut [u8], mut pos: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, pos) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than expected",
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Directory-level operations and opening files.
pub trait Storage: Send + Sync + fmt::Debug {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>>;
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Names of the entries of a directory.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// fsync a directory, making creations, renames and removals in it durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Last modification time of a file, in ms since the epoch.
    fn modified_ms(&self, path: &Path) -> io::Result<i64>;
}

/// Read a whole (small) file; `Ok(None)` if it does not exist.
pub fn read_whole(storage: &dyn Storage, path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match storage.open(path, OpenMode::Existing) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = usize::try_from(file.size()?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "file too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(Some(buf))
}

/// Replace `path` atomically with `contents`: write a tmp file, fsync, rename, fsync dir.
pub fn write_atomic(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    contents: &[u8],
) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let file = storage.open(&tmp, OpenMode::CreateTruncate)?;
    file.write_all_at(contents, 0)?;
    file.sync_data()?;
    drop(file);
    storage.rename(&tmp, &dir.join(name))?;
    storage.sync_dir(dir)
}

/// The operating system's file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        super::open_files::global().open(path, mode)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        // The directory's descriptor lives only for the fsync; the cache makes room for it.
        super::open_files::global()
            .with_room(path, || File::open(path))?
            .sync_all()
    }
    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        let modified = fs::metadata(path)?.modified()?;
        let ms = modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Ok(i64::try_from(ms).unwrap_or(i64::MAX))
    }
}

/// Switches shared between a test and a [`FaultyStorage`].
#[derive(Debug, Default)]
pub struct FaultInjector {
    fail_writes: AtomicBool,
    tear_writes: AtomicBool,
    fail_syncs: AtomicBool,
    no_space: AtomicBool,
    no_descriptors: AtomicBool,
}

impl FaultInjector {
    /// Make every later write (and truncate) fail without writing anything.
    pub fn fail_writes(&self, on: bool) {
        self.fail_writes.store(on, Ordering::SeqCst);
    }
    /// Make every later write write only its first half, then fail (a torn write).
    pub fn tear_writes(&self, on: bool) {
        self.tear_writes.store(on, Ordering::SeqCst);
    }
    /// Make every later write write its first half, then fail with ENOSPC (a full disk);
    /// truncating still works, as it does on a full file system.
    pub fn run_out_of_space(&self, on: bool) {
        self.no_space.store(on, Ordering::SeqCst);
    }
    /// Make every later open of a file or directory (fsync of a directory opens it) fail
    /// with EMFILE, as when the process is out of descriptors; open files keep working.
    pub fn run_out_of_descriptors(&self, on: bool) {
        self.no_descriptors.store(on, Ordering::SeqCst);
    }
    /// Make every later file or directory fsync fail.
    pub fn fail_syncs(&self, on: bool) {
        self.fail_syncs.store(on, Ordering::SeqCst);
    }

    fn write_fault(&self) -> Option<bool> {
        if self.fail_writes.load(Ordering::SeqCst) {
            Some(false)
        } else if self.tear_writes.load(Ordering::SeqCst) {
            Some(true)
        } else {
            None
        }
    }

    fn check_open(&self) -> io::Result<()> {
        if self.no_descriptors.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EMFILE));
        }
        Ok(())
    }

    fn check_sync(&self) -> io::Result<()> {
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        Ok(())
    }
}

/// [`OsStorage`] with injectable faults, for tests.
#[derive(Debug, Clone, Default)]
pub struct FaultyStorage {
    faults: Arc<FaultInjector>,
}

impl FaultyStorage {
    /// A storage with no faults switched on, and the switches for it.
    pub fn new() -> (FaultyStorage, Arc<FaultInjector>) {
        let faults = Arc::new(FaultInjector::default());
        (
            FaultyStorage {
                faults: Arc::clone(&faults),
            },
            faults,
        )
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn StorageFile>,
    faults: Arc<FaultInjector>,
}

impl StorageFile for FaultyFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<usize> {
        self.inner.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        if self.faults.no_space.load(Ordering::SeqCst) {
            self.inner.write_all_at(&buf[..buf.len() / 2], pos)?;
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        match self.faults.write_fault() {
            None => self.inner.write_all_at(buf, pos),
            Some(torn) => {
                if torn {
                    self.inner.write_all_at(&buf[..buf.len() / 2], pos)?;
                }
                Err(io::Error::other("injected write failure"))
            }
        }
    }
    fn sync_data(&self) -> io::Result<()> {
        self.faults.check_sync()?;
        self.inner.sync_data()
    }
    fn size(&self) -> io::Result<u64> {
        self.inner.size()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.faults.write_fault().is_some() {
            return Err(io::Error::other("injected truncate failure"));
        }
        self.inner.set_len(len)
    }
    fn retain_open(&self) -> io::Result<()> {
        self.inner.retain_open()
    }
}

impl Storage for FaultyStorage {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Arc<dyn StorageFile>> {
        self.faults.check_open()?;
        Ok(Arc::new(FaultyFile {
            inner: OsStorage.open(path, mode)?,
            faults: Arc::clone(&self.faults),
        }))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        OsStorage.create_dir_all(path)
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        OsStorage.exists(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        OsStorage.list_dir(path)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        OsStorage.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        OsStorage.remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsStorage.rename(from, to)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.faults.check_open()?;
        self.faults.check_sync()?;
        OsStorage.sync_dir(path)
    }
    fn modified_ms(&self, path: &Path) -> io::Result<i64> {
        OsStorage.modified_ms(path)
    }
}
