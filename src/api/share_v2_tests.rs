use super::*;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatchA,
};
use kafka_protocol::messages::share_fetch_request::{
    AcknowledgementBatch, FetchPartition, FetchTopic,
};
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, PartitionData, ShareFetchableTopicResponse,
};
use kafka_protocol::messages::{
    GroupId, ShareAcknowledgeRequest, ShareAcknowledgeResponse, ShareFetchRequest,
    ShareFetchResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use uuid::Uuid;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn encode<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).expect("encodes");
    assert_eq!(
        m.compute_size(version).expect("sizes"),
        buf.len(),
        "compute_size agrees with encode at v{version}"
    );
    buf.freeze()
}

fn decode<M: Decodable>(bytes: &Bytes, version: i16) -> M {
    let mut b = bytes.clone();
    let m = M::decode(&mut b, version).expect("decodes");
    assert!(b.is_empty(), "v{version} left {} bytes", b.len());
    m
}

/// The fixed head of a ShareFetch request on the wire: group "g", member "m", epoch 3,
/// MaxWaitMs 0, MinBytes 0, MaxBytes 0, MaxRecords 0, BatchSize 0.
fn fetch_head() -> Vec<u8> {
    let mut v = vec![2, b'g', 2, b'm'];
    v.extend_from_slice(&3i32.to_be_bytes());
    v.extend_from_slice(&[0; 20]);
    v
}

fn bare_fetch() -> ShareFetchRequest {
    ShareFetchRequest::default()
        .with_group_id(Some(GroupId(s("g"))))
        .with_member_id(Some(s("m")))
        .with_share_session_epoch(3)
        .with_max_bytes(0)
}

#[test]
fn share_fetch_request_v2_puts_acquire_mode_and_renew_flag_after_batch_size() {
    let req = bare_fetch()
        .with_share_acquire_mode(1)
        .with_is_renew_ack(true);
    let mut want = fetch_head();
    // ShareAcquireMode int8, IsRenewAck bool, no topics, no forgotten topics, no tags.
    want.extend_from_slice(&[1, 1, 1, 1, 0]);
    let bytes = encode(&req, 2);
    assert_eq!(bytes.as_ref(), want.as_slice());
    assert_eq!(decode::<ShareFetchRequest>(&bytes, 2), req);

    // v1 has neither field: the same request without them, decoded with their defaults.
    let v1 = bare_fetch();
    let bytes = encode(&v1, 1);
    let mut want = fetch_head();
    want.extend_from_slice(&[1, 1, 0]);
    assert_eq!(bytes.as_ref(), want.as_slice());
    let back: ShareFetchRequest = decode(&bytes, 1);
    assert_eq!((back.share_acquire_mode, back.is_renew_ack), (0, false));
    // A v2-only value cannot be sent at v1 (the fields are not ignorable).
    let mut buf = BytesMut::new();
    assert!(req.encode(&mut buf, 1).is_err());
    assert!(bare_fetch()
        .with_share_acquire_mode(1)
        .encode(&mut BytesMut::new(), 1)
        .is_err());
}

#[test]
fn share_fetch_request_round_trips_with_renew_acknowledgements_at_v1_and_v2() {
    let req = |types: Vec<i8>| {
        ShareFetchRequest::default()
            .with_group_id(Some(GroupId(s("group"))))
            .with_member_id(Some(s("member")))
            .with_share_session_epoch(7)
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_records(10)
            .with_batch_size(10)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(Uuid::from_u128(42))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition_index(3)
                    .with_acknowledgement_batches(vec![
                        AcknowledgementBatch::default()
                            .with_first_offset(5)
                            .with_last_offset(6)
                            .with_acknowledge_types(types),
                    ])])])
    };
    let v1 = req(vec![1, 2]);
    assert_eq!(decode::<ShareFetchRequest>(&encode(&v1, 1), 1), v1);
    let v2 = req(vec![4, 1]).with_is_renew_ack(true);
    assert_eq!(decode::<ShareFetchRequest>(&encode(&v2, 2), 2), v2);
}

#[test]
fn share_fetch_response_v2_is_v1_on_the_wire() {
    let resp = ShareFetchResponse::default()
        .with_acquisition_lock_timeout_ms(1500)
        .with_responses(vec![ShareFetchableTopicResponse::default()
            .with_topic_id(Uuid::from_u128(7))
            .with_partitions(vec![PartitionData::default()
                .with_partition_index(0)
                .with_acknowledge_error_code(121)
                .with_acquired_records(vec![AcquiredRecords::default()
                    .with_first_offset(0)
                    .with_last_offset(4)
                    .with_delivery_count(2)])])]);
    let (b1, b2) = (encode(&resp, 1), encode(&resp, 2));
    assert_eq!(b1, b2);
    assert_eq!(decode::<ShareFetchResponse>(&b2, 2), resp);
}

#[test]
fn share_acknowledge_request_v2_puts_the_renew_flag_after_the_session_epoch() {
    let bare = ShareAcknowledgeRequest::default()
        .with_group_id(Some(GroupId(s("g"))))
        .with_member_id(Some(s("m")))
        .with_share_session_epoch(3);
    let mut want = vec![2, b'g', 2, b'm'];
    want.extend_from_slice(&3i32.to_be_bytes());
    let mut v2 = want.clone();
    v2.extend_from_slice(&[1, 1, 0]);
    let renewing = bare.clone().with_is_renew_ack(true);
    assert_eq!(encode(&renewing, 2).as_ref(), v2.as_slice());
    assert_eq!(
        decode::<ShareAcknowledgeRequest>(&encode(&renewing, 2), 2),
        renewing
    );
    want.extend_from_slice(&[1, 0]);
    assert_eq!(encode(&bare, 1).as_ref(), want.as_slice());
    assert!(!decode::<ShareAcknowledgeRequest>(&encode(&bare, 1), 1).is_renew_ack);
    assert!(renewing.encode(&mut BytesMut::new(), 1).is_err());

    let full = renewing.with_topics(vec![AcknowledgeTopic::default()
        .with_topic_id(Uuid::from_u128(9))
        .with_partitions(vec![AcknowledgePartition::default()
            .with_partition_index(1)
            .with_acknowledgement_batches(vec![AckBatchA::default()
                .with_first_offset(0)
                .with_last_offset(2)
                .with_acknowledge_types(vec![4])])])]);
    assert_eq!(
        decode::<ShareAcknowledgeRequest>(&encode(&full, 2), 2),
        full
    );
    let v1 = full.with_is_renew_ack(false);
    assert_eq!(decode::<ShareAcknowledgeRequest>(&encode(&v1, 1), 1), v1);
}

#[test]
fn share_acknowledge_response_v2_carries_the_lock_timeout_after_the_error_message() {
    let resp = ShareAcknowledgeResponse::default().with_acquisition_lock_timeout_ms(1500);
    // ThrottleTimeMs, ErrorCode, null ErrorMessage, then (v2) AcquisitionLockTimeoutMs.
    let mut want = vec![0, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(&1500i32.to_be_bytes());
    want.extend_from_slice(&[1, 1, 0]);
    let bytes = encode(&resp, 2);
    assert_eq!(bytes.as_ref(), want.as_slice());
    assert_eq!(decode::<ShareAcknowledgeResponse>(&bytes, 2), resp);
    // Ignorable: left out at v1, read back as 0.
    let bytes = encode(&resp, 1);
    assert_eq!(bytes.as_ref(), [0, 0, 0, 0, 0, 0, 0, 1, 1, 0].as_slice());
    let back: ShareAcknowledgeResponse = decode(&bytes, 1);
    assert_eq!(back.acquisition_lock_timeout_ms, 0);
}

#[test]
fn renew_is_a_v2_type_and_needs_the_renew_flag() {
    let acks = |t: i8| -> AckBatches { vec![(0, 0, vec![1]), (1, 1, vec![t])] };
    assert_eq!(ack_types_error(1, false, &acks(3)), None);
    assert_eq!(
        ack_types_error(1, false, &acks(RENEW)),
        Some(INVALID_REQUEST)
    );
    assert_eq!(
        ack_types_error(2, false, &acks(RENEW)),
        Some(INVALID_REQUEST)
    );
    assert_eq!(ack_types_error(2, true, &acks(RENEW)), None);
    // IsRenewAck with other types beside RENEW (or none at all) is fine.
    assert_eq!(ack_types_error(2, true, &acks(2)), None);
    assert_eq!(ack_types_error(2, true, &acks(5)), Some(INVALID_REQUEST));
    assert_eq!(ack_types_error(2, true, &acks(-1)), Some(INVALID_REQUEST));
}

#[test]
fn a_renewing_fetch_asks_for_nothing_and_acquire_modes_are_zero_or_one() {
    assert_eq!(
        check_fetch(0, false, 500, 1, 1 << 20, 100),
        Ok(AcquireMode::BatchOptimized)
    );
    assert_eq!(
        check_fetch(1, false, 500, 1, 1 << 20, 100),
        Ok(AcquireMode::RecordLimit)
    );
    assert!(check_fetch(2, false, 500, 1, 1 << 20, 100).is_err());
    assert!(check_fetch(-1, false, 500, 1, 1 << 20, 100).is_err());
    assert_eq!(
        check_fetch(0, true, 0, 0, 0, 0),
        Ok(AcquireMode::BatchOptimized)
    );
    for (w, mi, ma, r) in [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)] {
        assert!(check_fetch(0, true, w, mi, ma, r).is_err());
    }
}
