//! DescribeGroups, ListGroups and DeleteGroups (Kafka's GroupMetadataManager.describeGroups /
//! listGroups and GroupCoordinatorShard.deleteGroups) for classic groups.

use super::errors::*;
use super::records::RecordKey;
use super::state::GroupState;
use super::types::{DescribedGroup, DescribedMember, ListedGroup, Outcome, Response};
use super::GroupCoordinator;

/// The only group type this coordinator has (KIP-848's ListGroups types filter).
const CLASSIC_GROUP_TYPE: &str = "classic";

impl GroupCoordinator {
    pub(super) fn describe(&self, group_ids: Vec<String>) -> Response {
        let groups = group_ids
            .into_iter()
            .map(|id| self.describe_one(id))
            .collect();
        Response::Describe { groups }
    }

    fn describe_one(&self, group_id: String) -> DescribedGroup {
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
        let type_ok = types.is_empty()
            || types
                .iter()
                .any(|t| t.trim().eq_ignore_ascii_case(CLASSIC_GROUP_TYPE));
        let groups = self
            .groups
            .values()
            .filter(|_| type_ok)
            .filter(|g| states.is_empty() || states.contains(&g.state().name().to_lowercase()))
            .map(|g| ListedGroup {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state().name().to_string(),
            })
            .collect();
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
        let key = RecordKey::GroupMetadata {
            group: group_id.to_string(),
        };
        self.emit_and_apply(out, now_ms, key, None);
    }
}
