//! Coordinator partitions: the groups of one `__consumer_offsets` partition (those whose
//! id hashes to it, [`partition_for`]) move between brokers together, with the leadership of
//! that partition. Loading is replay (the runtime feeds the partition's records to
//! [`GroupCoordinator::replay`], then calls [`GroupCoordinator::partition_loaded`]);
//! unloading forgets the partition's groups and offsets, as Kafka's `onResignation`.

use super::context::{join_key, partition_for, session_key, sync_key};
use super::errors::NOT_COORDINATOR;
use super::types::{JoinResult, Outcome, Response, SyncResult, TimerOp};
use super::GroupCoordinator;

impl GroupCoordinator {
    /// Whether `group_id` is stored in `__consumer_offsets` partition `partition`.
    pub fn in_partition(&self, group_id: &str, partition: i32) -> bool {
        partition_for(group_id, self.config.offsets_topic_partitions) == partition
    }

    /// After the records of `partition` were replayed: its members must heartbeat within one
    /// session timeout, and its groups over group.max.size rebalance (as after a restart).
    pub fn partition_loaded(&mut self, now_ms: i64, partition: i32) -> Outcome {
        let n = self.config.offsets_topic_partitions;
        self.groups_loaded(now_ms, |g| partition_for(g, n) == partition)
    }

    /// This broker no longer coordinates `partition`: drop its groups, their committed and
    /// pending transactional offsets, and cancel their timers. Parked JoinGroup and
    /// SyncGroup requests are answered NOT_COORDINATOR (Kafka's `onGroupUnloaded`), so their
    /// members find the new coordinator. Nothing is written: the log keeps the groups for
    /// the next leader.
    pub fn unload_partition(&mut self, partition: i32) -> Outcome {
        let mut out = Outcome::default();
        let n = self.config.offsets_topic_partitions;
        let unloaded: Vec<String> = self
            .groups
            .keys()
            .filter(|g| partition_for(g, n) == partition)
            .cloned()
            .collect();
        for group_id in unloaded {
            let Some(group) = self.groups.remove(&group_id) else {
                continue;
            };
            for m in group.members() {
                if let Some(id) = m.awaiting_join {
                    let r = JoinResult::error(NOT_COORDINATOR, &m.member_id);
                    out.responses.push((id, Response::Join(r)));
                }
                if let Some(id) = m.awaiting_sync {
                    let r = SyncResult::error(NOT_COORDINATOR);
                    out.responses.push((id, Response::Sync(r)));
                }
            }
            let members = group.members().map(|m| m.member_id.as_str());
            let pending = group.pending_members.keys().map(String::as_str);
            for member_id in members.chain(pending) {
                let key = session_key(&group_id, member_id);
                out.timers.push(TimerOp::Cancel { key });
            }
            out.timers.push(TimerOp::Cancel {
                key: join_key(&group_id),
            });
            out.timers.push(TimerOp::Cancel {
                key: sync_key(&group_id),
            });
        }
        let consumer: Vec<String> = self
            .consumer
            .keys()
            .filter(|g| partition_for(g, n) == partition)
            .cloned()
            .collect();
        for group_id in consumer {
            if let Some(g) = self.consumer.remove(&group_id) {
                for member_id in g.members.keys() {
                    out.timers.push(TimerOp::Cancel {
                        key: crate::group::consumer::heartbeat_keys::session(&group_id, member_id),
                    });
                    out.timers.push(TimerOp::Cancel {
                        key: crate::group::consumer::heartbeat_keys::rebalance(
                            &group_id, member_id,
                        ),
                    });
                }
            }
        }
        self.unload_share_groups(partition, &mut out);
        self.offsets
            .retain_groups(|g| partition_for(g, n) != partition);
        out
    }
}
