//! Kafka's offset checkpoint file (`OffsetCheckpointFile`): one file per log directory
//! holding an offset per partition, here the high watermarks (`replication-offset-checkpoint`).
//!
//! ```text
//! 0                 <- version
//! 2                 <- number of entries
//! orders 0 1234     <- topic, partition, offset
//! orders 1 987
//! ```
//!
//! One file for every partition of the directory means one write (and two fsyncs) per
//! checkpoint interval, whatever the partition count, instead of one per partition.
//! Replaced atomically ([`write_atomic`]), so a crash leaves the old file or the new one.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::storage::{read_whole, write_atomic, Storage};

/// The high watermarks of a log directory.
pub const REPLICATION_OFFSET_CHECKPOINT: &str = "replication-offset-checkpoint";

const VERSION: u32 = 0;

/// Offsets by (topic, partition).
pub type Offsets = HashMap<(String, i32), i64>;

/// Read `dir/name`: `Ok(None)` if there is none; `InvalidData` if it is not a version-0
/// checkpoint with as many valid entries as it announces.
pub fn read(storage: &dyn Storage, dir: &Path, name: &str) -> io::Result<Option<Offsets>> {
    let Some(bytes) = read_whole(storage, &dir.join(name))? else {
        return Ok(None);
    };
    parse(&bytes).map(Some).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a valid offset checkpoint",
                dir.join(name).display()
            ),
        )
    })
}

fn parse(bytes: &[u8]) -> Option<Offsets> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim().parse::<u32>().ok()? != VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut offsets = Offsets::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let mut fields = lines.next()?.split_whitespace();
        let topic = fields.next()?;
        let partition: i32 = fields.next()?.parse().ok()?;
        let offset: i64 = fields.next()?.parse().ok()?;
        if fields.next().is_some() || partition < 0 || offset < 0 {
            return None;
        }
        offsets.insert((topic.to_string(), partition), offset);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return None;
    }
    Some(offsets)
}

/// The file's text for `entries`, sorted by topic and partition.
pub fn encode<'a>(entries: impl IntoIterator<Item = (&'a str, i32, i64)>) -> String {
    let mut entries: Vec<(&str, i32, i64)> = entries.into_iter().collect();
    entries.sort_unstable();
    let mut text = String::with_capacity(16 + entries.len() * 32);
    text.push_str(&format!("{VERSION}\n{}\n", entries.len()));
    for (topic, partition, offset) in entries {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    text
}

/// Replace `dir/name` with `entries` (write, fsync, rename, fsync the directory).
pub fn write<'a>(
    storage: &dyn Storage,
    dir: &Path,
    name: &str,
    entries: impl IntoIterator<Item = (&'a str, i32, i64)>,
) -> io::Result<()> {
    write_atomic(storage, dir, name, encode(entries).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::OsStorage;

    #[test]
    fn round_trips_in_kafkas_format() {
        let tmp = tempfile::tempdir().unwrap();
        let entries = [("orders", 1, 987), ("orders", 0, 1234), ("a.b-c_d", 7, 0)];
        write(&OsStorage, tmp.path(), "cp", entries).unwrap();
        let text = std::fs::read_to_string(tmp.path().join("cp")).unwrap();
        assert_eq!(text, "0\n3\na.b-c_d 7 0\norders 0 1234\norders 1 987\n");
        let read = read(&OsStorage, tmp.path(), "cp").unwrap().unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[&("orders".to_string(), 0)], 1234);
        assert_eq!(read[&("a.b-c_d".to_string(), 7)], 0);
        assert!(super::read(&OsStorage, tmp.path(), "missing")
            .unwrap()
            .is_none());
    }

    #[test]
    fn refuses_what_is_not_a_whole_checkpoint() {
        for bad in [
            "",
            "1\n0\n",
            "0\n2\nt 0 5\n",
            "0\n1\nt 0\n",
            "0\n1\nt x 5\n",
            "0\n1\nt 0 -1\n",
            "0\n1\nt 0 5 6\n",
            "0\n1\nt 0 5\nu 1 2\n",
            "0\nmany\n",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert_eq!(parse(b"0\n0\n").unwrap().len(), 0);
        assert_eq!(parse(b"0\n1\nt 3 5\n\n").unwrap().len(), 1);
    }
}
