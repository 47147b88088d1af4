//! KIP-951: a Produce (v10+) or Fetch (v16+) sent to a broker that no longer leads a partition
//! is answered with NOT_LEADER_OR_FOLLOWER (or FENCED_LEADER_EPOCH) *and* the leader and epoch
//! the metadata names now, plus the endpoints of those leaders, so that the client can move on
//! without a Metadata round trip. Kafka fills `CurrentLeader` for exactly these two errors and
//! lists an endpoint only for a leader that is alive (registered and not fenced).

use std::sync::Arc;

use crate::cluster::{Broker, BrokerInfo, ClusterView, Topic};

/// NOT_LEADER_OR_FOLLOWER
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// FENCED_LEADER_EPOCH
const FENCED_LEADER_EPOCH: i16 = 74;

/// Collects the leaders named in one response, for its `NodeEndpoints`.
pub struct LeaderHints {
    cluster: Arc<ClusterView>,
    named: Vec<i32>,
}

impl LeaderHints {
    pub fn new(broker: &Broker) -> LeaderHints {
        LeaderHints {
            cluster: broker.cluster(),
            named: Vec::new(),
        }
    }

    /// Whether a partition answered with `code` gets a leader hint.
    pub fn wanted(code: i16) -> bool {
        code == NOT_LEADER_OR_FOLLOWER || code == FENCED_LEADER_EPOCH
    }

    /// The (leader id, leader epoch) the metadata has for partition `index` of `topic`, for a
    /// partition answered with `code`; `None` when no hint is due (other errors, unknown
    /// partitions). A leader that is alive is remembered for [`LeaderHints::endpoints`].
    pub fn hint(&mut self, topic: Option<&Topic>, index: i32, code: i16) -> Option<(i32, i32)> {
        if !Self::wanted(code) {
            return None;
        }
        let meta = &topic?.slot(index)?.meta;
        let alive = self.cluster.broker(meta.leader).is_some_and(|b| !b.fenced);
        if alive && !self.named.contains(&meta.leader) {
            self.named.push(meta.leader);
        }
        Some((meta.leader, meta.leader_epoch))
    }

    /// The endpoints of every live leader named by [`LeaderHints::hint`], in id order.
    pub fn endpoints(&self) -> Vec<&BrokerInfo> {
        let mut out: Vec<&BrokerInfo> = self
            .named
            .iter()
            .filter_map(|id| self.cluster.broker(*id))
            .collect();
        out.sort_by_key(|b| b.id);
        out
    }
}
