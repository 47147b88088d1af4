//! Producer id allocation that survives restarts (Kafka's controller hands out blocks of
//! producer ids and records each block; skua does the same in one file).
//!
//! On-disk: `meta/producer-id-block`, the decimal text of the first id NOT yet reserved,
//! replaced atomically (tmp, fsync, rename, fsync dir) BEFORE any id of a new block is handed
//! out. After a crash the next block starts at that value, so no id is ever handed out twice,
//! at the price of skipping the rest of a block (as in Kafka).
//!
//! Not synchronized: the transaction coordinator's runtime owns it.

use std::path::{Path, PathBuf};

/// Ids reserved per file write (Kafka's PRODUCER_ID_BLOCK_SIZE).
pub const BLOCK_SIZE: i64 = 1000;

const FILE: &str = "producer-id-block";

#[derive(Debug)]
pub struct ProducerIdBlocks {
    dir: PathBuf,
    next: i64,
    /// First id beyond the reserved block.
    end: i64,
}

impl ProducerIdBlocks {
    /// Open (or start) the allocator in `meta_dir`. A missing file starts at 0; an unreadable
    /// one is an error (handing out ids again would break fencing and deduplication).
    pub fn open(meta_dir: &Path) -> std::io::Result<ProducerIdBlocks> {
        let path = meta_dir.join(FILE);
        let next = match std::fs::read_to_string(&path) {
            Ok(s) => s.trim().parse::<i64>().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if next < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: negative producer id {next}", path.display()),
            ));
        }
        Ok(ProducerIdBlocks {
            dir: meta_dir.to_path_buf(),
            next,
            end: next,
        })
    }

    /// The next producer id; reserves (and persists) a new block when the current one is used up.
    pub fn allocate(&mut self) -> std::io::Result<i64> {
        if self.next >= self.end {
            let end = self
                .next
                .checked_add(BLOCK_SIZE)
                .ok_or_else(|| std::io::Error::other("producer ids exhausted"))?;
            crate::log::storage::write_atomic(
                &crate::log::OsStorage,
                &self.dir,
                FILE,
                format!("{end}\n").as_bytes(),
            )?;
            self.end = end;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_reused_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ProducerIdBlocks::open(dir.path()).unwrap();
        assert_eq!(a.allocate().unwrap(), 0);
        assert_eq!(a.allocate().unwrap(), 1);
        // A restart (or crash) skips to the next block.
        let mut b = ProducerIdBlocks::open(dir.path()).unwrap();
        assert_eq!(b.allocate().unwrap(), BLOCK_SIZE);
        for i in 1..BLOCK_SIZE {
            assert_eq!(b.allocate().unwrap(), BLOCK_SIZE + i);
        }
        assert_eq!(b.allocate().unwrap(), 2 * BLOCK_SIZE);
        let mut c = ProducerIdBlocks::open(dir.path()).unwrap();
        assert_eq!(c.allocate().unwrap(), 3 * BLOCK_SIZE);
    }

    #[test]
    fn a_corrupt_block_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(ProducerIdBlocks::open(dir.path()).is_err());
    }
}
