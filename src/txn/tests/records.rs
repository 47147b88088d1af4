//! `__transaction_state` record encoding (Kafka's byte layout, v0 and v1), hostile input,
//! the partition mapping, and the runtime's error helpers.

use super::*;
use crate::group::records::RecordError;
use crate::txn::errors::{error_response, COORDINATOR_NOT_AVAILABLE};
use crate::txn::records::{encode_key, TxnRecordError};
use crate::txn::state::TxnState;

fn ongoing_value() -> TxnValue {
    TxnValue {
        producer_id: 5,
        producer_epoch: 1,
        timeout_ms: 60_000,
        state: TxnState::Ongoing,
        partitions: topics(&[("a", &[0, 2])]),
        last_update_timestamp_ms: 1000,
        start_timestamp_ms: 900,
        previous_producer_id: -1,
        next_producer_id: -1,
        client_transaction_version: 0,
    }
}

#[test]
fn record_encoding_matches_kafka_schema() {
    // TransactionLogKey v0: version, then the id as an i16-length string.
    assert_eq!(&encode_key("t")[..], &[0, 0, 0, 1, b't']);
    assert_eq!(decode_key(&[0, 0, 0, 1, b't']), Ok("t".to_string()));
    #[rustfmt::skip]
    let expected = [
        0, 0,                               // value version 0
        0, 0, 0, 0, 0, 0, 0, 5,             // ProducerId
        0, 1,                               // ProducerEpoch
        0, 0, 0xea, 0x60,                   // TransactionTimeoutMs 60000
        1,                                  // TransactionStatus Ongoing
        0, 0, 0, 1,                         // TransactionPartitions: 1 topic
        0, 1, b'a',                         //   Topic "a"
        0, 0, 0, 2,                         //   PartitionIds: 2
        0, 0, 0, 0,
        0, 0, 0, 2,
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,       // TransactionLastUpdateTimestampMs 1000
        0, 0, 0, 0, 0, 0, 0x03, 0x84,       // TransactionStartTimestampMs 900
    ];
    let bytes = ongoing_value().encode();
    assert_eq!(&bytes[..], &expected);
    assert_eq!(TxnValue::decode(&bytes), Ok(ongoing_value()));
    // Empty: partitions null, start -1.
    let empty = TxnValue {
        producer_epoch: 0,
        state: TxnState::Empty,
        partitions: None,
        start_timestamp_ms: -1,
        ..ongoing_value()
    };
    #[rustfmt::skip]
    let expected = [
        0, 0,
        0, 0, 0, 0, 0, 0, 0, 5,
        0, 0,
        0, 0, 0xea, 0x60,
        0,
        0xff, 0xff, 0xff, 0xff,
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert_eq!(&empty.encode()[..], &expected);
    assert_eq!(TxnValue::decode(&expected), Ok(empty));
    // Every status id.
    for (id, state) in TxnState::ALL.into_iter().enumerate() {
        assert_eq!(state.id(), id as i8);
        let v = TxnValue {
            state,
            ..ongoing_value()
        };
        assert_eq!(TxnValue::decode(&v.encode()), Ok(v));
    }
}

#[test]
fn coordinator_writes_what_the_schema_says() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    let out = add(&mut h, "t", pid, epoch, &[("b", 1), ("a", 0)]);
    #[rustfmt::skip]
    let mut expected = vec![
        0, 0,
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,       // producer id 1000
        0, 0,
        0, 0, 0xea, 0x60,
        1,
        0, 0, 0, 2,
        0, 1, b'a', 0, 0, 0, 1, 0, 0, 0, 0,
        0, 1, b'b', 0, 0, 0, 1, 0, 0, 0, 1,
    ];
    let now = h.now.to_be_bytes();
    expected.extend_from_slice(&now);
    expected.extend_from_slice(&now);
    assert_eq!(out.records[0].value.as_deref(), Some(&expected[..]));
    assert_eq!(&out.records[0].key[..], &[0, 0, 0, 1, b't']);
}

#[test]
fn value_v1_with_tagged_fields_is_read() {
    #[rustfmt::skip]
    let v1 = [
        0, 1,                               // value version 1 (flexible)
        0, 0, 0, 0, 0, 0, 0, 5,
        0, 1,
        0, 0, 0xea, 0x60,
        2,                                  // PrepareCommit
        2,                                  // compact array: 1 topic
        2, b'a',                            //   compact string "a"
        3, 0, 0, 0, 0, 0, 0, 0, 2,          //   compact array: 2 partitions
        0,                                  //   no tagged fields
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,
        0, 0, 0, 0, 0, 0, 0x03, 0x84,
        3,                                  // 3 tagged fields
        0, 8, 0, 0, 0, 0, 0, 0, 0, 4,       //   PreviousProducerId 4
        2, 2, 0, 2,                         //   ClientTransactionVersion 2
        9, 1, 0xaa,                         //   an unknown tag, skipped
    ];
    let expected = TxnValue {
        state: TxnState::PrepareCommit,
        previous_producer_id: 4,
        client_transaction_version: 2,
        ..ongoing_value()
    };
    assert_eq!(TxnValue::decode(&v1), Ok(expected.clone()));
    // Writing v1 produces the same bytes without the unknown tag.
    let mut known = v1[..v1.len() - 3].to_vec();
    let count = known.len() - 15;
    known[count] = 2;
    assert_eq!(&expected.encode_version(1)[..], &known[..]);
    // Replaying it: the producer id survives, the v1-only fields are kept as read.
    let mut h = Harness::new();
    h.coord.replay(h.now, &encode_key("t"), Some(&v1)).unwrap();
    let m = h.coord.transaction("t").unwrap();
    assert_eq!(
        (m.state, m.previous_producer_id),
        (TxnState::PrepareCommit, 4)
    );
    assert_eq!(m.partitions.len(), 2);
}

#[test]
fn hostile_records_are_rejected_without_state_change() {
    let mut h = Harness::new();
    init(&mut h, "t");
    let before = h.coord.transaction("t").cloned();
    let key = encode_key("t");
    let good = ongoing_value().encode();
    let mut bad_state = good.to_vec();
    bad_state[16] = 9;
    let mut huge_count = good.to_vec();
    huge_count[17..21].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    let mut v2 = good.to_vec();
    v2[1] = 2;
    let cases: Vec<(Vec<u8>, Vec<u8>, TxnRecordError)> = vec![
        (
            vec![0, 1, 0, 1, b't'],
            good.to_vec(),
            RecordError::UnsupportedKeyVersion(1).into(),
        ),
        (
            vec![0, 0, 0, 5, b't'],
            good.to_vec(),
            RecordError::Truncated.into(),
        ),
        (key.to_vec(), bad_state, TxnRecordError::UnknownState(9)),
        (key.to_vec(), huge_count, RecordError::Truncated.into()),
        (
            key.to_vec(),
            good[..good.len() - 1].to_vec(),
            RecordError::Truncated.into(),
        ),
        (
            key.to_vec(),
            v2,
            RecordError::UnsupportedValueVersion {
                record: "TransactionLogValue",
                version: 2,
            }
            .into(),
        ),
        (key.to_vec(), vec![0], RecordError::Truncated.into()),
    ];
    for (k, v, err) in cases {
        assert_eq!(h.coord.replay(h.now, &k, Some(&v)), Err(err));
    }
    assert_eq!(h.coord.transaction("t").cloned(), before);
}

#[test]
fn replay_reads_kafkas_transient_states() {
    let mut h = Harness::new();
    let key = encode_key("t");
    let fence = TxnValue {
        state: TxnState::PrepareEpochFence,
        ..ongoing_value()
    };
    h.coord.replay(h.now, &key, Some(&fence.encode())).unwrap();
    assert_eq!(h.state("t"), Some("PrepareAbort"));
    let loaded = h.coord.loaded(h.now);
    assert_eq!(loaded.markers.len(), 1);
    assert!(!loaded.markers[0].commit);
    let dead = TxnValue {
        state: TxnState::Dead,
        ..ongoing_value()
    };
    h.coord.replay(h.now, &key, Some(&dead.encode())).unwrap();
    assert!(h.coord.transaction("t").is_none());
}

#[test]
fn partition_is_kafkas_abs_java_hash_mod_partitions() {
    let h = Harness::new();
    // "foo".hashCode() = 101574.
    assert_eq!(h.coord.transaction_state_partition("foo"), 101_574 % 50);
    // Utils.abs(Integer.MIN_VALUE) = 0.
    assert_eq!(h.coord.transaction_state_partition("polygenelubricants"), 0);
    let config = TxnConfig {
        transaction_state_partitions: 7,
        ..config()
    };
    let c = TransactionCoordinator::new(config, ids_from(1));
    assert_eq!(c.transaction_state_partition("foo"), 101_574 % 7);
}

#[test]
fn failed_append_turns_answers_into_errors_but_keeps_markers() {
    let mut h = Harness::new();
    let (pid, epoch) = init(&mut h, "t");
    add(&mut h, "t", pid, epoch, &[("a", 0)]);
    let (_, out) = h.send(end_req("t", pid, epoch, true));
    let failed = out.clone().with_error(COORDINATOR_NOT_AVAILABLE);
    assert_eq!(failed.responses[0].1, Response::end_txn_error(15));
    assert!(failed.records.is_empty());
    assert_eq!(
        (failed.markers, failed.partitions, failed.timers),
        (out.markers, out.partitions, out.timers)
    );
    let r = Response::AddPartitions {
        error: 0,
        partitions: vec![(("a".into(), 0), 0)],
    };
    assert_eq!(
        r.with_error(15),
        Response::AddPartitions {
            error: 15,
            partitions: vec![(("a".into(), 0), 15)]
        }
    );
    let describe = Request::Describe {
        transactional_ids: vec!["x".into()],
    };
    assert_eq!(
        error_response(&describe, 14),
        Response::Describe {
            transactions: vec![DescribedTxn::error("x", 14)]
        }
    );
}

proptest::proptest! {
    /// Arbitrary bytes after a valid version prefix never panic the readers, and whatever
    /// decodes re-encodes to a value that decodes the same.
    #[test]
    fn arbitrary_record_bytes_never_panic(
        version in 0u8..3,
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
    ) {
        let mut bytes = vec![0, version];
        bytes.extend_from_slice(&body);
        let _ = decode_key(&bytes);
        if let Ok(v) = TxnValue::decode(&bytes) {
            proptest::prop_assert_eq!(TxnValue::decode(&v.encode_version(1)), Ok(v));
        }
    }

    /// Any metadata the coordinator can hold survives its record.
    #[test]
    fn metadata_round_trips_through_its_record(
        producer_id in 0i64..i64::MAX,
        producer_epoch in 0i16..i16::MAX,
        state_id in 0i8..6,
        partitions in proptest::collection::btree_set(("[a-c]{1,3}", 0i32..5), 0..6),
        start in -1i64..1 << 40,
    ) {
        let state = TxnState::from_id(state_id).unwrap();
        let m = crate::txn::TransactionMetadata {
            producer_id,
            producer_epoch,
            timeout_ms: TIMEOUT_MS,
            state,
            partitions: if state == TxnState::Empty { Default::default() } else { partitions },
            start_timestamp_ms: start,
            last_update_timestamp_ms: start + 1,
            last_producer_epoch: -1,
            previous_producer_id: -1,
            client_transaction_version: 0,
            next_producer_id: -1,
        };
        let back = TxnValue::decode(&TxnValue::from_metadata(&m).encode()).unwrap();
        proptest::prop_assert_eq!(back.to_metadata(), m);
    }
}
