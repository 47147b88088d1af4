//! Property tests ("fuzzing" on stable Rust) of the hand-written legacy codecs: whatever the
//! bytes, decoding a removed-version request, reading or converting a message set, and
//! decompressing never panic and never allocate beyond their limits; valid input that is then
//! corrupted is rejected or converted, never half-read into garbage that passes.
//! `make fuzz` (cargo-fuzz, nightly) drives the same decoders through `decode_frame` for longer.

use super::*;
use crate::protocol::legacy::codec;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    BrokerId, GroupId, OffsetCommitRequest, OffsetFetchRequest, OffsetForLeaderEpochRequest,
    ProducerId, TopicName, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::RecordBatchDecoder;
use proptest::collection::vec;
use proptest::prelude::*;

/// The removed versions the dispatch table decodes by hand (or as a later layout).
const LEGACY: &[(i16, i16)] = &[
    (0, 0), // Produce v0
    (0, 1),
    (0, 2),
    (1, 0), // Fetch v0
    (1, 1),
    (1, 2),
    (1, 3),
    (2, 0),  // ListOffsets v0
    (8, 0),  // OffsetCommit v0
    (8, 1),  // OffsetCommit v1
    (9, 0),  // OffsetFetch v0
    (19, 0), // CreateTopics v0
    (19, 1),
    (20, 0), // DeleteTopics v0
    (32, 0), // DescribeConfigs v0
    (8, 10), // OffsetCommit v10 (newer than the crate)
    (9, 10), // OffsetFetch v10 (newer than the crate)
    (23, 0), // OffsetForLeaderEpoch v0
    (23, 1),
    (27, 0), // WriteTxnMarkers v0
];

/// Key and value of one record.
type Kv = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A request frame (no size prefix) with the version's header (v1, or v2 with its empty
/// tagged fields for a flexible version) and `body`.
fn frame(key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&key.to_be_bytes());
    f.extend_from_slice(&version.to_be_bytes());
    f.extend_from_slice(&7i32.to_be_bytes());
    f.extend_from_slice(&4i16.to_be_bytes());
    f.extend_from_slice(b"fuzz");
    if matches!((key, version), (8, 10) | (9, 10)) {
        f.push(0);
    }
    f.extend_from_slice(body);
    f
}

fn opt_str() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[a-z0-9._-]{0,12}")
}

fn uuid_strategy() -> impl Strategy<Value = uuid::Uuid> {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}

/// An OffsetCommit v10 request: topics by id.
fn offset_commit_v10() -> impl Strategy<Value = OffsetCommitRequest> {
    let part = (any::<i32>(), any::<i64>(), any::<i32>(), opt_str()).prop_map(|(i, o, e, m)| {
        OffsetCommitRequestPartition::default()
            .with_partition_index(i)
            .with_committed_offset(o)
            .with_committed_leader_epoch(e)
            .with_committed_metadata(m.map(StrBytes::from_string))
    });
    let topic = (uuid_strategy(), vec(part, 0..4)).prop_map(|(id, parts)| {
        OffsetCommitRequestTopic::default()
            .with_topic_id(id)
            .with_partitions(parts)
    });
    (
        "[a-z]{0,10}",
        any::<i32>(),
        "[a-z0-9-]{0,20}",
        opt_str(),
        vec(topic, 0..4),
    )
        .prop_map(|(g, gen, m, inst, topics)| {
            OffsetCommitRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(g)))
                .with_generation_id_or_member_epoch(gen)
                .with_member_id(StrBytes::from_string(m))
                .with_group_instance_id(inst.map(StrBytes::from_string))
                .with_retention_time_ms(-1)
                .with_topics(topics)
        })
}

/// An OffsetFetch v10 request: groups with topics by id or all topics.
fn offset_fetch_v10() -> impl Strategy<Value = OffsetFetchRequest> {
    let topic = (uuid_strategy(), vec(any::<i32>(), 0..4)).prop_map(|(id, parts)| {
        OffsetFetchRequestTopics::default()
            .with_topic_id(id)
            .with_partition_indexes(parts)
    });
    let group = (
        "[a-z]{0,10}",
        opt_str(),
        any::<i32>(),
        proptest::option::of(vec(topic, 0..4)),
    )
        .prop_map(|(g, m, e, topics)| {
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(StrBytes::from_string(g)))
                .with_member_id(m.map(StrBytes::from_string))
                .with_member_epoch(e)
                .with_topics(topics)
        });
    (vec(group, 0..3), any::<bool>()).prop_map(|(groups, stable)| {
        OffsetFetchRequest::default()
            .with_groups(groups)
            .with_require_stable(stable)
    })
}

/// An OffsetForLeaderEpoch v0–1 request (what v0–1 carry: no current epoch, no replica id).
fn offset_for_leader_epoch_v0() -> impl Strategy<Value = OffsetForLeaderEpochRequest> {
    let part = (any::<i32>(), any::<i32>()).prop_map(|(p, e)| {
        OffsetForLeaderPartition::default()
            .with_partition(p)
            .with_current_leader_epoch(-1)
            .with_leader_epoch(e)
    });
    let topic = ("[a-z]{1,10}", vec(part, 0..4)).prop_map(|(t, parts)| {
        OffsetForLeaderTopic::default()
            .with_topic(TopicName(StrBytes::from_string(t)))
            .with_partitions(parts)
    });
    vec(topic, 0..4).prop_map(|topics| {
        OffsetForLeaderEpochRequest::default()
            .with_replica_id(BrokerId(-2))
            .with_topics(topics)
    })
}

/// A WriteTxnMarkers v0 request.
fn write_txn_markers_v0() -> impl Strategy<Value = WriteTxnMarkersRequest> {
    let topic = ("[a-z]{1,10}", vec(any::<i32>(), 0..4)).prop_map(|(t, parts)| {
        WritableTxnMarkerTopic::default()
            .with_name(TopicName(StrBytes::from_string(t)))
            .with_partition_indexes(parts)
    });
    let marker = (
        any::<i64>(),
        any::<i16>(),
        any::<bool>(),
        vec(topic, 0..3),
        any::<i32>(),
    )
        .prop_map(|(pid, epoch, commit, topics, ce)| {
            WritableTxnMarker::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_transaction_result(commit)
                .with_topics(topics)
                .with_coordinator_epoch(ce)
        });
    vec(marker, 0..3).prop_map(|markers| WriteTxnMarkersRequest::default().with_markers(markers))
}

/// A produce v0–2 body carrying `set` for one partition.
fn produce_body(version: i16, set: &[u8]) -> Vec<u8> {
    let _ = version;
    let mut b = Vec::new();
    b.extend_from_slice(&1i16.to_be_bytes()); // acks
    b.extend_from_slice(&1000i32.to_be_bytes()); // timeout
    b.extend_from_slice(&1i32.to_be_bytes()); // topics
    b.extend_from_slice(&1i16.to_be_bytes());
    b.push(b't');
    b.extend_from_slice(&1i32.to_be_bytes()); // partitions
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&(set.len() as i32).to_be_bytes());
    b.extend_from_slice(set);
    b
}

fn codec_of(i: u8) -> u8 {
    [codec::NONE, codec::GZIP, codec::SNAPPY, codec::LZ4][(i % 4) as usize]
}

/// A valid message set of `magic`, plain or in one `c` wrapper.
fn message_set(magic: i8, c: u8, recs: &[Kv]) -> Vec<u8> {
    let mut inner = Vec::new();
    for (i, (k, v)) in recs.iter().enumerate() {
        write_message(
            &mut inner,
            i as i64,
            magic,
            0,
            1_700_000_000_000 + i as i64,
            k.as_deref(),
            v.as_deref(),
        );
    }
    if c == codec::NONE {
        return inner;
    }
    let payload = match codec::compress(c, &inner, magic) {
        Ok(p) => p,
        Err(e) => panic!("compress: {e}"),
    };
    let mut out = Vec::new();
    write_message(
        &mut out,
        recs.len() as i64 - 1,
        magic,
        c as i8,
        1_700_000_000_000,
        None,
        Some(&payload),
    );
    out
}

fn records() -> impl Strategy<Value = Vec<Kv>> {
    vec(
        (
            proptest::option::of(vec(any::<u8>(), 0..16)),
            proptest::option::of(vec(any::<u8>(), 0..64)),
        ),
        1..8,
    )
}

/// Corrupt `bytes`: flip one byte and/or cut the tail.
fn corrupt(mut bytes: Vec<u8>, at: usize, xor: u8, cut: usize) -> Vec<u8> {
    if !bytes.is_empty() {
        let i = at % bytes.len();
        bytes[i] ^= xor.max(1);
        let keep = bytes.len() - cut % (bytes.len() + 1).min(8);
        bytes.truncate(keep);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Arbitrary bodies after a valid header, for every removed version.
    #[test]
    fn legacy_request_bodies_never_panic(
        which in 0..LEGACY.len(),
        body in vec(any::<u8>(), 0..200),
    ) {
        let (key, version) = LEGACY[which];
        let _ = crate::api::decode_frame(&frame(key, version, &body));
    }

    /// A valid produce v0–2 request, then one byte flipped or the tail cut: decoding and
    /// up-converting its message set either fail cleanly or succeed; unmodified it succeeds
    /// with every record, in order.
    #[test]
    fn produce_v0_2_round_trip_and_corruption(
        version in 0i16..3,
        c in any::<u8>(),
        recs in records(),
        at in any::<usize>(),
        xor in any::<u8>(),
        cut in any::<usize>(),
    ) {
        let magic = if version == 2 { 1 } else { 0 };
        let c = codec_of(c);
        let set = message_set(magic, c, &recs);
        let f = frame(0, version, &produce_body(version, &set));
        prop_assert!(crate::api::decode_frame(&f).is_ok());

        let batch = match up_convert(&set, false) {
            Ok(b) => b,
            Err(e) => return Err(TestCaseError::fail(format!("valid set rejected: {e}"))),
        };
        let mut bytes = bytes::Bytes::from(batch);
        let decoded = match RecordBatchDecoder::decode(&mut bytes) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!("batch undecodable: {e}"))),
        };
        prop_assert_eq!(decoded.records.len(), recs.len());
        for (i, (r, (k, v))) in decoded.records.iter().zip(&recs).enumerate() {
            prop_assert_eq!(r.offset, i as i64);
            prop_assert_eq!(r.key.as_deref(), k.as_deref());
            prop_assert_eq!(r.value.as_deref(), v.as_deref());
        }

        let bad = corrupt(set.clone(), at, xor, cut);
        let _ = read_messages(&bad);
        let _ = up_convert(&bad, at % 2 == 0);
        let _ = crate::api::decode_frame(&frame(0, version, &produce_body(version, &bad)));
        let _ = crate::api::decode_frame(&corrupt(f, at, xor, cut));
    }

    /// Down-conversion of valid v2 batches, then of corrupted ones, for fetch v0–3: never a
    /// panic, and what comes out is a readable message set with the records the consumer needs.
    #[test]
    fn down_convert_round_trip_and_corruption(
        c in any::<u8>(),
        magic in 0i8..2,
        recs in records(),
        from in 0usize..8,
        at in any::<usize>(),
        xor in any::<u8>(),
        cut in any::<usize>(),
    ) {
        let c = codec_of(c);
        let plain: Vec<PlainRecord> = recs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| PlainRecord {
                timestamp: 1_700_000_000_000 + i as i64,
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let batch = match build_v2_batch(&plain, c) {
            Ok(b) => b,
            Err(e) => return Err(TestCaseError::fail(format!("build: {e}"))),
        };
        let from = (from % recs.len()) as i64;
        let set = match down_convert(&batch, magic, from, 1 << 20) {
            Ok(s) => s,
            Err(e) => return Err(TestCaseError::fail(format!("down-convert: {e}"))),
        };
        // Read back (decompressing wrappers) through up-conversion.
        let up = match up_convert(&set, false) {
            Ok(b) => b,
            Err(e) => return Err(TestCaseError::fail(format!("re-read: {e}"))),
        };
        let mut bytes = bytes::Bytes::from(up);
        let decoded = match RecordBatchDecoder::decode(&mut bytes) {
            Ok(d) => d,
            Err(e) => return Err(TestCaseError::fail(format!("batch undecodable: {e}"))),
        };
        // Plain records below the fetch offset are left out; a compressed batch goes out whole
        // in one wrapper (as Kafka does), the consumer skipping what precedes its offset.
        let skip = if c == codec::NONE { from as usize } else { 0 };
        let want: Vec<_> = recs.iter().skip(skip).collect();
        prop_assert_eq!(decoded.records.len(), want.len());
        for (r, (k, v)) in decoded.records.iter().zip(want) {
            prop_assert_eq!(r.key.as_deref(), k.as_deref());
            prop_assert_eq!(r.value.as_deref(), v.as_deref());
        }

        let bad = corrupt(batch, at, xor, cut);
        let _ = down_convert(&bad, magic, 0, 1 << 16);
        let _ = down_convert(&bad, magic, from, 10);
    }

    /// The hand codecs of the versions the crate lacks (OffsetCommit/OffsetFetch v10,
    /// OffsetForLeaderEpoch v0–1, WriteTxnMarkers v0): what is encoded decodes to the same
    /// request, through the server's frame decoder too; corrupted, it fails cleanly.
    #[test]
    fn hand_codecs_round_trip_and_corruption(
        commit in offset_commit_v10(),
        fetch in offset_fetch_v10(),
        epochs in offset_for_leader_epoch_v0(),
        markers in write_txn_markers_v0(),
        at in any::<usize>(),
        xor in any::<u8>(),
        cut in any::<usize>(),
    ) {
        use crate::protocol::legacy::requests as r;
        let bodies = [
            (8i16, 10i16, r::encode_offset_commit_v10(&commit)),
            (9, 10, r::encode_offset_fetch_v10(&fetch)),
            (23, 0, r::encode_offset_for_leader_epoch(&epochs)),
            (23, 1, r::encode_offset_for_leader_epoch(&epochs)),
            (27, 0, r::encode_write_txn_markers_v0(&markers)),
        ];
        prop_assert_eq!(r::offset_commit_v10(&bodies[0].2).ok(), Some(commit));
        prop_assert_eq!(r::offset_fetch_v10(&bodies[1].2).ok(), Some(fetch));
        prop_assert_eq!(r::offset_for_leader_epoch(&bodies[2].2).ok(), Some(epochs));
        prop_assert_eq!(r::write_txn_markers_v0(&bodies[4].2).ok(), Some(markers));
        for (key, version, body) in bodies {
            let f = frame(key, version, &body);
            prop_assert_eq!(crate::api::decode_frame(&f).ok(), Some((
                kafka_protocol::messages::ApiKey::try_from(key).map_err(|_| TestCaseError::fail("key"))?,
                version,
            )));
            let _ = crate::api::decode_frame(&corrupt(f, at, xor, cut));
            let _ = r::offset_commit_v10(&corrupt(body.clone(), at, xor, cut));
            let _ = r::offset_fetch_v10(&corrupt(body.clone(), at, xor, cut));
            let _ = r::offset_for_leader_epoch(&corrupt(body.clone(), at, xor, cut));
            let _ = r::write_txn_markers_v0(&corrupt(body, at, xor, cut));
        }
    }

    /// Decompression of arbitrary bytes with every codec stays within its limit.
    #[test]
    fn decompress_is_bounded(
        c in 0u8..5,
        data in vec(any::<u8>(), 0..256),
        limit in 0usize..4096,
    ) {
        if let Ok(out) = codec::decompress(c, &data, limit) {
            prop_assert!(out.len() <= limit);
        }
    }

    /// Valid compressed payloads decompress to the input, and a limit below their size is an
    /// error, not a truncated success.
    #[test]
    fn compress_round_trip_respects_limit(
        c in 1u8..4,
        magic in 0i8..2,
        data in vec(any::<u8>(), 0..2048),
    ) {
        let z = match codec::compress(c, &data, magic) {
            Ok(z) => z,
            Err(e) => return Err(TestCaseError::fail(format!("compress: {e}"))),
        };
        match codec::decompress(c, &z, data.len()) {
            Ok(out) => prop_assert_eq!(&out, &data),
            Err(e) => return Err(TestCaseError::fail(format!("decompress: {e}"))),
        }
        if !data.is_empty() {
            prop_assert!(codec::decompress(c, &z, data.len() - 1).is_err());
        }
    }
}
