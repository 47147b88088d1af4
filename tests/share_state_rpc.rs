//! The share coordinator's broker-to-broker APIs over TCP against the real binary:
//! InitializeShareGroupState, ReadShareGroupState, WriteShareGroupState,
//! ReadShareGroupStateSummary and DeleteShareGroupState v0 with Kafka's fencing codes
//! (FENCED_STATE_EPOCH 124, FENCED_LEADER_EPOCH 74), the state surviving a restart of the
//! broker, and ApiVersions advertising them. (Brokers of a cluster call them on each other:
//! compat-tests' `cluster/share_leader_kill` runs them with a real share consumer.)

mod common;

use common::{Broker, Client};
use kafka_protocol::messages::{
    delete_share_group_state_request as del, initialize_share_group_state_request as init,
    read_share_group_state_request as read, write_share_group_state_request as write, ApiKey,
    ApiVersionsRequest, ApiVersionsResponse, DeleteShareGroupStateRequest,
    DeleteShareGroupStateResponse, InitializeShareGroupStateRequest,
    InitializeShareGroupStateResponse, MetadataRequest, MetadataResponse,
    ReadShareGroupStateRequest, ReadShareGroupStateResponse, ReadShareGroupStateSummaryRequest,
    ReadShareGroupStateSummaryResponse, ShareGroupHeartbeatRequest, WriteShareGroupStateRequest,
    WriteShareGroupStateResponse,
};
use kafka_protocol::messages::{GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

const STATE_TOPIC: &str = "__share_group_state";

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A share group's first heartbeat makes the broker create `__share_group_state`.
fn state_topic_ready(c: &mut Client) {
    let hb = ShareGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("warm")))
        .with_member_id(s("m"))
        .with_member_epoch(0)
        .with_subscribed_topic_names(Some(vec![TopicName(s("st"))]));
    let _ = c.call(1, &hb);
    for _ in 0..200 {
        let md: MetadataResponse = c.call(
            12,
            &MetadataRequest::default().with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(s(STATE_TOPIC)))),
            ])),
        );
        if md.topics[0].error_code == 0
            && !md.topics[0].partitions.is_empty()
            && md.topics[0].partitions.iter().all(|p| p.leader_id.0 >= 0)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{STATE_TOPIC} was not created");
}

fn read(c: &mut Client, g: &str, id: Uuid, p: i32, leader_epoch: i32) -> (i16, i32, i64, usize) {
    let r: ReadShareGroupStateResponse = c.call(
        0,
        &ReadShareGroupStateRequest::default()
            .with_group_id(s(g))
            .with_topics(vec![read::ReadStateData::default()
                .with_topic_id(id)
                .with_partitions(vec![read::PartitionData::default()
                    .with_partition(p)
                    .with_leader_epoch(leader_epoch)])]),
    );
    let p = &r.results[0].partitions[0];
    (
        p.error_code,
        p.state_epoch,
        p.start_offset,
        p.state_batches.len(),
    )
}

fn write(
    c: &mut Client,
    g: &str,
    id: Uuid,
    p: i32,
    state_epoch: i32,
    leader_epoch: i32,
    start: i64,
) -> i16 {
    let r: WriteShareGroupStateResponse = c.call(
        0,
        &WriteShareGroupStateRequest::default()
            .with_group_id(s(g))
            .with_topics(vec![write::WriteStateData::default()
                .with_topic_id(id)
                .with_partitions(vec![write::PartitionData::default()
                    .with_partition(p)
                    .with_state_epoch(state_epoch)
                    .with_leader_epoch(leader_epoch)
                    .with_start_offset(start)
                    .with_state_batches(vec![write::StateBatch::default()
                        .with_first_offset(start)
                        .with_last_offset(start + 4)
                        .with_delivery_state(0)
                        .with_delivery_count(2)])])]),
    );
    r.results[0].partitions[0].error_code
}

fn initialize(c: &mut Client, g: &str, id: Uuid, p: i32, state_epoch: i32, start: i64) -> i16 {
    let r: InitializeShareGroupStateResponse = c.call(
        0,
        &InitializeShareGroupStateRequest::default()
            .with_group_id(s(g))
            .with_topics(vec![init::InitializeStateData::default()
                .with_topic_id(id)
                .with_partitions(vec![init::PartitionData::default()
                    .with_partition(p)
                    .with_state_epoch(state_epoch)
                    .with_start_offset(start)])]),
    );
    r.results[0].partitions[0].error_code
}

/// The summary of every share-partition of `g` (skua to skua: no topics named).
fn summary(c: &mut Client, g: &str) -> Vec<(Uuid, i32, i16, i32, i64)> {
    let r: ReadShareGroupStateSummaryResponse = c.call(
        0,
        &ReadShareGroupStateSummaryRequest::default().with_group_id(s(g)),
    );
    let mut out: Vec<_> = r
        .results
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| {
                (
                    t.topic_id,
                    p.partition,
                    p.error_code,
                    p.state_epoch,
                    p.start_offset,
                )
            })
        })
        .collect();
    out.sort();
    out
}

#[test]
fn share_state_apis_fence_and_persist_like_kafkas_share_coordinator() {
    let mut b = Broker::start(&[]);
    let mut c = b.client();
    let versions: ApiVersionsResponse = c.call(3, &ApiVersionsRequest::default());
    for key in [
        ApiKey::InitializeShareGroupState,
        ApiKey::ReadShareGroupState,
        ApiKey::WriteShareGroupState,
        ApiKey::DeleteShareGroupState,
        ApiKey::ReadShareGroupStateSummary,
    ] {
        let v = versions
            .api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .unwrap_or_else(|| panic!("{key:?} not advertised"));
        assert_eq!((v.min_version, v.max_version), (0, 0), "{key:?}");
    }
    state_topic_ready(&mut c);
    let (g, id) = ("rpc-group", Uuid::from_u128(0x1234_5678));

    // Never initialized: state epoch and start offset -1; a write is fenced.
    assert_eq!(read(&mut c, g, id, 0, 0), (0, -1, -1, 0));
    assert_eq!(write(&mut c, g, id, 0, 1, 0, 10), 124);

    // Initialized at 10 under state epoch 7.
    assert_eq!(initialize(&mut c, g, id, 0, 7, 10), 0);
    assert_eq!(read(&mut c, g, id, 0, 3), (0, 7, 10, 0));
    // Another state epoch: fenced. The right one: stored.
    assert_eq!(write(&mut c, g, id, 0, 6, 3, 20), 124);
    assert_eq!(write(&mut c, g, id, 0, 7, 3, 20), 0);
    assert_eq!(read(&mut c, g, id, 0, 3), (0, 7, 20, 1));
    // A newer leader (epoch 5) read it: the old one (3) is fenced from reading and writing.
    assert_eq!(read(&mut c, g, id, 0, 5), (0, 7, 20, 1));
    assert_eq!(write(&mut c, g, id, 0, 7, 3, 30), 74);
    assert_eq!(read(&mut c, g, id, 0, 3).0, 74);
    assert_eq!(write(&mut c, g, id, 0, 7, 5, 30), 0);

    // A second share-partition, then the summary of the group.
    assert_eq!(initialize(&mut c, g, id, 1, 1, 0), 0);
    assert_eq!(
        summary(&mut c, g),
        vec![(id, 0, 0, 7, 30), (id, 1, 0, 1, 0)]
    );

    // The state survives kill -9 (it was committed to the state topic before the answers).
    drop(c);
    b.kill9();
    b.spawn();
    let mut c = b.client();
    assert_eq!(read(&mut c, g, id, 0, 5), (0, 7, 30, 1));
    assert_eq!(
        write(&mut c, g, id, 0, 7, 4, 40),
        74,
        "leader epoch 5 was persisted"
    );

    // Re-initialized (AlterShareGroupOffsets): past the old state epoch; the old holder is
    // fenced.
    assert_eq!(initialize(&mut c, g, id, 0, 7, 100), 0);
    let (code, epoch, start, batches) = read(&mut c, g, id, 0, 5);
    assert_eq!((code, start, batches), (0, 100, 0));
    assert!(
        epoch > 7,
        "state epoch {epoch} after a second initialization"
    );
    assert_eq!(write(&mut c, g, id, 0, 7, 5, 110), 124);

    // Deleted: gone, and a write of the old state is fenced.
    let r: DeleteShareGroupStateResponse = c.call(
        0,
        &DeleteShareGroupStateRequest::default()
            .with_group_id(s(g))
            .with_topics(vec![del::DeleteStateData::default()
                .with_topic_id(id)
                .with_partitions(vec![
                    del::PartitionData::default().with_partition(0)
                ])]),
    );
    assert_eq!(r.results[0].partitions[0].error_code, 0);
    assert_eq!(read(&mut c, g, id, 0, 5), (0, -1, -1, 0));
    assert_eq!(write(&mut c, g, id, 0, epoch, 5, 120), 124);
    assert_eq!(summary(&mut c, g), vec![(id, 1, 0, 1, 0)]);
}
