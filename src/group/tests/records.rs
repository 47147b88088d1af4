//! `__consumer_offsets` record encoding: Kafka's byte layout, every readable version, and
//! hostile input.

use bytes::Bytes;

use crate::group::context::{java_string_hash, partition_for};
use crate::group::records::{
    GroupMetadataValue, MemberMetadata, OffsetCommitValue, RecordError, RecordKey,
};

fn offset_value() -> OffsetCommitValue {
    OffsetCommitValue {
        offset: 5,
        leader_epoch: 7,
        metadata: "m".into(),
        commit_timestamp: 1000,
        expire_timestamp: None,
    }
}

fn group_value() -> GroupMetadataValue {
    GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 1,
        protocol: Some("range".into()),
        leader: Some("m".into()),
        current_state_timestamp: 1000,
        members: vec![MemberMetadata {
            member_id: "m".into(),
            group_instance_id: Some("i".into()),
            client_id: "c".into(),
            client_host: "h".into(),
            rebalance_timeout: 2,
            session_timeout: 3,
            subscription: Bytes::from_static(&[0xaa]),
            assignment: Bytes::new(),
        }],
    }
}

#[test]
fn keys_have_kafkas_byte_layout() {
    let key = RecordKey::OffsetCommit {
        group: "g".into(),
        topic: "t".into(),
        partition: 3,
    };
    let bytes = key.encode();
    assert_eq!(&bytes[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
    assert_eq!(RecordKey::decode(&bytes), Ok(key.clone()));
    // v0 keys (older brokers) have the same layout.
    let mut v0 = bytes.to_vec();
    v0[1] = 0;
    assert_eq!(RecordKey::decode(&v0), Ok(key));
    let group = RecordKey::GroupMetadata { group: "g".into() };
    assert_eq!(&group.encode()[..], &[0, 2, 0, 1, b'g']);
    assert_eq!(
        RecordKey::decode(&[0, 99, 0, 1, b'g']),
        Err(RecordError::UnsupportedKeyVersion(99))
    );
}

#[test]
fn offset_commit_value_has_kafkas_byte_layout() {
    let bytes = offset_value().encode();
    #[rustfmt::skip]
    let expected = [
        0, 3,
        0, 0, 0, 0, 0, 0, 0, 5,
        0, 0, 0, 7,
        0, 1, b'm',
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,
    ];
    assert_eq!(&bytes[..], &expected);
    let with_expiry = OffsetCommitValue {
        expire_timestamp: Some(2000),
        ..offset_value()
    };
    #[rustfmt::skip]
    let expected_v1 = [
        0, 1,
        0, 0, 0, 0, 0, 0, 0, 5,
        0, 1, b'm',
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,
        0, 0, 0, 0, 0, 0, 0x07, 0xd0,
    ];
    assert_eq!(&with_expiry.encode()[..], &expected_v1);
}

#[test]
fn group_metadata_value_has_kafkas_byte_layout() {
    let bytes = group_value().encode();
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0u8, 3][..],
        &[0, 8], b"consumer",
        &[0, 0, 0, 1],
        &[0, 5], b"range",
        &[0, 1], b"m",
        &[0, 0, 0, 0, 0, 0, 0x03, 0xe8],
        &[0, 0, 0, 1],
        &[0, 1], b"m",
        &[0, 1], b"i",
        &[0, 1], b"c",
        &[0, 1], b"h",
        &[0, 0, 0, 2],
        &[0, 0, 0, 3],
        &[0, 0, 0, 1, 0xaa],
        &[0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(&bytes[..], &expected[..]);
}

#[test]
fn every_value_version_round_trips() {
    for version in 0..=4 {
        let v = offset_value();
        let decoded = OffsetCommitValue::decode(&v.encode_version(version));
        let expected = OffsetCommitValue {
            leader_epoch: if version >= 3 { 7 } else { -1 },
            ..v
        };
        assert_eq!(decoded, Ok(expected), "OffsetCommitValue v{version}");

        let g = group_value();
        let decoded = GroupMetadataValue::decode(&g.encode_version(version));
        let mut expected = g;
        if version < 3 {
            expected.members[0].group_instance_id = None;
        }
        if version < 2 {
            expected.current_state_timestamp = -1;
        }
        if version < 1 {
            expected.members[0].rebalance_timeout = -1;
        }
        assert_eq!(decoded, Ok(expected), "GroupMetadataValue v{version}");
    }
    let v1 = OffsetCommitValue {
        expire_timestamp: Some(9),
        ..offset_value()
    };
    assert_eq!(
        OffsetCommitValue::decode(&v1.encode_version(1)).map(|v| v.expire_timestamp),
        Ok(Some(9))
    );
}

#[test]
fn flexible_versions_skip_unknown_tagged_fields() {
    let mut bytes = offset_value().encode_version(4).to_vec();
    assert_eq!(bytes.pop(), Some(0), "empty tagged fields");
    bytes.extend_from_slice(&[2, 5, 2, 0xab, 0xcd, 9, 0]);
    assert_eq!(OffsetCommitValue::decode(&bytes), Ok(offset_value()));

    let empty = GroupMetadataValue {
        members: vec![],
        ..group_value()
    };
    let mut bytes = empty.encode_version(4).to_vec();
    assert_eq!(bytes.pop(), Some(0));
    bytes.extend_from_slice(&[1, 0x80, 0x01, 1, 0xff]);
    assert_eq!(GroupMetadataValue::decode(&bytes), Ok(empty));
}

#[test]
fn truncated_or_corrupt_records_are_errors_not_panics() {
    for full in [1, 3, 4].map(|v| offset_value().encode_version(v)) {
        for len in 0..full.len() {
            assert!(OffsetCommitValue::decode(&full[..len]).is_err(), "{len}");
        }
    }
    for full in [0, 3, 4].map(|v| group_value().encode_version(v)) {
        for len in 0..full.len() {
            assert!(GroupMetadataValue::decode(&full[..len]).is_err(), "{len}");
        }
    }
    assert_eq!(
        OffsetCommitValue::decode(&[0, 5]),
        Err(RecordError::UnsupportedValueVersion {
            record: "OffsetCommitValue",
            version: 5
        })
    );
    // A huge member count is refused before anything is allocated.
    let mut huge = group_value().encode().to_vec();
    let count_at = 2 + 10 + 4 + 7 + 3 + 8;
    huge[count_at..count_at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(
        GroupMetadataValue::decode(&huge),
        Err(RecordError::Truncated)
    );
    // Arbitrary bytes never panic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let buf: Vec<u8> = (0..len)
            .map(|i| (x >> (i % 8 * 8)) as u8 ^ i as u8)
            .collect();
        let _ = RecordKey::decode(&buf);
        let _ = OffsetCommitValue::decode(&buf);
        let _ = GroupMetadataValue::decode(&buf);
    }
}

#[test]
fn partition_for_matches_kafka() {
    // "foo".hashCode() == 101574 in Java.
    assert_eq!(java_string_hash("foo"), 101_574);
    assert_eq!(partition_for("foo", 50), 101_574 % 50);
    // Java hashes UTF-16 units and wraps: "é" is one unit, 233.
    assert_eq!(java_string_hash("é"), 233);
    // A negative hash uses its absolute value.
    let negative = (0..)
        .map(|i| format!("group-{i}"))
        .find(|g| java_string_hash(g) < 0)
        .unwrap_or_default();
    let h = java_string_hash(&negative);
    assert_eq!(partition_for(&negative, 50), -h % 50);
    // Kafka's Utils.abs(Integer.MIN_VALUE) is 0.
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    assert_eq!(partition_for("polygenelubricants", 50), 0);
}
