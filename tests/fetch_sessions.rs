//! Fetch sessions (KIP-227) over TCP against the real binary, with raw Fetch requests on a
//! topic of 2,000 partitions (librdkafka, and so the rdkafka crate, never opens a session: it
//! sends session id 0 with the FINAL epoch on every fetch). A full request (epoch 0) creates a
//! session of its partitions; incremental requests name only what changed and get only
//! partitions with news; the long poll of an incremental request wakes on an append to any
//! partition of the session, named or not; forgotten partitions are neither read nor waited
//! on; INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_ID_NOT_FOUND and FETCH_SESSION_TOPIC_ID_ERROR
//! as Kafka; FINAL closes a session; `max.incremental.fetch.session.cache.slots` bounds the
//! cache; the /metrics gauges follow.

mod common;

use std::time::{Duration, Instant};

use common::{batch, decode_records, Broker, Client};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use uuid::Uuid;

const PARTITIONS: i32 = 2000;
const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
const INVALID_FETCH_SESSION_EPOCH: i16 = 71;
const FETCH_SESSION_TOPIC_ID_ERROR: i16 = 106;

fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_string())
}

fn produce(c: &mut Client, topic: &str, partition: i32, n: usize, tag: &str) {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(n, tag, 1000, Compression::None)))])]);
    let r: ProduceResponse = c.call(9, &req);
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
}

/// Create `topic` with `partitions`. On a loaded machine thousands of partitions can take
/// longer than the request's timeout (REQUEST_TIMED_OUT, as Kafka); the creation completes
/// anyway: wait until Metadata shows every partition.
fn create_many(c: &mut Client, topic: &str, partitions: i32) {
    use kafka_protocol::messages::create_topics_request::CreatableTopic;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(60_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)]);
    let r: CreateTopicsResponse = c.call(7, &req);
    assert!(
        [0, 7].contains(&r.topics[0].error_code),
        "create {topic}: {:?}",
        r.topics[0]
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let req = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(TopicName(s(topic)))),
        ]));
        let m: MetadataResponse = c.call(12, &req);
        let t = &m.topics[0];
        if t.error_code == 0
            && t.partitions.len() == partitions as usize
            && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{topic} not created in time");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn topic_id(c: &mut Client, topic: &str) -> Uuid {
    let req = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(s(topic))))
    ]));
    let r: MetadataResponse = c.call(12, &req);
    assert_eq!(r.topics[0].error_code, 0);
    r.topics[0].topic_id
}

/// Partitions of `topic` (by name, or by id when `id` is given) at the given offsets.
fn topics(topic: &str, id: Option<Uuid>, parts: &[(i32, i64)]) -> Vec<FetchTopic> {
    if parts.is_empty() {
        return Vec::new();
    }
    vec![FetchTopic::default()
        .with_topic(TopicName(s(topic)))
        .with_topic_id(id.unwrap_or_default())
        .with_partitions(
            parts
                .iter()
                .map(|&(p, offset)| {
                    FetchPartition::default()
                        .with_partition(p)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(1 << 20)
                })
                .collect(),
        )]
}

fn forget(topic: &str, id: Option<Uuid>, parts: Vec<i32>) -> Vec<ForgottenTopic> {
    vec![ForgottenTopic::default()
        .with_topic(TopicName(s(topic)))
        .with_topic_id(id.unwrap_or_default())
        .with_partitions(parts)]
}

struct Fetch {
    version: i16,
    session_id: i32,
    epoch: i32,
    topics: Vec<FetchTopic>,
    forgotten: Vec<ForgottenTopic>,
    max_wait_ms: i32,
}

impl Fetch {
    fn new(session_id: i32, epoch: i32, topics: Vec<FetchTopic>) -> Fetch {
        Fetch {
            version: 12,
            session_id,
            epoch,
            topics,
            forgotten: Vec::new(),
            max_wait_ms: 0,
        }
    }

    fn call(self, c: &mut Client) -> FetchResponse {
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(self.max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(50 << 20)
            .with_session_id(self.session_id)
            .with_session_epoch(self.epoch)
            .with_topics(self.topics)
            .with_forgotten_topics_data(self.forgotten);
        c.call(self.version, &req)
    }
}

/// (partition, error, high watermark, record values) of every partition in the response.
fn summary(r: &FetchResponse) -> Vec<(i32, i16, i64, Vec<String>)> {
    r.responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            let values = p.records.as_ref().map_or(Vec::new(), |b| {
                decode_records(b)
                    .into_iter()
                    .map(|r| String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned())
                    .collect()
            });
            (p.partition_index, p.error_code, p.high_watermark, values)
        })
        .collect()
}

fn values(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-v{i}")).collect()
}

fn gauge(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[test]
fn sessions_over_two_thousand_partitions() {
    let broker = Broker::start_with_metrics(&[]);
    let mut c = broker.client();
    create_many(&mut c, "many", PARTITIONS);
    for p in [3, 700, 1999] {
        produce(&mut c, "many", p, 2, &format!("p{p}"));
    }
    let all: Vec<(i32, i64)> = (0..PARTITIONS).map(|p| (p, 0)).collect();

    // Full request, epoch 0: every partition answered, a session created.
    let r = Fetch::new(0, 0, topics("many", None, &all)).call(&mut c);
    assert_eq!(r.error_code, 0);
    let id = r.session_id;
    assert!(id > 0, "no session created");
    let got = summary(&r);
    assert_eq!(got.len(), PARTITIONS as usize);
    for (p, err, hw, vals) in &got {
        assert_eq!(*err, 0);
        if [3, 700, 1999].contains(p) {
            assert_eq!((*hw, vals.clone()), (2, values(&format!("p{p}"), 2)));
        } else {
            assert_eq!((*hw, vals.len()), (0, 0), "partition {p}");
        }
    }
    let m = broker.scrape();
    assert_eq!(gauge(&m, "skua_incremental_fetch_sessions"), 1.0);
    assert_eq!(
        gauge(&m, "skua_incremental_fetch_partitions_cached"),
        f64::from(PARTITIONS)
    );
    assert_eq!(
        gauge(&m, "skua_incremental_fetch_session_evictions_total"),
        0.0
    );

    // Epoch 1: the consumer moved past the records of 3 and 700 (it names them with their
    // new offsets); 1999 is still read from 0, so its records come again; nothing else has news.
    let r = Fetch::new(id, 1, topics("many", None, &[(3, 2), (700, 2)])).call(&mut c);
    assert_eq!((r.error_code, r.session_id), (0, id));
    assert_eq!(summary(&r), vec![(1999, 0, 2, values("p1999", 2))]);

    // Epoch 2: the consumer moved past 1999's records too: nothing has news.
    let r = Fetch::new(id, 2, topics("many", None, &[(1999, 2)])).call(&mut c);
    assert_eq!((r.error_code, r.session_id), (0, id));
    assert_eq!(summary(&r), vec![]);
    assert_eq!(r.responses.len(), 0);

    // Epoch 3: a long poll that names nothing wakes on an append to partition 1500.
    let addr = broker.addr();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        produce(&mut Client::connect(&addr), "many", 1500, 3, "late");
    });
    let started = Instant::now();
    let mut f = Fetch::new(id, 3, Vec::new());
    f.max_wait_ms = 10_000;
    let r = f.call(&mut c);
    writer.join().unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_secs(8),
        "long poll took {waited:?}"
    );
    assert_eq!(summary(&r), vec![(1500, 0, 3, values("late", 3))]);

    // Epoch 4: forget partitions 0..1000; an append to a forgotten one wakes nothing and is
    // not sent.
    let mut f = Fetch::new(id, 4, topics("many", None, &[(1500, 3)]));
    f.forgotten = forget("many", None, (0..1000).collect());
    let r = f.call(&mut c);
    assert_eq!(summary(&r), vec![]);
    produce(&mut c, "many", 10, 1, "forgotten");
    let started = Instant::now();
    let mut f = Fetch::new(id, 5, Vec::new());
    f.max_wait_ms = 600;
    let r = f.call(&mut c);
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert_eq!((r.error_code, summary(&r)), (0, vec![]));
    let m = broker.scrape();
    assert_eq!(
        gauge(&m, "skua_incremental_fetch_partitions_cached"),
        f64::from(PARTITIONS - 1000)
    );
    // Adding it back (by naming it) brings its record.
    let r = Fetch::new(id, 6, topics("many", None, &[(10, 0)])).call(&mut c);
    assert_eq!(summary(&r), vec![(10, 0, 1, values("forgotten", 1))]);

    // A repeated or skipped epoch: INVALID_FETCH_SESSION_EPOCH, session id 0, no partitions;
    // the session is still there at the right epoch.
    for epoch in [6, 8] {
        let r = Fetch::new(id, epoch, Vec::new()).call(&mut c);
        assert_eq!(
            (r.error_code, r.session_id, r.responses.len()),
            (INVALID_FETCH_SESSION_EPOCH, 0, 0)
        );
    }
    let r = Fetch::new(id, 7, topics("many", None, &[(10, 1)])).call(&mut c);
    assert_eq!((r.error_code, r.session_id, summary(&r)), (0, id, vec![]));
    // Unknown session: FETCH_SESSION_ID_NOT_FOUND.
    let r = Fetch::new(id.wrapping_add(1).max(1), 1, Vec::new()).call(&mut c);
    assert_eq!(
        (r.error_code, r.session_id),
        (FETCH_SESSION_ID_NOT_FOUND, 0)
    );
    // The session is by name (v12): a v13 request on it is FETCH_SESSION_TOPIC_ID_ERROR.
    let mut f = Fetch::new(id, 8, Vec::new());
    f.version = 13;
    let r = f.call(&mut c);
    assert_eq!(
        (r.error_code, r.session_id),
        (FETCH_SESSION_TOPIC_ID_ERROR, 0)
    );

    // FINAL (-1) closes it: answered sessionless, and the session is gone.
    let r = Fetch::new(id, -1, topics("many", None, &[(700, 0)])).call(&mut c);
    assert_eq!((r.error_code, r.session_id), (0, 0));
    assert_eq!(summary(&r), vec![(700, 0, 2, values("p700", 2))]);
    let r = Fetch::new(id, 8, Vec::new()).call(&mut c);
    assert_eq!(r.error_code, FETCH_SESSION_ID_NOT_FOUND);
    let m = broker.scrape();
    assert_eq!(gauge(&m, "skua_incremental_fetch_sessions"), 0.0);
    assert_eq!(gauge(&m, "skua_incremental_fetch_partitions_cached"), 0.0);
}

#[test]
fn sessions_by_topic_id_and_the_slot_limit() {
    let broker = Broker::start_with_metrics(&["max.incremental.fetch.session.cache.slots=1"]);
    let mut c = broker.client();
    create_many(&mut c, "ids", 4);
    let tid = topic_id(&mut c, "ids");
    produce(&mut c, "ids", 2, 1, "x");
    let all: Vec<(i32, i64)> = (0..4).map(|p| (p, 0)).collect();

    // v13: topics by id; the session keeps them by id.
    let mut f = Fetch::new(0, 0, topics("", Some(tid), &all));
    f.version = 13;
    let r = f.call(&mut c);
    let id = r.session_id;
    assert!(id > 0);
    assert_eq!(summary(&r).len(), 4);
    assert!(r.responses.iter().all(|t| t.topic_id == tid));
    // A v12 (names) request on it: FETCH_SESSION_TOPIC_ID_ERROR.
    let r = Fetch::new(id, 1, Vec::new()).call(&mut c);
    assert_eq!(r.error_code, FETCH_SESSION_TOPIC_ID_ERROR);
    // An unknown topic id added to the session: UNKNOWN_TOPIC_ID (100) for it, by its id.
    let ghost = Uuid::from_u128(0x1234);
    let mut f = Fetch::new(id, 1, topics("", Some(ghost), &[(0, 0)]));
    f.version = 13;
    let r = f.call(&mut c);
    assert_eq!(r.error_code, 0);
    let errs: Vec<(Uuid, i32, i16)> = r
        .responses
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic_id, p.partition_index, p.error_code))
        })
        .collect();
    // Partition 2 still has its record at offset 0 (the consumer did not move), so it comes
    // again; the ghost partition is an error.
    assert_eq!(errs, vec![(tid, 2, 0), (ghost, 0, 100)]);
    let mut f = Fetch::new(id, 2, Vec::new());
    f.version = 13;
    f.forgotten = forget("", Some(ghost), vec![0]);
    f.topics = topics("", Some(tid), &[(2, 1)]);
    let r = f.call(&mut c);
    assert_eq!((r.error_code, r.session_id, r.responses.len()), (0, id, 0));

    // One slot, taken by a session younger than 120 s: a second consumer gets no session
    // (session id 0, its partitions answered in full); nothing is evicted.
    let mut other = broker.client();
    let r = Fetch::new(0, 0, topics("ids", None, &all)).call(&mut other);
    assert_eq!((r.error_code, r.session_id, summary(&r).len()), (0, 0, 4));
    let m = broker.scrape();
    assert_eq!(gauge(&m, "skua_incremental_fetch_sessions"), 1.0);
    assert_eq!(gauge(&m, "skua_incremental_fetch_partitions_cached"), 4.0);
    assert_eq!(
        gauge(&m, "skua_incremental_fetch_session_evictions_total"),
        0.0
    );
    // Closing the first session (a full request naming it, FINAL) frees the slot.
    let mut f = Fetch::new(id, -1, Vec::new());
    f.version = 13;
    assert_eq!(f.call(&mut c).session_id, 0);
    let r = Fetch::new(0, 0, topics("ids", None, &all)).call(&mut other);
    assert!(r.session_id > 0);
}
