//! What the cluster's nodes say: raw Metadata v12 from each node's real listener, folded into
//! [`View`]s, and the wait helpers that poll every reachable node until all agree (bounded
//! deadlines, 100 ms apart; a node exiting unexpectedly fails the wait at once).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};

use super::clients::{call, topic_name};
use super::{code, Cluster, FORM_TIMEOUT, POLL, WAIT};

/// One partition as a node's Metadata shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub error_code: i16,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
}

/// One node's Metadata answer.
#[derive(Clone, Debug)]
pub struct View {
    /// The node that answered.
    pub from: i32,
    pub controller_id: i32,
    pub cluster_id: Option<String>,
    /// (node id, "host:port"), sorted by id.
    pub brokers: Vec<(i32, String)>,
    /// topic -> (error code, partitions sorted by index).
    pub topics: HashMap<String, (i16, Vec<PartitionState>)>,
}

impl View {
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().map(|b| b.0).collect()
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<&PartitionState> {
        self.topics.get(topic)?.1.get(usize::try_from(p).ok()?)
    }
}

impl Cluster {
    /// Node `id`'s Metadata (v12), asked on its real listener; `topics` None = all topics.
    pub fn view_from(&self, id: i32, topics: Option<&[&str]>) -> Result<View, String> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let r: MetadataResponse = call(&self.direct_addr(id), 12, &req, Duration::from_secs(5))
            .map_err(|e| format!("node {id}: Metadata: {e}"))?;
        let mut brokers: Vec<(i32, String)> = r
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        brokers.sort();
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let mut parts: Vec<(i32, PartitionState)> = t
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            PartitionState {
                                error_code: p.error_code,
                                leader: p.leader_id.0,
                                leader_epoch: p.leader_epoch,
                                replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                                isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                                offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                            },
                        )
                    })
                    .collect();
                parts.sort_by_key(|p| p.0);
                let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                (
                    name,
                    (t.error_code, parts.into_iter().map(|p| p.1).collect()),
                )
            })
            .collect();
        Ok(View {
            from: id,
            controller_id: r.controller_id.0,
            cluster_id: r.cluster_id.map(|s| s.to_string()),
            brokers,
            topics,
        })
    }

    /// Metadata from every reachable node (an error if one does not answer).
    pub fn views(&self, topics: Option<&[&str]>) -> Result<Vec<View>, String> {
        let ids = self.reachable();
        if ids.is_empty() {
            return Err("no reachable node".into());
        }
        ids.into_iter().map(|i| self.view_from(i, topics)).collect()
    }

    /// Metadata from the first reachable node that answers.
    pub fn view(&self, topics: Option<&[&str]>) -> Result<View, String> {
        let mut last = "no reachable node".to_string();
        for i in self.reachable() {
            match self.view_from(i, topics) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<PartitionState> {
        self.view(Some(&[topic])).ok()?.partition(topic, p).cloned()
    }

    /// The partition's leader as a reachable node sees it (None: unknown or no leader).
    pub fn leader_of(&self, topic: &str, p: i32) -> Option<i32> {
        self.partition(topic, p)
            .map(|s| s.leader)
            .filter(|&l| l >= 0)
    }

    pub fn isr_of(&self, topic: &str, p: i32) -> Option<Vec<i32>> {
        self.partition(topic, p).map(|s| s.isr)
    }

    pub fn replicas_of(&self, topic: &str, p: i32) -> Option<Vec<i32>> {
        self.partition(topic, p).map(|s| s.replicas)
    }

    /// The active controller as a reachable node sees it.
    pub fn controller_id(&self) -> Option<i32> {
        self.view(Some(&[]))
            .ok()
            .map(|v| v.controller_id)
            .filter(|&c| c >= 0)
    }

    // ---- waits ----

    /// Poll `f` every 100 ms until it returns Ok, at most `timeout`; panics with `what` and
    /// `f`'s last error, or at once if a node exits unexpectedly.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Cluster) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Err(e) = self.check_alive() {
                panic!("while waiting for {what}: {e}");
            }
            let last = match f(self) {
                Ok(v) => return v,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
            }
            std::thread::sleep(POLL);
        }
    }

    pub(super) fn wait_formed(&self) -> Result<(), String> {
        let want = self.broker_ids();
        let deadline = Instant::now() + FORM_TIMEOUT;
        loop {
            self.check_alive()?;
            let last = match self.views(Some(&[])) {
                Ok(vs) => match vs.iter().find(|v| v.broker_ids() != want) {
                    None if vs.iter().all(|v| v.controller_id > 0) => return Ok(()),
                    None => "no controller yet".to_string(),
                    Some(v) => format!("node {} lists brokers {:?}", v.from, v.broker_ids()),
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("not formed within {FORM_TIMEOUT:?}: {last}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Wait until every reachable node lists exactly the brokers `ids`.
    pub fn wait_for_brokers(&self, ids: &[i32]) -> View {
        let mut want = ids.to_vec();
        want.sort();
        self.wait_for(&format!("brokers {want:?}"), WAIT, |c| {
            let vs = c.views(Some(&[]))?;
            match vs.iter().find(|v| v.broker_ids() != want) {
                None => Ok(vs.into_iter().next().unwrap()),
                Some(v) => Err(format!("node {} lists {:?}", v.from, v.broker_ids())),
            }
        })
    }

    /// Wait until every reachable node names the same active controller satisfying `ok`.
    pub fn wait_for_controller(&self, ok: impl Fn(i32) -> bool) -> i32 {
        self.wait_for("an agreed active controller", WAIT, |c| {
            let vs = c.views(Some(&[]))?;
            let ids: BTreeSet<i32> = vs.iter().map(|v| v.controller_id).collect();
            match ids.iter().next() {
                Some(&id) if ids.len() == 1 && id > 0 && ok(id) => Ok(id),
                _ => Err(format!("controller ids {ids:?}")),
            }
        })
    }

    /// Wait until every reachable node shows the same state of `topic`-`p` satisfying `ok`.
    pub fn wait_partition(
        &self,
        what: &str,
        topic: &str,
        p: i32,
        timeout: Duration,
        ok: impl Fn(&PartitionState) -> bool,
    ) -> PartitionState {
        self.wait_for(&format!("{topic}-{p}: {what}"), timeout, |c| {
            let vs = c.views(Some(&[topic]))?;
            let states: Vec<(i32, Option<&PartitionState>)> =
                vs.iter().map(|v| (v.from, v.partition(topic, p))).collect();
            let first = states[0].1;
            if states.iter().all(|s| s.1 == first) {
                if let Some(s) = first.filter(|s| ok(s)) {
                    return Ok(s.clone());
                }
            }
            Err(format!("views {states:?}"))
        })
    }

    /// Wait until the reachable nodes agree on a reachable leader of `topic`-`p`.
    pub fn wait_for_leader(&self, topic: &str, p: i32) -> i32 {
        let live = self.reachable();
        self.wait_partition("a reachable leader", topic, p, WAIT, |s| {
            live.contains(&s.leader)
        })
        .leader
    }

    /// Wait until the reachable nodes agree on a reachable leader other than `old`.
    pub fn wait_for_leader_change(&self, topic: &str, p: i32, old: i32) -> i32 {
        let live = self.reachable();
        self.wait_partition(&format!("a leader other than {old}"), topic, p, WAIT, |s| {
            s.leader != old && live.contains(&s.leader)
        })
        .leader
    }

    /// Wait until the reachable nodes agree that the ISR of `topic`-`p` is the set `isr`.
    pub fn wait_isr(&self, topic: &str, p: i32, isr: &[i32]) -> PartitionState {
        self.wait_isr_within(topic, p, isr, WAIT)
    }

    /// `wait_isr` with its own deadline.
    pub fn wait_isr_within(
        &self,
        topic: &str,
        p: i32,
        isr: &[i32],
        timeout: Duration,
    ) -> PartitionState {
        let want: BTreeSet<i32> = isr.iter().copied().collect();
        self.wait_partition(&format!("isr {want:?}"), topic, p, timeout, |s| {
            s.isr.iter().copied().collect::<BTreeSet<_>>() == want && s.leader >= 0
        })
    }

    /// Wait until every partition of `topic` has a reachable leader and a full ISR
    /// (= its replicas) on every reachable node.
    pub fn wait_healthy(&self, topic: &str) -> Vec<PartitionState> {
        let live = self.reachable();
        self.wait_for(&format!("{topic} fully replicated"), WAIT, |c| {
            let vs = c.views(Some(&[topic]))?;
            let first = vs[0].topics.get(topic).cloned();
            for v in &vs {
                let t = v.topics.get(topic);
                let ok = t.is_some_and(|(e, ps)| {
                    *e == code::NONE
                        && !ps.is_empty()
                        && ps.iter().all(|s| {
                            live.contains(&s.leader)
                                && sorted(&s.isr) == sorted(&s.replicas)
                                && s.offline.is_empty()
                        })
                });
                if !ok || t != first.as_ref() {
                    return Err(format!("node {}: {:?}", v.from, t));
                }
            }
            Ok(first.map(|t| t.1).unwrap_or_default())
        })
    }
}

fn sorted(v: &[i32]) -> Vec<i32> {
    let mut v = v.to_vec();
    v.sort();
    v
}
