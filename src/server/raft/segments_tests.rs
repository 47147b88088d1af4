//! Recovery, truncation and purge of the raft log segments, on real files.

use std::fs::{self, OpenOptions};
use std::io::Write;

use openraft::{CommittedLeaderId, EntryPayload};

use super::*;
use crate::log::storage::OsStorage;
use crate::server::raft::types::Payload;

fn entry(index: u64) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Payload(format!("record-{index}").into_bytes())),
    }
}

fn open(dir: &Path, max: usize) -> Recovered {
    Disk::open(Arc::new(OsStorage), dir, max).unwrap()
}

fn indexes(r: &Recovered) -> Vec<u64> {
    r.entries.iter().map(|e| e.log_id.index).collect()
}

fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(SEGMENT_EXT))
        .collect();
    names.sort();
    names
}

fn last_segment(dir: &Path) -> PathBuf {
    dir.join(segment_files(dir).last().unwrap())
}

#[test]
fn appended_entries_are_recovered_in_order_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 3);
    r.disk
        .append(&(0..7).map(entry).collect::<Vec<_>>())
        .unwrap();
    r.disk.append(&[entry(7)]).unwrap();
    assert_eq!(r.disk.segment_count(), 3);
    assert_eq!(
        segment_files(dir.path()),
        vec![
            "00000000000000000000.raftlog",
            "00000000000000000003.raftlog",
            "00000000000000000006.raftlog"
        ]
    );
    drop(r);
    let r = open(dir.path(), 3);
    assert_eq!(indexes(&r), (0..8).collect::<Vec<_>>());
    assert_eq!(r.entries[5], entry(5));
}

#[test]
fn garbage_after_the_last_entry_is_truncated_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 100);
    r.disk
        .append(&(0..4).map(entry).collect::<Vec<_>>())
        .unwrap();
    drop(r);
    let path = last_segment(dir.path());
    let good_len = fs::metadata(&path).unwrap().len();
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(&[0, 0, 0, 9, 1, 2, 3]).unwrap();
    drop(f);

    let mut r = open(dir.path(), 100);
    assert_eq!(indexes(&r), vec![0, 1, 2, 3]);
    assert_eq!(fs::metadata(&path).unwrap().len(), good_len);
    // And the log keeps working after the cut.
    r.disk.append(&[entry(4)]).unwrap();
    drop(r);
    assert_eq!(indexes(&open(dir.path(), 100)), vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_cut_last_entry_is_dropped_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 100);
    r.disk
        .append(&(0..3).map(entry).collect::<Vec<_>>())
        .unwrap();
    drop(r);
    let path = last_segment(dir.path());
    let len = fs::metadata(&path).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let r = open(dir.path(), 100);
    assert_eq!(indexes(&r), vec![0, 1]);
}

#[test]
fn a_bad_crc_cuts_the_log_and_drops_later_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 2);
    r.disk
        .append(&(0..6).map(entry).collect::<Vec<_>>())
        .unwrap();
    drop(r);
    // Flip a payload byte of entry 3 (the second frame of segment 2).
    let path = dir.path().join("00000000000000000002.raftlog");
    let mut bytes = fs::read(&path).unwrap();
    let first_len = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let pos = FRAME_HEADER + first_len + FRAME_HEADER + 3;
    bytes[pos] ^= 0xff;
    fs::write(&path, &bytes).unwrap();

    let r = open(dir.path(), 2);
    assert_eq!(indexes(&r), vec![0, 1, 2]);
    assert_eq!(
        segment_files(dir.path()),
        vec![
            "00000000000000000000.raftlog",
            "00000000000000000002.raftlog"
        ]
    );
}

#[test]
fn truncate_and_purge_remove_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 3);
    r.disk
        .append(&(0..9).map(entry).collect::<Vec<_>>())
        .unwrap();
    r.disk.truncate(4).unwrap();
    assert_eq!(r.disk.segment_count(), 2);
    r.disk.append(&[entry(4), entry(5), entry(6)]).unwrap();
    let state = PersistentState {
        last_purged: Some(entry(3).log_id),
        ..Default::default()
    };
    r.disk.save_state(&state).unwrap();
    r.disk.purge(3).unwrap();
    assert_eq!(
        segment_files(dir.path()),
        vec![
            "00000000000000000003.raftlog",
            "00000000000000000006.raftlog"
        ]
    );
    drop(r);
    let r = open(dir.path(), 3);
    assert_eq!(r.state, state);
    assert_eq!(indexes(&r), vec![4, 5, 6]);
}

#[test]
fn committed_beyond_the_recovered_log_is_lowered() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 10);
    r.disk
        .append(&(0..3).map(entry).collect::<Vec<_>>())
        .unwrap();
    r.disk
        .save_state(&PersistentState {
            committed: Some(entry(5).log_id),
            ..Default::default()
        })
        .unwrap();
    drop(r);
    let r = open(dir.path(), 10);
    assert_eq!(r.state.committed, None);
    assert_eq!(indexes(&r), vec![0, 1, 2]);
}

#[test]
fn an_append_that_leaves_a_hole_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = open(dir.path(), 10);
    r.disk.append(&[entry(0), entry(1)]).unwrap();
    let err = r.disk.append(&[entry(3)]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
