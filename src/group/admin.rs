//! DescribeGroups, ListGroups and DeleteGroups (Kafka's GroupMetadataManager.describeGroups /
//! listGroups and GroupCoordinatorShard.deleteGroups) for classic groups. DescribeGroups of a
//! consumer or share group answers GROUP_ID_NOT_FOUND (it is not a classic group).

use super::errors::*;
use super::records::RecordKey;
use super::state::GroupState;
use super::types::{DescribedGroup, DescribedMember, ListedGroup, Outcome, Response};
use super::GroupCoordinator;

/// The group types of ListGroups' types filter (KIP-848).
const CLASSIC_GROUP_TYPE: &str = "classic";
const CONSUMER_GROUP_TYPE: &str = "consumer";

impl GroupCoordinator {
    pub(super) fn describe(&self, group_ids: Vec<String>) -> Response {
        let groups = group_ids
            .into_iter()
            .map(|id| self.describe_one(id))
            .collect();
        Response::Describe { groups }
    }

    fn describe_one(&self, group_id: String) -> DescribedGroup {
        if self.consumer.contains_key(&group_id) || self.share.contains_key(&group_id) {
            // Kafka's classicGroup(): a consumer or share group is "not a classic group",
            // GROUP_ID_NOT_FOUND. The API answers that from v6 (KIP-1043) and Dead without an
            // error before, as Kafka does.
            return DescribedGroup {
                group_id,
                error: GROUP_ID_NOT_FOUND,
                state: GroupState::Dead.name().to_string(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        }
        let Some(group) = self.groups.get(&group_id) else {
            // Kafka answers an unknown group as Dead, without an error.
            return DescribedGroup {
                group_id,
                error: NONE,
                state: GroupState::Dead.name().to_string(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        };
        // Member metadata and the protocol are only shown once the group is Stable.
        let protocol = group
            .protocol_name
            .clone()
            .filter(|_| group.is(GroupState::Stable));
        let members = group
            .members()
            .map(|m| DescribedMember {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: protocol
                    .as_deref()
                    .map(|p| m.metadata(p))
                    .unwrap_or_default(),
                assignment: m.assignment.clone(),
            })
            .collect();
        DescribedGroup {
            group_id,
            error: NONE,
            state: group.state().name().to_string(),
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            protocol: protocol.unwrap_or_default(),
            members,
        }
    }

    pub(super) fn list(&self, states: &[String], types: &[String]) -> Response {
        let states: Vec<String> = states.iter().map(|s| s.trim().to_lowercase()).collect();
        let type_ok =
            |ty: &str| types.is_empty() || types.iter().any(|t| t.trim().eq_ignore_ascii_case(ty));
        let state_ok = |s: &str| states.is_empty() || states.contains(&s.to_lowercase());
        let classic = self
            .groups
            .values()
            .filter(|_| type_ok(CLASSIC_GROUP_TYPE))
            .filter(|g| state_ok(g.state().name()))
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                group_type: CLASSIC_GROUP_TYPE.to_string(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state().name().to_string(),
            });
        let consumer = self
            .consumer
            .values()
            .filter(|_| type_ok(CONSUMER_GROUP_TYPE))
            .filter(|g| state_ok(g.state().name()))
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                group_type: CONSUMER_GROUP_TYPE.to_string(),
                protocol_type: CONSUMER_GROUP_TYPE.to_string(),
                state: g.state().name().to_string(),
            });
        let share = self
            .share
            .values()
            .filter(|_| type_ok(super::share::SHARE_GROUP_TYPE))
            .filter(|g| state_ok(g.state()))
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                group_type: super::share::SHARE_GROUP_TYPE.to_string(),
                protocol_type: super::share::SHARE_GROUP_TYPE.to_string(),
                state: g.state().to_string(),
            });
        let mut groups: Vec<ListedGroup> = classic.chain(consumer).chain(share).collect();
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Response::List {
            error: NONE,
            groups,
        }
    }

    /// Deletes Empty groups: a tombstone for every offset, then for the group.
    pub(super) fn delete(
        &mut self,
        now_ms: i64,
        group_ids: Vec<String>,
        out: &mut Outcome,
    ) -> Response {
        let mut results = Vec::with_capacity(group_ids.len());
        for group_id in group_ids {
            if self.share.contains_key(&group_id) {
                let error = self.delete_share_group(&group_id, out);
                results.push((group_id, error));
                continue;
            }
            if let Some(g) = self.consumer.get(&group_id) {
                let error = if g.members.is_empty() {
                    self.delete_offsets(now_ms, &group_id, out);
                    self.delete_consumer_group_records(out, now_ms, &group_id);
                    NONE
                } else {
                    NON_EMPTY_GROUP
                };
                results.push((group_id, error));
                continue;
            }
            let error = match self.groups.get(&group_id).map(|g| g.state()) {
                None | Some(GroupState::Dead) => GROUP_ID_NOT_FOUND,
                Some(GroupState::Empty) => NONE,
                Some(_) => NON_EMPTY_GROUP,
            };
            if error == NONE {
                self.delete_empty_group(now_ms, &group_id, out);
            }
            results.push((group_id, error));
        }
        Response::Delete { results }
    }

    fn delete_empty_group(&mut self, now_ms: i64, group_id: &str, out: &mut Outcome) {
        self.delete_offsets(now_ms, group_id, out);
        let key = RecordKey::GroupMetadata {
            group: group_id.to_string(),
        };
        self.emit_and_apply(out, now_ms, key, None);
    }

    /// A tombstone for every committed offset of the group.
    pub(super) fn delete_offsets(&mut self, now_ms: i64, group_id: &str, out: &mut Outcome) {
        let partitions: Vec<(String, i32)> = self
            .offsets
            .group(group_id)
            .into_iter()
            .flatten()
            .flat_map(|(topic, partitions)| partitions.keys().map(move |&p| (topic.clone(), p)))
            .collect();
        for (topic, partition) in partitions {
            let key = RecordKey::OffsetCommit {
                group: group_id.to_string(),
                topic,
                partition,
            };
            self.emit_and_apply(out, now_ms, key, None);
        }
    }
}
