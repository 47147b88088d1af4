//! Which transactional ids a request concerns, so that the runtime answers requests for ids
//! whose `__transaction_state` partition this broker does not coordinate right now (Kafka's
//! NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while it is being loaded) before they
//! reach the state machine. DescribeTransactions names several ids: the coordinated ones
//! are handled, the others get their error, in request order ([`merge`]).

use std::collections::VecDeque;

use super::errors::error_response;
use super::types::{DescribedTxn, ErrorCode, Request, Response};

/// The transactional ids a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope<'a> {
    /// None: an idempotent producer's InitProducerId, which any broker answers.
    Free,
    One(&'a str),
    /// Each id separately, in request order (DescribeTransactions).
    Many(Vec<&'a str>),
    /// Every coordinated id (ListTransactions).
    All,
}

pub fn scope(request: &Request) -> Scope<'_> {
    match request {
        Request::InitProducerId {
            transactional_id: None,
            ..
        } => Scope::Free,
        Request::InitProducerId {
            transactional_id: Some(t),
            ..
        } => Scope::One(t),
        Request::AddPartitions {
            transactional_id, ..
        }
        | Request::AddOffsets {
            transactional_id, ..
        }
        | Request::EndTxn {
            transactional_id, ..
        } => Scope::One(transactional_id),
        Request::Describe { transactional_ids } => {
            Scope::Many(transactional_ids.iter().map(String::as_str).collect())
        }
        Request::List { .. } => Scope::All,
    }
}

/// What the runtime does with a request after checking its transactional ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Pass(Request),
    Reject(Response),
    /// Handle `request` (the coordinated ids only), then [`merge`] its answer with `errors`
    /// (every id of the original request, in order; None = handled).
    Partial {
        request: Request,
        errors: Vec<(String, Option<ErrorCode>)>,
    },
}

/// Check each transactional id of `request` with `check` (None = coordinated here).
pub fn gate(request: Request, check: impl Fn(&str) -> Option<ErrorCode>) -> Gate {
    let errors: Vec<(String, Option<ErrorCode>)> = match scope(&request) {
        Scope::Free | Scope::All => return Gate::Pass(request),
        Scope::One(tid) => {
            return match check(tid) {
                None => Gate::Pass(request),
                Some(code) => Gate::Reject(error_response(&request, code)),
            }
        }
        Scope::Many(tids) => tids
            .into_iter()
            .map(|t| (t.to_string(), check(t)))
            .collect(),
    };
    if errors.iter().all(|(_, e)| e.is_none()) {
        return Gate::Pass(request);
    }
    let handled: Vec<String> = errors
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(t, _)| t.clone())
        .collect();
    let request = Request::Describe {
        transactional_ids: handled,
    };
    if errors.iter().all(|(_, e)| e.is_some()) {
        return Gate::Reject(merge(None, &errors));
    }
    Gate::Partial { request, errors }
}

/// The DescribeTransactions answer to the original request of a [`Gate::Partial`]:
/// `handled`'s entries for the ids that passed, error entries for the others, in order.
pub fn merge(handled: Option<Response>, errors: &[(String, Option<ErrorCode>)]) -> Response {
    let mut done = match handled {
        Some(Response::Describe { transactions }) => VecDeque::from(transactions),
        _ => VecDeque::new(),
    };
    let transactions = errors
        .iter()
        .filter_map(|(tid, e)| match e {
            None => done.pop_front(),
            Some(code) => Some(DescribedTxn::error(tid, *code)),
        })
        .collect();
    Response::Describe { transactions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::errors::{COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR};

    fn check(t: &str) -> Option<ErrorCode> {
        match t {
            "loading" => Some(COORDINATOR_LOAD_IN_PROGRESS),
            "elsewhere" => Some(NOT_COORDINATOR),
            _ => None,
        }
    }

    fn init(tid: Option<&str>) -> Request {
        Request::InitProducerId {
            transactional_id: tid.map(str::to_string),
            transaction_timeout_ms: 1000,
            producer_id: -1,
            producer_epoch: -1,
            version: 4,
        }
    }

    #[test]
    fn transactional_requests_pass_only_where_their_id_is_coordinated() {
        assert_eq!(
            gate(init(Some("here")), check),
            Gate::Pass(init(Some("here")))
        );
        assert_eq!(
            gate(init(Some("elsewhere")), check),
            Gate::Reject(Response::InitProducerId {
                error: 16,
                producer_id: -1,
                producer_epoch: -1
            })
        );
        // An idempotent producer's id comes from any broker.
        assert_eq!(gate(init(None), check), Gate::Pass(init(None)));
        let add = Request::AddPartitions {
            transactional_id: "loading".into(),
            producer_id: 1,
            producer_epoch: 0,
            partitions: vec![("t".into(), 0), ("t".into(), 1)],
            verify_only: false,
            version: 3,
            tv2: false,
        };
        assert_eq!(
            gate(add, check),
            Gate::Reject(Response::AddPartitions {
                error: 14,
                partitions: vec![(("t".into(), 0), 14), (("t".into(), 1), 14)]
            })
        );
    }

    #[test]
    fn describe_is_split_and_merged_in_request_order() {
        let req = Request::Describe {
            transactional_ids: vec!["loading".into(), "a".into(), "elsewhere".into()],
        };
        let Gate::Partial { request, errors } = gate(req, check) else {
            panic!("expected a partial gate");
        };
        assert_eq!(
            request,
            Request::Describe {
                transactional_ids: vec!["a".into()]
            }
        );
        let mut a = DescribedTxn::error("a", 0);
        a.state = "Ongoing".into();
        let merged = merge(
            Some(Response::Describe {
                transactions: vec![a.clone()],
            }),
            &errors,
        );
        assert_eq!(
            merged,
            Response::Describe {
                transactions: vec![
                    DescribedTxn::error("loading", 14),
                    a,
                    DescribedTxn::error("elsewhere", 16)
                ]
            }
        );
        let req = Request::Describe {
            transactional_ids: vec!["elsewhere".into()],
        };
        assert_eq!(
            gate(req, check),
            Gate::Reject(Response::Describe {
                transactions: vec![DescribedTxn::error("elsewhere", 16)]
            })
        );
    }
}
