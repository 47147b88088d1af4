//! Which groups a request concerns, so that the runtime answers requests for groups whose
//! `__consumer_offsets` partition this broker does not coordinate right now (Kafka's
//! NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while it is being loaded) before they
//! reach the state machine. A request naming several groups (OffsetFetch v8+,
//! DescribeGroups, DeleteGroups) is split: the coordinated groups are handled, the others
//! get their error, and the answers are put back in request order ([`merge`]).

use std::collections::VecDeque;

use super::errors::error_response;
use super::types::{ErrorCode, OffsetFetchGroupResult, Request, Response};

/// The groups a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    /// One group (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit,
    /// TxnOffsetCommit, OffsetDelete).
    One(&'a str),
    /// Each group separately, in request order.
    Many(Vec<&'a str>),
    /// Every coordinated group (ListGroups).
    All,
}

pub fn scope(request: &Request) -> Scope<'_> {
    match request {
        Request::Join(r) => Scope::One(&r.group_id),
        Request::Sync(r) => Scope::One(&r.group_id),
        Request::Heartbeat(r) => Scope::One(&r.group_id),
        Request::Leave(r) => Scope::One(&r.group_id),
        Request::OffsetCommit(r) => Scope::One(&r.group_id),
        Request::TxnOffsetCommit(r) => Scope::One(&r.group_id),
        Request::OffsetDelete { group_id, .. } => Scope::One(group_id),
        Request::OffsetFetch(r) => {
            Scope::Many(r.groups.iter().map(|g| g.group_id.as_str()).collect())
        }
        Request::Describe { groups }
        | Request::Delete { groups }
        | Request::ConsumerDescribe { groups, .. }
        | Request::ShareDescribe { groups, .. } => {
            Scope::Many(groups.iter().map(String::as_str).collect())
        }
        Request::ConsumerHeartbeat(r) => Scope::One(&r.group_id),
        Request::ShareHeartbeat(r) => Scope::One(&r.group_id),
        Request::List { .. } => Scope::All,
    }
}

/// What the runtime does with a request after checking its groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Every group is coordinated here: handle the request as it is.
    Pass(Request),
    /// Answer at once.
    Reject(Response),
    /// Handle `request` (the coordinated groups only), then [`merge`] its answer with
    /// `errors` (every group of the original request, in order; None = handled).
    Partial {
        request: Request,
        errors: Vec<(String, Option<ErrorCode>)>,
    },
}

/// Check each group of `request` with `check` (None = coordinated here, else the error).
pub fn gate(request: Request, check: impl Fn(&str) -> Option<ErrorCode>) -> Gate {
    let errors: Vec<(String, Option<ErrorCode>)> = match scope(&request) {
        Scope::All => return Gate::Pass(request),
        Scope::One(group) => {
            return match check(group) {
                None => Gate::Pass(request),
                Some(code) => Gate::Reject(error_response(&request, code)),
            }
        }
        Scope::Many(groups) => groups
            .into_iter()
            .map(|g| (g.to_string(), check(g)))
            .collect(),
    };
    if errors.iter().all(|(_, e)| e.is_none()) {
        return Gate::Pass(request);
    }
    let handled = |g: &String| errors.iter().any(|(h, e)| h == g && e.is_none());
    let request = match request {
        Request::OffsetFetch(mut r) => {
            r.groups.retain(|g| handled(&g.group_id));
            Request::OffsetFetch(r)
        }
        Request::Describe { mut groups } => {
            groups.retain(|g| handled(g));
            Request::Describe { groups }
        }
        Request::Delete { mut groups } => {
            groups.retain(|g| handled(g));
            Request::Delete { groups }
        }
        Request::ConsumerDescribe { mut groups, topics } => {
            groups.retain(|g| handled(g));
            Request::ConsumerDescribe { groups, topics }
        }
        Request::ShareDescribe { mut groups, topics } => {
            groups.retain(|g| handled(g));
            Request::ShareDescribe { groups, topics }
        }
        other => return Gate::Pass(other),
    };
    if errors.iter().all(|(_, e)| e.is_some()) {
        return Gate::Reject(merge(&request, None, &errors));
    }
    Gate::Partial { request, errors }
}

/// The answer to the original request of a [`Gate::Partial`]: the entries of `handled` (the
/// answer to the split `request`, None if it handled no group) for the groups that passed,
/// error entries for the others, in the original order.
pub fn merge(
    request: &Request,
    handled: Option<Response>,
    errors: &[(String, Option<ErrorCode>)],
) -> Response {
    fn fill<T>(
        errors: &[(String, Option<ErrorCode>)],
        handled: Vec<T>,
        error_entry: impl Fn(&str, ErrorCode) -> Option<T>,
    ) -> Vec<T> {
        let mut handled = VecDeque::from(handled);
        errors
            .iter()
            .filter_map(|(g, e)| match e {
                None => handled.pop_front(),
                Some(code) => error_entry(g, *code),
            })
            .collect()
    }
    match (request, handled) {
        (Request::OffsetFetch(_), h) => {
            let groups = match h {
                Some(Response::OffsetFetch { groups }) => groups,
                _ => Vec::new(),
            };
            let groups = fill(errors, groups, |g, error| {
                Some(OffsetFetchGroupResult {
                    group_id: g.to_string(),
                    error,
                    offsets: Vec::new(),
                })
            });
            Response::OffsetFetch { groups }
        }
        (Request::Describe { .. }, h) => {
            let groups = match h {
                Some(Response::Describe { groups }) => groups,
                _ => Vec::new(),
            };
            let groups = fill(errors, groups, |g, code| {
                match error_response(
                    &Request::Describe {
                        groups: vec![g.into()],
                    },
                    code,
                ) {
                    Response::Describe { groups } => groups.into_iter().next(),
                    _ => None,
                }
            });
            Response::Describe { groups }
        }
        (Request::ConsumerDescribe { topics, .. }, h) => {
            let groups = match h {
                Some(Response::ConsumerDescribe { groups }) => groups,
                _ => Vec::new(),
            };
            let groups = fill(errors, groups, |g, code| {
                match error_response(
                    &Request::ConsumerDescribe {
                        groups: vec![g.into()],
                        topics: topics.clone(),
                    },
                    code,
                ) {
                    Response::ConsumerDescribe { groups } => groups.into_iter().next(),
                    _ => None,
                }
            });
            Response::ConsumerDescribe { groups }
        }
        (Request::ShareDescribe { .. }, h) => {
            let groups = match h {
                Some(Response::ShareDescribe { groups }) => groups,
                _ => Vec::new(),
            };
            let groups = fill(errors, groups, |g, code| {
                Some(crate::group::types::ShareDescribedGroup::error(g, code))
            });
            Response::ShareDescribe { groups }
        }
        (Request::Delete { .. }, h) => {
            let results = match h {
                Some(Response::Delete { results }) => results,
                _ => Vec::new(),
            };
            let results = fill(errors, results, |g, code| Some((g.to_string(), code)));
            Response::Delete { results }
        }
        (_, Some(h)) => h,
        (other, None) => error_response(other, super::errors::UNKNOWN_SERVER_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::errors::{COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR};
    use crate::group::types::{DescribedGroup, Heartbeat, OffsetFetch, OffsetFetchGroup};

    fn check(g: &str) -> Option<ErrorCode> {
        match g {
            "loading" => Some(COORDINATOR_LOAD_IN_PROGRESS),
            "elsewhere" => Some(NOT_COORDINATOR),
            _ => None,
        }
    }

    fn fetch(groups: &[&str]) -> Request {
        Request::OffsetFetch(OffsetFetch {
            groups: groups
                .iter()
                .map(|g| OffsetFetchGroup {
                    group_id: g.to_string(),
                    member: None,
                    topics: None,
                })
                .collect(),
            require_stable: false,
        })
    }

    fn described(g: &str) -> DescribedGroup {
        DescribedGroup {
            group_id: g.into(),
            error: 0,
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: Vec::new(),
        }
    }

    #[test]
    fn one_group_passes_or_is_refused_with_its_error() {
        let hb = |g: &str| {
            Request::Heartbeat(Heartbeat {
                group_id: g.into(),
                generation_id: 1,
                member_id: "m".into(),
                group_instance_id: None,
            })
        };
        assert_eq!(gate(hb("here"), check), Gate::Pass(hb("here")));
        assert_eq!(
            gate(hb("elsewhere"), check),
            Gate::Reject(Response::Heartbeat { error: 16 })
        );
        assert_eq!(
            gate(hb("loading"), check),
            Gate::Reject(Response::Heartbeat { error: 14 })
        );
        let list = Request::List {
            states: vec![],
            types: vec![],
        };
        assert_eq!(gate(list.clone(), check), Gate::Pass(list));
    }

    #[test]
    fn several_groups_are_split_and_answers_merged_in_request_order() {
        let Gate::Partial { request, errors } =
            gate(fetch(&["a", "elsewhere", "b", "loading"]), check)
        else {
            panic!("expected a partial gate");
        };
        assert_eq!(request, fetch(&["a", "b"]));
        let handled = Response::OffsetFetch {
            groups: ["a", "b"]
                .iter()
                .map(|g| OffsetFetchGroupResult {
                    group_id: g.to_string(),
                    error: 0,
                    offsets: Vec::new(),
                })
                .collect(),
        };
        let Response::OffsetFetch { groups } = merge(&request, Some(handled), &errors) else {
            panic!("not an OffsetFetch answer");
        };
        let got: Vec<(&str, ErrorCode)> = groups
            .iter()
            .map(|g| (g.group_id.as_str(), g.error))
            .collect();
        assert_eq!(
            got,
            vec![("a", 0), ("elsewhere", 16), ("b", 0), ("loading", 14)]
        );
    }

    #[test]
    fn describe_and_delete_merge_error_entries() {
        let req = Request::Describe {
            groups: vec!["elsewhere".into(), "x".into()],
        };
        let Gate::Partial { request, errors } = gate(req, check) else {
            panic!("expected a partial gate");
        };
        let handled = Response::Describe {
            groups: vec![described("x")],
        };
        let Response::Describe { groups } = merge(&request, Some(handled), &errors) else {
            panic!("not a Describe answer");
        };
        assert_eq!(
            groups
                .iter()
                .map(|g| (g.group_id.as_str(), g.error, g.state.as_str()))
                .collect::<Vec<_>>(),
            vec![("elsewhere", 16, ""), ("x", 0, "Stable")]
        );
        // Every group refused: answered at once, nothing reaches the coordinator.
        let req = Request::Delete {
            groups: vec!["loading".into(), "elsewhere".into()],
        };
        assert_eq!(
            gate(req, check),
            Gate::Reject(Response::Delete {
                results: vec![("loading".into(), 14), ("elsewhere".into(), 16)]
            })
        );
        let req = Request::Delete {
            groups: vec!["x".into(), "y".into()],
        };
        assert_eq!(gate(req.clone(), check), Gate::Pass(req));
    }
}
