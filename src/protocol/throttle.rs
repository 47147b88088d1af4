//! Where an encoded response carries `throttle_time_ms`, so that a throttle decided after the
//! handler ran (the request-time quota, `request_percentage`) reaches the client the way
//! Kafka's `AbstractResponse.maybeSetThrottleTimeMs` puts it there.
//!
//! In every response that has the field it is the body's first field, from the version that
//! introduced it, except OffsetDelete (after the top-level error code), ApiVersions (after the
//! API list) and Produce (after the topic list): those two are not patched here (ApiVersions
//! is exempt from the request quota, Produce reports its byte-rate throttle itself); their
//! connections are still muted. The unit tests check every position against the encoder.

use kafka_protocol::messages::ApiKey;

/// The offset of `throttle_time_ms` within the response body of `api` at `version`, if the
/// response has the field and it sits at a fixed place.
pub fn throttle_offset(api: ApiKey, version: i16) -> Option<usize> {
    use ApiKey::*;
    let since = match api {
        OffsetDelete => return Some(2),
        Metadata | ListOffsets | OffsetCommit | OffsetFetch | JoinGroup | CreateTopics
        | OffsetForLeaderEpoch => match api {
            Metadata | OffsetCommit | OffsetFetch => 3,
            _ => 2,
        },
        Fetch | FindCoordinator | Heartbeat | LeaveGroup | SyncGroup | DescribeGroups
        | ListGroups | DeleteTopics => 1,
        DeleteRecords
        | InitProducerId
        | AddPartitionsToTxn
        | AddOffsetsToTxn
        | EndTxn
        | TxnOffsetCommit
        | DescribeAcls
        | CreateAcls
        | DeleteAcls
        | DescribeConfigs
        | AlterConfigs
        | DescribeLogDirs
        | CreatePartitions
        | DeleteGroups
        | IncrementalAlterConfigs
        | ElectLeaders
        | AlterPartitionReassignments
        | ListPartitionReassignments
        | DescribeClientQuotas
        | AlterClientQuotas
        | DescribeUserScramCredentials
        | AlterUserScramCredentials
        | DescribeCluster
        | DescribeProducers
        | DescribeTransactions
        | ListTransactions
        | ConsumerGroupHeartbeat
        | ConsumerGroupDescribe
        | GetTelemetrySubscriptions
        | PushTelemetry
        | DescribeTopicPartitions => 0,
        _ => return None,
    };
    (version >= since).then_some(0)
}

/// Raise the `throttle_time_ms` of an encoded response (size prefix included) to at least
/// `ms`. Returns false (and leaves it alone) where the response has no such field or is
/// too short to hold it.
pub fn raise_throttle(response: &mut [u8], api: ApiKey, version: i16, ms: i32) -> bool {
    let Some(at) = throttle_offset(api, version) else {
        return false;
    };
    let header = if api.response_header_version(version) >= 1 {
        5
    } else {
        4
    };
    let pos = 4 + header + at;
    let Some(field) = response.get_mut(pos..pos + 4) else {
        return false;
    };
    let mut cur = [0u8; 4];
    cur.copy_from_slice(field);
    let cur = i32::from_be_bytes(cur);
    if ms > cur {
        field.copy_from_slice(&ms.to_be_bytes());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api;
    use crate::protocol::encode_response;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::{Encodable, HeaderVersion};

    /// For every served version: where the table says the field is, setting it through the
    /// encoder and through `raise_throttle` gives the same bytes; where it says there is none,
    /// the encoder writes no such field (the bytes do not change with it).
    fn check<R: Encodable + HeaderVersion + Default>(key: ApiKey, set: impl Fn(R, i32) -> R) {
        let Some(e) = api::supported(key) else {
            return;
        };
        for v in e.min..=e.max {
            // Versions the crate cannot encode are served by hand-written code (legacy).
            let Ok(plain) = encode_response(7, v, &R::default()) else {
                continue;
            };
            let with = encode_response(7, v, &set(R::default(), 1234));
            let mut patched = plain.to_vec();
            let did = raise_throttle(&mut patched, key, v, 1234);
            match with {
                Ok(with) if with[..] != plain[..] => {
                    assert!(did, "{key:?} v{v}: the response has throttle_time_ms");
                    assert_eq!(&patched[..], &with[..], "{key:?} v{v}");
                    // Never lowered.
                    let mut again = with.to_vec();
                    assert!(raise_throttle(&mut again, key, v, 10));
                    assert_eq!(&again[..], &with[..], "{key:?} v{v} lowered");
                }
                _ => {
                    assert!(!did, "{key:?} v{v}: no throttle_time_ms in this version");
                    assert_eq!(&patched[..], &plain[..]);
                }
            }
        }
    }

    #[test]
    fn throttle_positions_match_the_encoder_for_every_served_version() {
        check::<MetadataResponse>(ApiKey::Metadata, |r, t| r.with_throttle_time_ms(t));
        check::<FetchResponse>(ApiKey::Fetch, |r, t| r.with_throttle_time_ms(t));
        check::<ListOffsetsResponse>(ApiKey::ListOffsets, |r, t| r.with_throttle_time_ms(t));
        check::<OffsetCommitResponse>(ApiKey::OffsetCommit, |r, t| r.with_throttle_time_ms(t));
        check::<OffsetFetchResponse>(ApiKey::OffsetFetch, |r, t| r.with_throttle_time_ms(t));
        check::<FindCoordinatorResponse>(ApiKey::FindCoordinator, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<JoinGroupResponse>(ApiKey::JoinGroup, |r, t| r.with_throttle_time_ms(t));
        check::<HeartbeatResponse>(ApiKey::Heartbeat, |r, t| r.with_throttle_time_ms(t));
        check::<LeaveGroupResponse>(ApiKey::LeaveGroup, |r, t| r.with_throttle_time_ms(t));
        check::<SyncGroupResponse>(ApiKey::SyncGroup, |r, t| r.with_throttle_time_ms(t));
        check::<DescribeGroupsResponse>(ApiKey::DescribeGroups, |r, t| r.with_throttle_time_ms(t));
        check::<ListGroupsResponse>(ApiKey::ListGroups, |r, t| r.with_throttle_time_ms(t));
        check::<CreateTopicsResponse>(ApiKey::CreateTopics, |r, t| r.with_throttle_time_ms(t));
        check::<DeleteTopicsResponse>(ApiKey::DeleteTopics, |r, t| r.with_throttle_time_ms(t));
        check::<DeleteRecordsResponse>(ApiKey::DeleteRecords, |r, t| r.with_throttle_time_ms(t));
        check::<InitProducerIdResponse>(ApiKey::InitProducerId, |r, t| r.with_throttle_time_ms(t));
        check::<OffsetForLeaderEpochResponse>(ApiKey::OffsetForLeaderEpoch, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<AddPartitionsToTxnResponse>(ApiKey::AddPartitionsToTxn, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<AddOffsetsToTxnResponse>(ApiKey::AddOffsetsToTxn, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<EndTxnResponse>(ApiKey::EndTxn, |r, t| r.with_throttle_time_ms(t));
        check::<TxnOffsetCommitResponse>(ApiKey::TxnOffsetCommit, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeAclsResponse>(ApiKey::DescribeAcls, |r, t| r.with_throttle_time_ms(t));
        check::<CreateAclsResponse>(ApiKey::CreateAcls, |r, t| r.with_throttle_time_ms(t));
        check::<DeleteAclsResponse>(ApiKey::DeleteAcls, |r, t| r.with_throttle_time_ms(t));
        check::<DescribeConfigsResponse>(ApiKey::DescribeConfigs, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<AlterConfigsResponse>(ApiKey::AlterConfigs, |r, t| r.with_throttle_time_ms(t));
        check::<DescribeLogDirsResponse>(ApiKey::DescribeLogDirs, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<CreatePartitionsResponse>(ApiKey::CreatePartitions, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DeleteGroupsResponse>(ApiKey::DeleteGroups, |r, t| r.with_throttle_time_ms(t));
        check::<IncrementalAlterConfigsResponse>(ApiKey::IncrementalAlterConfigs, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<ElectLeadersResponse>(ApiKey::ElectLeaders, |r, t| r.with_throttle_time_ms(t));
        check::<AlterPartitionReassignmentsResponse>(
            ApiKey::AlterPartitionReassignments,
            |r, t| r.with_throttle_time_ms(t),
        );
        check::<ListPartitionReassignmentsResponse>(ApiKey::ListPartitionReassignments, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeClientQuotasResponse>(ApiKey::DescribeClientQuotas, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<AlterClientQuotasResponse>(ApiKey::AlterClientQuotas, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeUserScramCredentialsResponse>(
            ApiKey::DescribeUserScramCredentials,
            |r, t| r.with_throttle_time_ms(t),
        );
        check::<AlterUserScramCredentialsResponse>(ApiKey::AlterUserScramCredentials, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeClusterResponse>(ApiKey::DescribeCluster, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeProducersResponse>(ApiKey::DescribeProducers, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<DescribeTransactionsResponse>(ApiKey::DescribeTransactions, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<ListTransactionsResponse>(ApiKey::ListTransactions, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<ConsumerGroupHeartbeatResponse>(ApiKey::ConsumerGroupHeartbeat, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<ConsumerGroupDescribeResponse>(ApiKey::ConsumerGroupDescribe, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<GetTelemetrySubscriptionsResponse>(ApiKey::GetTelemetrySubscriptions, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<PushTelemetryResponse>(ApiKey::PushTelemetry, |r, t| r.with_throttle_time_ms(t));
        check::<DescribeTopicPartitionsResponse>(ApiKey::DescribeTopicPartitions, |r, t| {
            r.with_throttle_time_ms(t)
        });
        check::<OffsetDeleteResponse>(ApiKey::OffsetDelete, |r, t| r.with_throttle_time_ms(t));
    }

    #[test]
    fn apis_without_a_fixed_place_are_left_alone() {
        let mut b = vec![0u8; 64];
        assert!(!raise_throttle(&mut b, ApiKey::Produce, 9, 5));
        assert!(!raise_throttle(&mut b, ApiKey::ApiVersions, 3, 5));
        assert!(b.iter().all(|x| *x == 0));
        // Too short: nothing written.
        let mut short = vec![0u8; 6];
        assert!(!raise_throttle(&mut short, ApiKey::Metadata, 12, 5));
    }
}
