//! Controller tests: each decision asserted by its exact records and results, then committed
//! (applied to the image as the runtime would, one entry per operation) and checked there.

mod alter_partition;
mod brokers;
mod configs;
mod elections;
mod placement;
mod producer_ids;
mod reassignment;
mod topics;

use uuid::Uuid;

use super::*;
use crate::cluster::image::{MetadataImage, PartitionRegistration};
use crate::cluster::records::{Endpoint, MetadataRecord};

pub(super) const TIMEOUT: i64 = 9_000;

/// A controller, the image it decides on, and a fake clock.
pub(super) struct Cluster {
    pub c: Controller,
    pub image: MetadataImage,
    pub now: i64,
    /// Incarnation counter, so each (re)start of a broker gets a new incarnation id.
    incarnations: u128,
}

pub(super) fn config() -> ControllerConfig {
    ControllerConfig {
        node_id: 1,
        broker_session_timeout_ms: TIMEOUT,
        auto_leader_rebalance_enable: false,
        ..ControllerConfig::default()
    }
}

pub(super) fn endpoint(id: i32) -> Endpoint {
    Endpoint {
        name: "PLAINTEXT".into(),
        host: "127.0.0.1".into(),
        port: 9090 + id as u16,
    }
}

/// A PartitionChange with only the given fields set.
pub(super) fn pc(topic_id: Uuid, partition: i32) -> PcBuilder {
    PcBuilder {
        topic_id,
        partition,
        leader: None,
        isr: None,
        replicas: None,
        adding: None,
        removing: None,
    }
}

pub(super) struct PcBuilder {
    topic_id: Uuid,
    partition: i32,
    leader: Option<i32>,
    isr: Option<Vec<i32>>,
    replicas: Option<Vec<i32>>,
    adding: Option<Vec<i32>>,
    removing: Option<Vec<i32>>,
}

impl PcBuilder {
    pub fn leader(mut self, l: i32) -> Self {
        self.leader = Some(l);
        self
    }
    pub fn isr(mut self, v: &[i32]) -> Self {
        self.isr = Some(v.to_vec());
        self
    }
    pub fn replicas(mut self, v: &[i32]) -> Self {
        self.replicas = Some(v.to_vec());
        self
    }
    pub fn adding(mut self, v: &[i32]) -> Self {
        self.adding = Some(v.to_vec());
        self
    }
    pub fn removing(mut self, v: &[i32]) -> Self {
        self.removing = Some(v.to_vec());
        self
    }
    pub fn build(self) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            topic_id: self.topic_id,
            partition: self.partition,
            leader: self.leader,
            isr: self.isr,
            replicas: self.replicas,
            adding_replicas: self.adding,
            removing_replicas: self.removing,
        }
    }
}

impl Cluster {
    pub fn new() -> Cluster {
        Cluster::with(config())
    }

    pub fn with(config: ControllerConfig) -> Cluster {
        let c = Controller::new(config, 42);
        let mut cluster = Cluster {
            image: MetadataImage::new(),
            c,
            now: 1_000_000,
            incarnations: 0,
        };
        let records = cluster.c.bootstrap(&cluster.image, "test-cluster");
        assert_eq!(
            records,
            vec![MetadataRecord::ClusterId {
                cluster_id: "test-cluster".into()
            }]
        );
        cluster.commit(&records);
        cluster
    }

    /// Commit one entry; its index. Every record must fit the image.
    pub fn commit(&mut self, records: &[MetadataRecord]) -> u64 {
        if records.is_empty() {
            return self.image.last_applied_index();
        }
        let index = self.image.last_applied_index() + 1;
        let errors = self.image.apply_batch(index, records);
        assert!(errors.is_empty(), "{errors:?} applying {records:?}");
        index
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
    }

    pub fn registration(&mut self, id: i32, rack: Option<&str>) -> BrokerRegistrationRequest {
        self.incarnations += 1;
        BrokerRegistrationRequest {
            broker_id: id,
            cluster_id: Some("test-cluster".into()),
            incarnation_id: Uuid::from_u128(self.incarnations),
            listeners: vec![endpoint(id)],
            rack: rack.map(str::to_string),
        }
    }

    /// Register a new incarnation of a broker; its epoch.
    pub fn register(&mut self, id: i32, rack: Option<&str>) -> i64 {
        let req = self.registration(id, rack);
        let r = self.c.register_broker(&self.image, &req, self.now);
        assert_eq!(r.response, Ok(RegistrationReply { broker_epoch: None }));
        self.commit(&r.records) as i64
    }

    pub fn epoch(&self, id: i32) -> i64 {
        self.image.broker(id).map(|b| b.epoch).unwrap_or(-1)
    }

    /// A plain heartbeat from a caught-up broker; commits its records.
    pub fn heartbeat(&mut self, id: i32) -> HeartbeatReply {
        self.heartbeat_with(id, false)
    }

    pub fn heartbeat_with(&mut self, id: i32, want_shutdown: bool) -> HeartbeatReply {
        let req = HeartbeatRequest {
            broker_id: id,
            broker_epoch: self.epoch(id),
            current_metadata_offset: self.image.last_applied_index(),
            want_fence: false,
            want_shutdown,
        };
        let r = self.c.heartbeat(&self.image, &req, self.now);
        self.commit(&r.records);
        r.response.unwrap()
    }

    /// Register and unfence brokers.
    pub fn start(&mut self, ids: &[i32]) {
        for &id in ids {
            self.register(id, None);
            assert!(!self.heartbeat(id).is_fenced);
        }
    }

    pub fn start_in_racks(&mut self, brokers: &[(i32, &str)]) {
        for &(id, rack) in brokers {
            self.register(id, Some(rack));
            assert!(!self.heartbeat(id).is_fenced);
        }
    }

    /// Create a topic with the given replica lists (manual assignment); its id.
    pub fn create(&mut self, name: &str, assignments: &[&[i32]]) -> Uuid {
        let topic = CreatableTopic {
            name: name.into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: assignments
                .iter()
                .enumerate()
                .map(|(i, r)| (i as i32, r.to_vec()))
                .collect(),
            configs: vec![],
        };
        let r = self.c.create_topics(&self.image, &[topic], false);
        let id = r.response[0].result.as_ref().unwrap().topic_id;
        self.commit(&r.records);
        id
    }

    pub fn part(&self, topic: &str, p: i32) -> PartitionRegistration {
        self.image.partition_by_name(topic, p).unwrap().clone()
    }

    /// Tick and commit; the records.
    pub fn tick(&mut self) -> Vec<MetadataRecord> {
        let records = self.c.tick(&self.image, self.now);
        self.commit(&records);
        records
    }

    /// Heartbeat every live broker except `except`.
    pub fn heartbeat_all_but(&mut self, except: &[i32]) {
        let ids: Vec<i32> = self
            .image
            .live_brokers()
            .map(|b| b.id)
            .filter(|id| !except.contains(id))
            .collect();
        for id in ids {
            self.heartbeat(id);
        }
    }
}

/// (leader, leader_epoch, partition_epoch, isr)
pub(super) fn summary(p: &PartitionRegistration) -> (i32, i32, i32, Vec<i32>) {
    (p.leader, p.leader_epoch, p.partition_epoch, p.isr.clone())
}

/// An AlterPartition from the current leader of `topic`-`p` at its current epochs.
pub(super) fn alter_isr_request(
    c: &Cluster,
    topic: &str,
    p: i32,
    isr: &[i32],
) -> AlterPartitionRequest {
    let part = c.part(topic, p);
    AlterPartitionRequest {
        broker_id: part.leader,
        broker_epoch: c.epoch(part.leader),
        topics: vec![AlterPartitionTopic {
            topic_id: c.image.topic(topic).unwrap().id,
            partitions: vec![AlterPartitionData {
                partition: p,
                leader_epoch: part.leader_epoch,
                partition_epoch: part.partition_epoch,
                new_isr: isr
                    .iter()
                    .map(|&b| IsrMember {
                        broker_id: b,
                        broker_epoch: -1,
                    })
                    .collect(),
            }],
        }],
    }
}

/// Apply an ISR change from the leader; the partition's result.
pub(super) fn alter_isr(
    c: &mut Cluster,
    topic: &str,
    p: i32,
    isr: &[i32],
) -> Result<PartitionState, ApiError> {
    let req = alter_isr_request(c, topic, p, isr);
    let r = c.c.alter_partition(&c.image, &req);
    c.commit(&r.records);
    r.response.unwrap()[0].partitions[0].result.clone()
}

#[test]
fn the_defaults_are_kafkas_and_match_the_broker_configs() {
    let from_broker =
        ControllerConfig::from_broker_config(&crate::config::BrokerConfig::defaults().unwrap());
    assert_eq!(from_broker, ControllerConfig::default());
}
