//! `skua cluster describe`: the cluster id, the brokers (id, endpoint, rack, fenced or not), the
//! active controller, and the partitions that need attention, from the bootstrap broker.
//!
//! Sources, each used only when the broker serves it (so this works against skua and Kafka):
//! DescribeCluster (v2 asks for fenced brokers too; without DescribeCluster, Metadata's broker
//! list), Metadata for every topic (internal ones included), DescribeConfigs for each topic's
//! `min.insync.replicas`, ListPartitionReassignments (replicas being added do not count as
//! missing), and DescribeQuorum for the metadata quorum's leader (the active controller; a Kafka
//! broker in KRaft mode names a random live broker as "controller" in DescribeCluster and
//! Metadata, the quorum leader is the real one).
//!
//! A partition is (Kafka's `kafka-topics.sh --describe` definitions):
//! - under-replicated: its ISR is smaller than its replicas (minus replicas being added);
//! - under min ISR: it has no leader, or its ISR is smaller than `min.insync.replicas`;
//! - offline: it has no leader, or its leader is not a live broker.
//!
//! Pure parts ([`classify`], [`render_table`], [`render_json`]) are separate from the network
//! calls so that their output can be tested without a cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use clap::Args;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeClusterRequest, DescribeConfigsRequest, DescribeQuorumRequest,
    ListPartitionReassignmentsRequest, MetadataResponse,
};

use super::client::{check, str_bytes, topic_name, Cluster};
use super::output::{emit, ids, table, Json};
use super::{Common, Output};

/// ConfigResource type of a topic.
const RESOURCE_TOPIC: i8 = 2;
const MIN_ISR: &str = "min.insync.replicas";
const METADATA_TOPIC: &str = "__cluster_metadata";

#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub common: Common,
}

/// One broker as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    pub fenced: bool,
}

/// One partition as Metadata describes it, with what the other sources add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub topic: String,
    pub partition: i32,
    /// -1: no leader.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    /// Replicas being added by an ongoing reassignment.
    pub adding: Vec<i32>,
    /// The topic's `min.insync.replicas`, when known.
    pub min_isr: Option<i32>,
}

/// What is wrong with a partition (all false: healthy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    pub offline: bool,
    pub under_min_isr: bool,
    pub under_replicated: bool,
}

/// Everything `cluster describe` prints.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub cluster_id: Option<String>,
    /// -1: unknown.
    pub controller: i32,
    /// Sorted by id.
    pub brokers: Vec<BrokerInfo>,
    /// Every partition of every topic, internal ones included.
    pub partition_count: usize,
    /// The partitions with at least one problem, sorted by topic and partition.
    pub problems: Vec<(PartitionState, Health)>,
}

/// Kafka's TopicCommand rules, against the set of live (listed, unfenced) brokers.
pub fn classify(p: &PartitionState, live: &BTreeSet<i32>) -> Health {
    let has_leader = p.leader >= 0;
    let target = p.replicas.len().saturating_sub(p.adding.len());
    Health {
        offline: !has_leader || !live.contains(&p.leader),
        under_min_isr: !has_leader || p.min_isr.is_some_and(|m| (p.isr.len() as i64) < m.into()),
        under_replicated: p.isr.len() < target,
    }
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        !(self.offline || self.under_min_isr || self.under_replicated)
    }

    /// `offline,under-min-isr,under-replicated` (the ones that apply, in that order).
    pub fn label(&self) -> String {
        let mut v = Vec::new();
        if self.offline {
            v.push("offline");
        }
        if self.under_min_isr {
            v.push("under-min-isr");
        }
        if self.under_replicated {
            v.push("under-replicated");
        }
        v.join(",")
    }
}

fn node_or_none(id: i32) -> String {
    if id < 0 {
        "none".to_string()
    } else {
        id.to_string()
    }
}

/// The table form: a header block, the brokers, then the partitions that need attention.
pub fn render_table(v: &ClusterView) -> String {
    let count = |f: fn(&Health) -> bool| v.problems.iter().filter(|(_, h)| f(h)).count();
    let mut s = format!(
        "cluster id: {}\ncontroller: {}\npartitions: {}\n\
         under-replicated partitions: {}\nunder-min-isr partitions: {}\noffline partitions: {}\n\n",
        v.cluster_id.as_deref().unwrap_or("-"),
        node_or_none(v.controller),
        v.partition_count,
        count(|h| h.under_replicated),
        count(|h| h.under_min_isr),
        count(|h| h.offline),
    );
    let rows: Vec<Vec<String>> = v
        .brokers
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                format!("{}:{}", b.host, b.port),
                b.rack.clone().unwrap_or_else(|| "-".to_string()),
                if b.fenced { "fenced" } else { "active" }.to_string(),
            ]
        })
        .collect();
    s.push_str(&table(&["BROKER", "HOST:PORT", "RACK", "STATUS"], &rows));
    if !v.problems.is_empty() {
        s.push('\n');
        let rows: Vec<Vec<String>> = v
            .problems
            .iter()
            .map(|(p, h)| {
                vec![
                    p.topic.clone(),
                    p.partition.to_string(),
                    node_or_none(p.leader),
                    ids(&p.replicas),
                    ids(&p.isr),
                    p.min_isr.map_or("-".to_string(), |m| m.to_string()),
                    h.label(),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "TOPIC",
                "PARTITION",
                "LEADER",
                "REPLICAS",
                "ISR",
                "MIN-ISR",
                "STATUS",
            ],
            &rows,
        ));
    }
    s
}

/// The JSON form: one object on one line.
pub fn render_json(v: &ClusterView) -> String {
    let brokers = v
        .brokers
        .iter()
        .map(|b| {
            Json::obj(vec![
                ("id", Json::Int(b.id.into())),
                ("host", Json::str(&b.host)),
                ("port", Json::Int(b.port.into())),
                ("rack", b.rack.clone().map_or(Json::Null, Json::Str)),
                ("fenced", Json::Bool(b.fenced)),
            ])
        })
        .collect();
    let list = |f: fn(&Health) -> bool| {
        Json::Arr(
            v.problems
                .iter()
                .filter(|(_, h)| f(h))
                .map(|(p, _)| {
                    Json::obj(vec![
                        ("topic", Json::str(&p.topic)),
                        ("partition", Json::Int(p.partition.into())),
                        ("leader", Json::Int(p.leader.into())),
                        ("replicas", Json::ints(&p.replicas)),
                        ("isr", Json::ints(&p.isr)),
                        (
                            "min_isr",
                            p.min_isr.map_or(Json::Null, |m| Json::Int(m.into())),
                        ),
                    ])
                })
                .collect(),
        )
    };
    let j = Json::obj(vec![
        (
            "cluster_id",
            v.cluster_id.clone().map_or(Json::Null, Json::Str),
        ),
        ("controller", Json::Int(v.controller.into())),
        ("brokers", Json::Arr(brokers)),
        ("partitions", Json::Int(v.partition_count as i64)),
        ("under_replicated", list(|h| h.under_replicated)),
        ("under_min_isr", list(|h| h.under_min_isr)),
        ("offline", list(|h| h.offline)),
    ]);
    format!("{}\n", j.render())
}

pub fn describe(a: DescribeArgs) -> Result<()> {
    let mut cluster = a.common.connect()?;
    let view = gather(&mut cluster)?;
    match a.common.output {
        Output::Table => emit(&render_table(&view)),
        Output::Json => emit(&render_json(&view)),
    }
}

/// Ask the cluster, and classify every partition.
fn gather(cluster: &mut Cluster) -> Result<ClusterView> {
    let md = cluster.metadata(None)?;
    let (cluster_id, mut controller, brokers) = match describe_cluster(cluster)? {
        Some(described) => described,
        None => from_metadata(&md),
    };
    let mut parts = metadata_partitions(&md);
    let topics: Vec<String> = parts
        .iter()
        .map(|p| p.topic.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let min_isr = min_isr_by_topic(cluster, &topics)?;
    let adding = adding_replicas(cluster)?;
    for p in &mut parts {
        p.min_isr = min_isr.get(&p.topic).copied();
        if let Some(a) = adding.get(&(p.topic.clone(), p.partition)) {
            p.adding = a.clone();
        }
    }
    if let Some(leader) = quorum_leader(cluster) {
        controller = leader;
    }
    // Metadata lists the live brokers (fenced ones are left out, as in Kafka).
    let live: BTreeSet<i32> = md.brokers.iter().map(|b| b.node_id.0).collect();
    let partition_count = parts.len();
    let problems = parts
        .into_iter()
        .map(|p| {
            let h = classify(&p, &live);
            (p, h)
        })
        .filter(|(_, h)| !h.is_healthy())
        .collect();
    Ok(ClusterView {
        cluster_id,
        controller,
        brokers,
        partition_count,
        problems,
    })
}

type Described = (Option<String>, i32, Vec<BrokerInfo>);

/// DescribeCluster (v2 with fenced brokers), or None when the broker does not serve it.
fn describe_cluster(cluster: &mut Cluster) -> Result<Option<Described>> {
    let conn = cluster.bootstrap();
    if !conn.serves(ApiKey::DescribeCluster) {
        return Ok(None);
    }
    let v = conn.version::<DescribeClusterRequest>(0, 2)?;
    let mut req = DescribeClusterRequest::default();
    req.endpoint_type = 1; // brokers
    req.include_fenced_brokers = v >= 2;
    let resp = conn.call(v, &req)?;
    check(
        resp.error_code,
        resp.error_message.as_ref(),
        "DescribeCluster",
    )?;
    let mut brokers: Vec<BrokerInfo> = resp
        .brokers
        .iter()
        .map(|b| BrokerInfo {
            id: b.broker_id.0,
            host: b.host.as_str().to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
            fenced: b.is_fenced,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    Ok(Some((
        Some(resp.cluster_id.as_str().to_string()),
        resp.controller_id.0,
        brokers,
    )))
}

/// The same facts from Metadata (brokers that do not serve DescribeCluster).
fn from_metadata(md: &MetadataResponse) -> Described {
    let mut brokers: Vec<BrokerInfo> = md
        .brokers
        .iter()
        .map(|b| BrokerInfo {
            id: b.node_id.0,
            host: b.host.as_str().to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
            fenced: false,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let id = md.cluster_id.as_ref().map(|c| c.as_str().to_string());
    (id, md.controller_id.0, brokers)
}

/// Every partition of every topic in the answer (topics in error are left out), sorted.
fn metadata_partitions(md: &MetadataResponse) -> Vec<PartitionState> {
    let mut out = Vec::new();
    for t in md.topics.iter().filter(|t| t.error_code == 0) {
        let topic = match &t.name {
            Some(n) => n.as_str().to_string(),
            None => t.topic_id.to_string(),
        };
        for p in &t.partitions {
            out.push(PartitionState {
                topic: topic.clone(),
                partition: p.partition_index,
                leader: p.leader_id.0,
                replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                adding: Vec::new(),
                min_isr: None,
            });
        }
    }
    out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    out
}

/// `min.insync.replicas` of each topic (one DescribeConfigs request); topics the broker
/// answers with an error, and all of them when DescribeConfigs is not served, are left out.
fn min_isr_by_topic(cluster: &mut Cluster, topics: &[String]) -> Result<HashMap<String, i32>> {
    let conn = cluster.bootstrap();
    if topics.is_empty() || !conn.serves(ApiKey::DescribeConfigs) {
        return Ok(HashMap::new());
    }
    let v = conn.version::<DescribeConfigsRequest>(1, 4)?;
    let mut req = DescribeConfigsRequest::default();
    req.resources = topics
        .iter()
        .map(|t| {
            let mut r = DescribeConfigsResource::default();
            r.resource_type = RESOURCE_TOPIC;
            r.resource_name = str_bytes(t);
            r.configuration_keys = Some(vec![str_bytes(MIN_ISR)]);
            r
        })
        .collect();
    let resp = conn.call(v, &req)?;
    let mut out = HashMap::new();
    for r in resp.results.iter().filter(|r| r.error_code == 0) {
        let value = r
            .configs
            .iter()
            .find(|c| c.name.as_str() == MIN_ISR)
            .and_then(|c| c.value.as_ref())
            .and_then(|v| v.as_str().trim().parse::<i32>().ok());
        if let Some(m) = value {
            out.insert(r.resource_name.as_str().to_string(), m);
        }
    }
    Ok(out)
}

/// Replicas being added by ongoing reassignments, by (topic, partition); empty when the broker
/// does not serve ListPartitionReassignments or answers it with an error.
fn adding_replicas(cluster: &mut Cluster) -> Result<BTreeMap<(String, i32), Vec<i32>>> {
    if !cluster
        .bootstrap()
        .serves(ApiKey::ListPartitionReassignments)
    {
        return Ok(BTreeMap::new());
    }
    let conn = cluster.controller()?;
    let v = conn.version::<ListPartitionReassignmentsRequest>(0, 0)?;
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = 30_000;
    req.topics = None;
    let resp = conn.call(v, &req)?;
    let mut out = BTreeMap::new();
    if resp.error_code != 0 {
        // Not allowed to list them (e.g. no ACL): count every missing replica.
        return Ok(out);
    }
    for t in resp.topics {
        for p in t.partitions {
            let adding = p.adding_replicas.iter().map(|b| b.0).collect();
            out.insert((t.name.as_str().to_string(), p.partition_index), adding);
        }
    }
    Ok(out)
}

/// The leader of the metadata quorum (DescribeQuorum on `__cluster_metadata-0`), when the
/// broker serves it and answers without error.
fn quorum_leader(cluster: &mut Cluster) -> Option<i32> {
    let conn = cluster.bootstrap();
    if !conn.serves(ApiKey::DescribeQuorum) {
        return None;
    }
    let v = conn.version::<DescribeQuorumRequest>(0, 2).ok()?;
    let mut p = PartitionData::default();
    p.partition_index = 0;
    let mut t = TopicData::default();
    t.topic_name = topic_name(METADATA_TOPIC);
    t.partitions = vec![p];
    let mut req = DescribeQuorumRequest::default();
    req.topics = vec![t];
    let resp = conn.call(v, &req).ok()?;
    if resp.error_code != 0 {
        return None;
    }
    let p = resp.topics.first()?.partitions.first()?;
    (p.error_code == 0 && p.leader_id.0 >= 0).then_some(p.leader_id.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(topic: &str, n: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionState {
        PartitionState {
            topic: topic.to_string(),
            partition: n,
            leader,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            adding: Vec::new(),
            min_isr: Some(2),
        }
    }

    fn live(ids: &[i32]) -> BTreeSet<i32> {
        ids.iter().copied().collect()
    }

    #[test]
    fn full_isr_with_a_live_leader_is_healthy() {
        let h = classify(&part("t", 0, 1, &[1, 2, 3], &[1, 2, 3]), &live(&[1, 2, 3]));
        assert!(h.is_healthy());
        assert_eq!(h.label(), "");
    }

    #[test]
    fn isr_smaller_than_replicas_is_under_replicated_only_while_at_min_isr() {
        let h = classify(&part("t", 0, 1, &[1, 2, 3], &[1, 2]), &live(&[1, 2, 3]));
        assert_eq!(h.label(), "under-replicated");
        let h = classify(&part("t", 0, 1, &[1, 2, 3], &[1]), &live(&[1, 2, 3]));
        assert_eq!(h.label(), "under-min-isr,under-replicated");
    }

    #[test]
    fn no_leader_is_offline_and_under_min_isr() {
        let h = classify(&part("t", 0, -1, &[1, 2, 3], &[3]), &live(&[1, 2]));
        assert_eq!(h.label(), "offline,under-min-isr,under-replicated");
        // A leader that is not a live broker (fenced, gone from Metadata) is offline too.
        let h = classify(&part("t", 0, 3, &[1, 2, 3], &[1, 2, 3]), &live(&[1, 2]));
        assert_eq!(h.label(), "offline");
    }

    #[test]
    fn replicas_being_added_do_not_count_as_missing() {
        let mut p = part("t", 0, 1, &[1, 2, 3, 4], &[1, 2, 3]);
        p.adding = vec![4];
        assert!(classify(&p, &live(&[1, 2, 3, 4])).is_healthy());
    }

    #[test]
    fn unknown_min_isr_only_flags_missing_leaders() {
        let mut p = part("t", 0, 1, &[1], &[1]);
        p.min_isr = None;
        assert!(classify(&p, &live(&[1])).is_healthy());
        p.min_isr = Some(2);
        assert_eq!(classify(&p, &live(&[1])).label(), "under-min-isr");
    }

    fn three_brokers() -> ClusterView {
        let broker = |id: i32, port: i32, rack: Option<&str>, fenced: bool| BrokerInfo {
            id,
            host: "10.0.0.1".to_string(),
            port,
            rack: rack.map(str::to_string),
            fenced,
        };
        let l = live(&[1, 2]);
        let problems = [
            part("orders", 0, -1, &[3, 1, 2], &[3]),
            part("orders", 2, 1, &[1, 2, 3], &[1, 2]),
        ]
        .into_iter()
        .map(|p| {
            let h = classify(&p, &l);
            (p, h)
        })
        .collect();
        ClusterView {
            cluster_id: Some("q1Sh-9_ISia_zwGINzRvyQ".to_string()),
            controller: 2,
            brokers: vec![
                broker(1, 9092, Some("a"), false),
                broker(2, 9093, Some("b"), false),
                broker(3, 9094, None, true),
            ],
            partition_count: 53,
            problems,
        }
    }

    #[test]
    fn table_lists_brokers_then_partitions_needing_attention() {
        assert_eq!(
            render_table(&three_brokers()),
            "cluster id: q1Sh-9_ISia_zwGINzRvyQ\n\
             controller: 2\n\
             partitions: 53\n\
             under-replicated partitions: 2\n\
             under-min-isr partitions: 1\n\
             offline partitions: 1\n\
             \n\
             BROKER  HOST:PORT      RACK  STATUS\n\
             1       10.0.0.1:9092  a     active\n\
             2       10.0.0.1:9093  b     active\n\
             3       10.0.0.1:9094  -     fenced\n\
             \n\
             TOPIC   PARTITION  LEADER  REPLICAS  ISR  MIN-ISR  STATUS\n\
             orders  0          none    3,1,2     3    2        offline,under-min-isr,under-replicated\n\
             orders  2          1       1,2,3     1,2  2        under-replicated\n"
        );
    }

    #[test]
    fn json_lists_each_problem_separately() {
        assert_eq!(
            render_json(&three_brokers()),
            "{\"cluster_id\":\"q1Sh-9_ISia_zwGINzRvyQ\",\"controller\":2,\"brokers\":[\
             {\"id\":1,\"host\":\"10.0.0.1\",\"port\":9092,\"rack\":\"a\",\"fenced\":false},\
             {\"id\":2,\"host\":\"10.0.0.1\",\"port\":9093,\"rack\":\"b\",\"fenced\":false},\
             {\"id\":3,\"host\":\"10.0.0.1\",\"port\":9094,\"rack\":null,\"fenced\":true}],\
             \"partitions\":53,\
             \"under_replicated\":[\
             {\"topic\":\"orders\",\"partition\":0,\"leader\":-1,\"replicas\":[3,1,2],\"isr\":[3],\"min_isr\":2},\
             {\"topic\":\"orders\",\"partition\":2,\"leader\":1,\"replicas\":[1,2,3],\"isr\":[1,2],\"min_isr\":2}],\
             \"under_min_isr\":[\
             {\"topic\":\"orders\",\"partition\":0,\"leader\":-1,\"replicas\":[3,1,2],\"isr\":[3],\"min_isr\":2}],\
             \"offline\":[\
             {\"topic\":\"orders\",\"partition\":0,\"leader\":-1,\"replicas\":[3,1,2],\"isr\":[3],\"min_isr\":2}]}\n"
        );
    }
}
